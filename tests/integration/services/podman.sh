#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Container restarts through a real Docker-compatible Engine API: Podman's API service
# (`podman system service`) on a unix socket of the test's own. A container that serves HTTP
# on loopback (host network; the host's /usr bound read-only into an image imported from a
# local tarball, nothing pulled) is created but not started: the broker sees the service down,
# calls POST /containers/<name>/restart on the socket, verifies it up (service.recovered);
# killed, it is restarted again. Root only (Podman with runc here: crun refuses cgroup v1
# hybrid hosts; the ulimits are set because this machine's hard limits are below Podman's
# defaults).
set -uo pipefail
B=${AB_BUILD_DIR:?run through ctest}
. "${AB_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}/tests/lib/sh/lib.sh"
need_built "$B/broker/argobox-broker"
need_root "podman containers"
need_tools podman runc curl jq python3
[ -x /usr/bin/python3 ] || skip "/usr/bin/python3 (served from inside the container) is missing"
ab_tmpdir ab-svcpod
name=absvc-$$
image=localhost/absvc-base:$$
API_PID=
at_exit 'kill_wait "$API_PID"'
at_exit 'podman rmi -f "$image" >/dev/null 2>&1'
at_exit 'podman rm -f -t 0 "$name" >/dev/null 2>&1'
port=$(free_port)

# An image of symlinks only (bin, lib, lib64 -> usr/...); /usr comes from the host, read-only.
mkdir -p "$T/root/usr" "$T/root/tmp" && ln -s usr/bin "$T/root/bin" && ln -s usr/lib "$T/root/lib" &&
	ln -s usr/lib64 "$T/root/lib64" && tar -C "$T/root" -cf "$T/root.tar" . &&
	podman import -q "$T/root.tar" "$image" >/dev/null || { bad "podman import failed"; exit 1; }
out=$(podman create --name "$name" --runtime runc --network host --ulimit nofile=1024:1024 \
	--ulimit nproc=1024:1024 -v /usr:/usr:ro "$image" \
	/usr/bin/python3 -m http.server "$port" --bind 127.0.0.1 --directory /tmp 2>&1) ||
	skip "podman cannot create a container here: $out"
out=$(podman start "$name" 2>&1) || skip "podman cannot run containers on this machine: $out"
podman stop -t 0 "$name" >/dev/null 2>&1
ok "podman runs containers here (runc, host network)"

podman system service --time=0 "unix://$T/podman.sock" >"$T/api.log" 2>&1 &
API_PID=$!
wait_for 20 curl -sf --unix-socket "$T/podman.sock" http://d/v1.41/_ping ||
	{ bad "the Engine API did not come up: $(tail -3 "$T/api.log")"; exit 1; }
ok "Podman's Engine API answers on $T/podman.sock"

broker_config <<EOT
 "services": [
   {"name": "web", "url": "http://127.0.0.1:$port/",
    "check": {"interval_ms": 300, "timeout_ms": 1000, "failures": 2, "successes": 1},
    "restart": {"container": "$name", "socket": "$T/podman.sock", "timeout_ms": 20000,
                "max_attempts": 3, "backoff_ms": 500, "verify_ms": 15000}}]
EOT
start_broker "$T/broker.log"
A=$T/audit.log
ev() { grep "\"event\":\"$1\"" "$A" | grep '"service":"web"'; }
count_at_least() { [ "$(ev "$1" | wc -l)" -ge "$2" ]; }
running() { [ "$(podman inspect -f '{{.State.Running}}' "$name")" = true ]; }

wait_for 15 ev service.down && ok "the stopped container's service is down" || bad "no service.down"
wait_for 40 ev service.recovered && ok "restarted through the Engine API and verified up" ||
	bad "not recovered: $(ev service.restart | tail -2) $(tail -3 "$T/api.log")"
ev service.restart | grep -q 'HTTP 204' && ok "the Engine API answered 204" || bad "no 204: $(ev service.restart)"
running && ok "podman shows the container running" || bad "container state: $(podman inspect -f '{{.State.Status}}' "$name")"
curl -sf "http://127.0.0.1:$port/" >/dev/null && ok "the container's server answers" || bad "nothing on $port"

podman kill "$name" >/dev/null 2>&1
wait_for 15 count_at_least service.down 2 && ok "killed: down again" || bad "second down not seen"
wait_for 40 count_at_least service.recovered 2 && ok "restarted again" || bad "not recovered twice"

finish "services podman"
