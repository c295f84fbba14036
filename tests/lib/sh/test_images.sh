# SPDX-License-Identifier: GPL-2.0-or-later
# The desktop images tests run on (sourced by tests/integration/image/image.sh and
# tests/security/containers/escape.sh). One cache for every build dir of a source tree, so the
# ASan build's integration_container_image and the release build's
# security_container_escape_image share one demo image: content-addressed by the recipe's hash
# (containers/rootfs/image-build: <profile>/<hash>/, a flock per profile, an image moved into
# place by rename and put in service by renaming a symlink; an image of that hash already there
# is reused), so whichever test comes second finds it.
#
#   test_images_dir SOURCE_DIR   where: $AB_TEST_IMAGES, else SOURCE_DIR/.cache/test-images
#   test_image_extra             EXTRA_PACKAGES for a test image: python3 (the escape probes)
#                                and the packages of the C compiler's sanitizer runtimes (and
#                                what they link), which an ASan build's programs need and a
#                                release build's do not: both builds then hash to one image.
test_images_dir() { echo "${AB_TEST_IMAGES:-$1/.cache/test-images}"; }
test_image_extra() {
	local cc=${CC:-cc} libs=() l f
	for l in libasan.so libubsan.so; do
		f=$(readlink -f "$("$cc" -print-file-name=$l 2>/dev/null)" 2>/dev/null) || continue
		[ -f "$f" ] || continue
		libs+=("$f")
		mapfile -t -O "${#libs[@]}" libs < <(ldd "$f" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3}')
	done
	{
		echo python3
		for f in "${libs[@]}"; do
			dpkg -S "$f" "$(readlink -f "$f")" 2>/dev/null | cut -d: -f1 | tr -d ' ' | tr ',' '\n'
		done
	} | sort -u | paste -sd' '
}
