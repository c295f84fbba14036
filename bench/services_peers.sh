# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The services benchmarks' peers, sourced by bench/services_bench.sh and
# bench/services_ws_bench.sh: 23 real services on loopback (tests/integration/services/peers.py:
# 10 healthy, 2 slow (200 ms), 2 flapping, a 500, TLS, TCP-only, an endless body, and 5 that
# never answer, checked with a 250 ms timeout).
#   start_service_peers DIR [INTERVAL_MS]
# starts them (killed at exit through PEERS) and writes DIR/s1.json (the 23 as a "services"
# array) and DIR/s10.json (the same peers registered 10 times over: 230 services).
start_service_peers() {
	local dir=$1 interval=${2:-}
	openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=127.0.0.1 \
		-addext subjectAltName=IP:127.0.0.1 -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
	# niced: they stand in for other machines and should not take the CPU from what is measured
	nice -n 19 python3 "$AB_SOURCE_DIR/tests/integration/services/peers.py" --ports "$dir/ports.json" \
		--cert "$dir/cert.pem" --key "$dir/key.pem" --slow-ms 200 'healthy*10' 'slow*2' \
		'flapping*2' error500 tls tcp endless 'hang*5' &
	PEERS=$!
	for _ in $(seq 100); do [ -s "$dir/ports.json" ] && break; sleep 0.1; done
	python3 - "$dir" "$interval" <<'EOP'
import json, sys
T, interval = sys.argv[1], sys.argv[2]
ports = json.load(open(f"{T}/ports.json"))
def services(copies):
    out = []
    for c in range(copies):
        for kind, plist in ports.items():
            for i, p in enumerate(plist):
                name = f"{kind}{i}-{c}"
                chk = {"timeout_ms": 1000}
                if interval:
                    chk["interval_ms"] = int(interval)
                if kind == "tcp":
                    url = f"tcp://127.0.0.1:{p}"
                elif kind == "tls":
                    url = f"https://127.0.0.1:{p}/"
                    chk["ca_file"] = f"{T}/cert.pem"
                else:
                    url = f"http://127.0.0.1:{p}/"
                if kind == "hang":
                    chk["timeout_ms"] = 250
                if kind == "endless":
                    chk["max_body"] = 65536
                out.append({"name": name, "url": url, "check": chk})
    return out
for copies in (1, 10):
    json.dump(services(copies), open(f"{T}/s{copies}.json", "w"))
EOP
}
