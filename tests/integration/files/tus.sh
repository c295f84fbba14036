# SPDX-License-Identifier: GPL-2.0-or-later
# tus helpers of the SMB files tests (sourced after tests/lib/sh/lib.sh): bea's requests, with
# the test's $URL, $T/bea.jar and $csrf.

# tus METHOD PATH [CURL-ARGS...]: headers to $T/hdr, body to $T/resp, prints the status.
tus() {
	local m=$1 p=$2
	shift 2
	curl -s -o "$T/resp" -D "$T/hdr" -w '%{http_code}' -m 30 -b "$T/bea.jar" -H "Origin: $URL" \
		-H "X-CSRF-Token: $csrf" -H 'Tus-Resumable: 1.0.0' -X "$m" "$@" "$URL$p"
}

# tus_create NAME LENGTH: a new upload of NAME into Uploads; sets TUS_ST (the status) and
# TUS_LOC (its Location).
tus_create() {
	TUS_ST=$(tus POST /api/uploads -H "Upload-Length: $2" \
		-H "Upload-Metadata: filename $(printf %s "$1" | base64),destination $(printf Uploads | base64)")
	TUS_LOC=$(grep -i '^location:' "$T/hdr" | tr -d '\r' | awk '{print $2}')
}

# tus_patch_bg OUT RATE FILE LOC: FILE PATCHed at offset 0 at RATE (curl's --limit-rate) in the
# background: the body to $T/OUT, the status to $T/OUT.st; sets TUS_PID.
tus_patch_bg() {
	curl -s -o "$T/$1" -w '%{http_code}' -m 30 -b "$T/bea.jar" -H "Origin: $URL" \
		-H "X-CSRF-Token: $csrf" -H 'Tus-Resumable: 1.0.0' -X PATCH -H 'Upload-Offset: 0' \
		-H 'Expect:' -H 'Content-Type: application/offset+octet-stream' --limit-rate "$2" \
		--data-binary @"$3" "$URL$4" >"$T/$1.st" &
	TUS_PID=$!
}
