#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs inside a test container as its first process (the desktop user, under the container's
# seccomp profile, capabilities and no_new_privs): executes one shell command per line written
# to /run/argobox/cmd and leaves its output and exit status in /run/argobox/out.
trap 'exit 0' TERM INT
mkfifo -m 600 /run/argobox/cmd || exit 1
echo READY >&3
exec 3>&-
while :; do
	IFS= read -r line </run/argobox/cmd || continue
	sh -c "$line" >/run/argobox/out.tmp 2>&1
	echo "rc=$?" >>/run/argobox/out.tmp
	mv /run/argobox/out.tmp /run/argobox/out
done
