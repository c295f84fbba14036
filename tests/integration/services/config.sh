#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The services registry is validated up front (--check-config): every malformed entry is
# refused with the JSON path of what is wrong, and netpol.services may not contradict it (one
# source of truth). No root needed.
set -uo pipefail
B=${AB_BUILD_DIR:?run through ctest}
. "${AB_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}/tests/lib/sh/lib.sh"
need_built "$B/broker/argobox-broker"
ab_tmpdir ab-svccfg
check() { # check NAME SERVICES-JSON EXPECTED-SUBSTRING (empty: accepted) [EXTRA-TOP-LEVEL]
	check_config "$1" "{\"services\": $2 ${4:+, $4}}" "$3"
}
full='{"name": "gitea", "title": "Gitea", "icon": "gitea.svg", "url": "https://192.168.20.5:3000/",
  "owner": "ada", "tags": ["dev"], "access": {"roles": ["member"], "profiles": ["dev"], "users": ["ada"]},
  "check": {"path": "/api/healthz", "expect_status": 200, "expect_body": "pass", "interval_ms": 10000,
            "timeout_ms": 2000, "slow_ms": 500, "failures": 3, "successes": 2, "ca_file": "/etc/ssl/gitea.pem",
            "max_body": 8192},
  "restart": {"container": "gitea", "socket": "/run/podman/podman.sock", "timeout_ms": 20000,
              "max_attempts": 3, "backoff_ms": 1000, "backoff_max_ms": 60000, "verify_ms": 30000}}'
users='"users": [{"name": "ada", "role": "admin", "profile": "dev", "uid": 1000}], "profiles": {"dev": {}}'
check "empty" '[]' ""
check "every field" "[$full]" "" "$users"
check "tcp + command" '[{"name": "nas", "url": "tcp://192.168.20.9:445", "restart": {"command": ["/usr/local/bin/nas-restart", "now"]}}]' ""
check "ipv6" '[{"name": "v6", "url": "http://[fd00::5]:8080/x"}]' ""
check "not an array" '{"gitea": {}}' "'services' must be an array"
check "unknown key" '[{"name": "a", "url": "http://h/", "intervall": 5}]' "services[0]: unknown key 'intervall'"
check "unknown check key" '[{"name": "a", "url": "http://h/", "check": {"every": 5}}]' "services[0] ('a').check: unknown key 'every'"
check "unknown access key" '[{"name": "a", "url": "http://h/", "access": {"groups": []}}]' "services[0] ('a').access: unknown key 'groups'"
check "no url" '[{"name": "a"}]' "services[0] ('a').url: missing"
check "no name" '[{"url": "http://h/"}]' "services[0].name: missing"
check "bad name" '[{"name": "Gitea!", "url": "http://h/"}]' "services[0].name: 'Gitea!'"
check "duplicate" '[{"name": "a", "url": "http://h/"}, {"name": "a", "url": "http://i/"}]' "services[1].name: 'a' is already taken"
check "scheme" '[{"name": "a", "url": "ftp://h/"}]' "services[0] ('a').url: 'ftp://h/' is not http://, https:// or tcp://HOST:PORT"
check "port range" '[{"name": "a", "url": "http://h:70000/"}]' "the port must be 1..65535"
check "port text" '[{"name": "a", "url": "http://h:http/"}]' "the port must be 1..65535"
check "credentials" '[{"name": "a", "url": "http://u:p@h/"}]' "credentials in URLs are not allowed"
check "space" '[{"name": "a", "url": "http://h /"}]' "contains white space"
check "host" '[{"name": "a", "url": "http://h_x/"}]' "is not a host name"
check "empty host" '[{"name": "a", "url": "http:///x"}]' "is not a host name"
check "tcp port" '[{"name": "a", "url": "tcp://10.0.0.1"}]' "tcp needs a port"
check "tcp host name" '[{"name": "a", "url": "tcp://nas.lan:445"}]' "a tcp service needs an IP address"
check "tcp http check" '[{"name": "a", "url": "tcp://10.0.0.1:22", "check": {"path": "/"}}]' "check.path: only for http(s) services"
check "timeout range" '[{"name": "a", "url": "http://h/", "check": {"timeout_ms": 0}}]' "check.timeout_ms: 0 is outside [10, 120000]"
check "status range" '[{"name": "a", "url": "http://h/", "check": {"expect_status": 999}}]' "check.expect_status: 999 is outside"
check "role" '[{"name": "a", "url": "http://h/", "access": {"roles": ["root"]}}]' "access.roles[0]: 'root' is not one of admin, member, demo"
check "restart both" '[{"name": "a", "url": "http://h/", "restart": {"command": ["/bin/true"], "container": "c"}}]' "give exactly one of 'command' and 'container'"
check "restart relative" '[{"name": "a", "url": "http://h/", "restart": {"command": ["systemctl", "restart", "x"]}}]' "restart.command[0]: 'systemctl' must be an absolute path"
check "container name" '[{"name": "a", "url": "http://h/", "restart": {"container": "../x"}}]' "restart.container: '../x' is not a container name"
check "owner unknown" '[{"name": "a", "url": "http://h/", "owner": "zoe"}]' "services[0].owner: no user named 'zoe'" "$users"
check "profile unknown" '[{"name": "a", "url": "http://h/", "access": {"profiles": ["ops"]}}]' "services[0].access.profiles[0]: no profile named 'ops'" "$users"
check "netpol agrees" '[{"name": "gitea", "url": "http://192.168.20.5:3000/"}]' "" '"netpol": {"services": {"gitea": "tcp:192.168.20.5:3000"}}'
check "netpol disagrees" '[{"name": "gitea", "url": "http://192.168.20.5:3000/"}]' "netpol.services.gitea: 'tcp:192.168.20.6:3000' disagrees with services[0].url" '"netpol": {"services": {"gitea": "tcp:192.168.20.6:3000"}}'
# the file's line, for entries spread over lines as people write them
multi='{
  "listen": {"port": 8080},
  "services": [
    {"name": "a", "url": "http://127.0.0.1:1/"},
    {"name": "gitea",
     "url": "http://h:70000/"},
    {"name": "b",
     "url": "http://127.0.0.1:2/",
     "check": {
       "timeout_ms": 0}}
  ]
}'
check_config "line of a bad url" "$multi" "line 6: services[1] ('gitea').url:"
multi=${multi/70000/7000}
check_config "line of a bad nested value" "$multi" "line 10: services[2] ('b').check.timeout_ms: 0 is outside"
check_config "line of an unknown key" "${multi/\"timeout_ms\": 0/\"every\": 5}" "line 9: services[2] ('b').check: unknown key 'every'"
finish services
_config