#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Builds a standalone Debian root filesystem for a desktop profile with mmdebstrap, as an
# alternative to the default read-only view of the host's /usr. The broker uses it through
# runtime_spec.image (ab-runtime-tool --image DIR): the image's /usr and its shared /etc
# entries (fonts, alternatives, ssl, X11, ld.so.cache, ...) replace the host's; /etc/passwd,
# group, hosts stay generated per user; home, /tmp and /run are mounted as usual.
#
#   containers/rootfs/build-rootfs.sh PROFILE OUTDIR [ARGOBOX_BUILD_DIR]
#     PROFILE  minimal | member | admin   (which packages; see below)
#     OUTDIR   created; must not exist
#   e.g. sudo containers/rootfs/build-rootfs.sh member /var/lib/argobox/images/member build
#
# Needs: mmdebstrap (apt-get install mmdebstrap), root (or a working unshare mode), network
# access to a Debian mirror (MIRROR, default http://deb.debian.org/debian), SUITE (bookworm).
# EXTRA_PACKAGES (comma-separated) adds packages, e.g. libasan8,libubsan1 for a sanitizer build.
set -euo pipefail
profile=${1:?usage: build-rootfs.sh PROFILE OUTDIR [BUILD_DIR]}
out=${2:?usage: build-rootfs.sh PROFILE OUTDIR [BUILD_DIR]}
build=${3:-}
suite=${SUITE:-bookworm}
mirror=${MIRROR:-http://deb.debian.org/debian}
command -v mmdebstrap >/dev/null || { echo "mmdebstrap is not installed (apt-get install mmdebstrap)" >&2; exit 1; }
[ ! -e "$out" ] || { echo "'$out' exists; refusing to overwrite" >&2; exit 1; }

# What the desktop needs at run time: the X server, the libraries argobox-session and
# argobox-wm link, fonts, a terminal; members and admins get a few more applications.
base=xvfb,xauth,x11-utils,x11-xserver-utils,fonts-dejavu-core,libvncserver1,libjansson4,libjpeg62-turbo,zlib1g,libxdamage1,libxfixes3,libxtst6,libxrandr2,libxext6,libcairo2,libpango-1.0-0,libpangocairo-1.0-0,xterm,ca-certificates,locales-all
case "$profile" in
minimal) pkgs=$base ;;
member) pkgs=$base,mousepad,pcmanfm,htop,python3,curl ;;
admin) pkgs=$base,mousepad,pcmanfm,htop,python3,curl,iproute2,iputils-ping,dnsutils,openssh-client ;;
*) echo "unknown profile '$profile' (minimal, member, admin)" >&2; exit 1 ;;
esac
[ -z "${EXTRA_PACKAGES:-}" ] || pkgs=$pkgs,$EXTRA_PACKAGES
# With a build directory: the packages whose shared libraries ArgoBox's binaries link (ldd on
# this host, which built them, and dpkg -S), so a new dependency of the session or the wm (or
# a sanitizer runtime) reaches the image without editing the list above.
libpkgs() {
	local bin lib
	for bin in "$@"; do
		[ -x "$bin" ] && ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// {print $3}'
	done | sort -u | while read -r lib; do
		dpkg -S "$lib" 2>/dev/null || dpkg -S "$(readlink -f "$lib")" 2>/dev/null || true
	done | cut -d: -f1 | sort -u | paste -sd, -
}
if [ -n "$build" ]; then
	linked=$(libpkgs "$build/session/argobox-session" "$build/wm/argobox-wm")
	[ -z "$linked" ] || pkgs=$pkgs,$linked
fi

mkdir -p "$(dirname "$out")"
tmp=$out.tmp.$$
trap 'rm -rf "$tmp"' EXIT
# --variant=apt: essential packages + apt, nothing recommended; no init system, no daemons.
mmdebstrap --variant=apt --include="$pkgs" --dpkgopt='path-exclude=/usr/share/doc/*' \
	--dpkgopt='path-exclude=/usr/share/man/*' --aptopt='APT::Install-Recommends "false"' \
	"$suite" "$tmp" "$mirror"

# ArgoBox's own binaries, when a build directory is given.
if [ -n "$build" ]; then
	install -D -m 0755 "$build/session/argobox-session" "$tmp/usr/bin/argobox-session"
	[ -x "$build/wm/argobox-wm" ] && install -D -m 0755 "$build/wm/argobox-wm" "$tmp/usr/bin/argobox-wm"
fi
# No setuid/setgid bits anywhere: nothing in a desktop needs them, and no_new_privs + nosuid
# would neutralise them anyway.
find "$tmp" -xdev -perm /6000 -type f -exec chmod ug-s {} +
# The image is read-only at run time and owned by the host's root.
chown -R 0:0 "$tmp"
chmod 0755 "$tmp"
mv "$tmp" "$out"
trap - EXIT
echo "image for profile '$profile' in $out ($(du -sh "$out" | cut -f1))"
