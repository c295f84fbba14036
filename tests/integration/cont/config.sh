#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The broker's settings are validated up front (--check-config): session.launcher, the runtime
# and netpol subtrees, the VNC gateway (vnc_gateway.*); every error names the JSON path. No root
# needed.
set -uo pipefail
B=${AB_BUILD_DIR:?run through ctest}
. "${AB_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}/tests/lib/sh/lib.sh"
need_built "$B/broker/argobox-broker"
ab_tmpdir ab-contcfg
check() { check_config "$@"; } # check NAME JSON EXPECTED-SUBSTRING (empty: must be accepted)
check "defaults" '{}' ""
check "every setting" '{"session": {"launcher": "process"}, "storage": {"home_base": "/srv/h"},
  "runtime": {"runtime": "crun", "bundle_root": "/b", "id_prefix": "x-", "ready_timeout_ms": 5000,
              "host_id_base": 200000, "cgroup_parent": "ab", "poll_interval_ms": 500},
  "netpol": {"pool": "10.99.0.0/16", "resolver": "10.0.0.53", "masquerade": false,
             "services": {"gitea": "tcp:192.168.1.10:3000"}}}' ""
check "launcher name" '{"session": {"launcher": "docker"}}' "session.launcher"
check "runtime name" '{"runtime": {"runtime": "podman"}}' "runtime"
check "unknown runtime key" '{"runtime": {"bundles": "/x"}}' "bundles"
check "runtime timeout range" '{"runtime": {"ready_timeout_ms": 1}}' "ready_timeout_ms"
check "pool syntax" '{"netpol": {"pool": "10.88.0.0/33"}}' "netpol.pool"
check "pool too small" '{"netpol": {"pool": "10.88.0.0/30"}}' "netpol.pool"
check "resolver" '{"netpol": {"resolver": "dns.example"}}' "netpol.resolver"
check "service address" '{"netpol": {"services": {"gitea": "tcp:gitea:3000"}}}' "netpol.services.gitea"
check "services type" '{"netpol": {"services": ["tcp:1.2.3.4:5"]}}' "netpol: 'services'"
# the VNC gateway (broker/gateway/vncgw.c, docs/vncgw.md)
check "vnc gateway" '{"vnc_gateway": {"listen": "100.101.102.103:5900", "public_host": "argobox.tail-net.ts.net",
  "password_ttl_s": 86400, "max_failures": 3, "lockout_s": 60, "max_pending": 8,
  "handshake_timeout_ms": 5000, "buffer_bytes": 262144}}' ""
check "vnc listen localhost" '{"vnc_gateway": {"listen": "localhost:0"}}' ""
check "vnc listen ipv6" '{"vnc_gateway": {"listen": "[fd7a:115c:a1e0::1]:5900"}}' ""
check "vnc listen no port" '{"vnc_gateway": {"listen": "100.101.102.103"}}' "vnc_gateway.listen: '100.101.102.103' has no port"
check "vnc listen port range" '{"vnc_gateway": {"listen": "127.0.0.1:65536"}}' "vnc_gateway.listen: '127.0.0.1:65536': the port '65536' is not a number in 0..65535"
check "vnc listen port text" '{"vnc_gateway": {"listen": "127.0.0.1:vnc"}}' "vnc_gateway.listen"
check "vnc listen host name" '{"vnc_gateway": {"listen": "argobox.example:5900"}}' "'argobox.example' is not an IPv4 address or 'localhost'"
check "vnc listen bare ipv6" '{"vnc_gateway": {"listen": "::1:5900"}}' "vnc_gateway.listen: '::1:5900': an IPv6 address goes in brackets"
check "vnc listen no host" '{"vnc_gateway": {"listen": ":5900"}}' "vnc_gateway.listen: ':5900' has no address"
check "vnc listen type" '{"vnc_gateway": {"listen": 5900}}' "vnc_gateway.listen"
check "vnc public_host" '{"vnc_gateway": {"public_host": "https://argobox.example/"}}' "vnc_gateway.public_host"
check "vnc password_ttl_s" '{"vnc_gateway": {"password_ttl_s": 10}}' "vnc_gateway.password_ttl_s"
check "vnc max_failures" '{"vnc_gateway": {"max_failures": 0}}' "vnc_gateway.max_failures"
check "vnc lockout_s" '{"vnc_gateway": {"lockout_s": 90000}}' "vnc_gateway.lockout_s"
check "vnc max_pending" '{"vnc_gateway": {"max_pending": 5000}}' "vnc_gateway.max_pending"
check "vnc handshake_timeout_ms" '{"vnc_gateway": {"handshake_timeout_ms": 99}}' "vnc_gateway.handshake_timeout_ms"
check "vnc buffer_bytes" '{"vnc_gateway": {"buffer_bytes": 4096}}' "vnc_gateway.buffer_bytes"
check "vnc unknown key" '{"vnc_gateway": {"port": 5900}}' "vnc_gateway.port"
finish "cont config"
