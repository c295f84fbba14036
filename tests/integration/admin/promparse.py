#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Parses a Prometheus text exposition (version 0.0.4) strictly and prints its samples as JSON.

  promparse.py < metrics.txt   ->  {"name{label=\"v\",...}": value, ...}   (labels sorted)

Two parsers must agree: a strict line grammar written here (every line a HELP, a TYPE or a
sample; names and labels as the format defines them; one HELP and one TYPE per family, before
its samples, and a sample only of a declared family; a histogram's buckets cumulative and
ending in le="+Inf" equal to _count), and the reference parser of the prometheus_client
package (Debian's python3-prometheus-client). Exits 1 naming the first line that is wrong.
"""
import json
import math
import re
import sys

from prometheus_client.parser import text_string_to_metric_families

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(rf"^({NAME})(?:\{{((?:{LABEL})(?:,{LABEL})*)?\}})? (\S+)$")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def die(n, line, why):
    print(f"FAIL: line {n}: {why}: {line!r}")
    sys.exit(1)


def labels_of(text):
    return dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', text or ""))


def key(name, labels):
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}}" if inner else name


def main():
    text = sys.stdin.read()
    if not text.endswith("\n"):
        die(0, text[-40:], "the exposition does not end with a newline")
    helps, types, out = set(), {}, {}
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            if not re.fullmatch(NAME, name) or name in helps:
                die(n, line, "bad or repeated HELP")
            helps.add(name)
            continue
        if line.startswith("# TYPE "):
            parts = line.split(" ")
            if len(parts) != 4 or parts[3] not in TYPES or parts[2] in types:
                die(n, line, "bad or repeated TYPE")
            types[parts[2]] = parts[3]
            continue
        if line.startswith("#") or not line:
            die(n, line, "neither a HELP, a TYPE nor a sample")
        m = SAMPLE.match(line)
        if not m:
            die(n, line, "not a sample")
        name, value = m.group(1), m.group(3)
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        if name not in types and not (family in types and types[family] == "histogram"):
            die(n, line, "sample of an undeclared family")
        try:
            v = float(value)
        except ValueError:
            die(n, line, "value is not a number")
        if math.isnan(v):
            die(n, line, "NaN")
        k = key(name, labels_of(m.group(2)))
        if k in out:
            die(n, line, "repeated series")
        out[k] = v
    # histograms: cumulative buckets ending in +Inf == _count
    for k, v in out.items():
        if '_bucket{' in k and 'le="+Inf"' in k:
            base = k.replace("_bucket{", "{").replace(',le="+Inf"', "").replace('le="+Inf"', "")
            base = base.replace("{}", "")
            name, _, rest = base.partition("{")
            cnt = f"{name}_count" + (("{" + rest) if rest else "")
            if out.get(cnt) != v:
                die(0, k, f"+Inf bucket {v} != {cnt} {out.get(cnt)}")
    # the reference parser reads the same samples
    ref = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            ref[key(s.name, s.labels)] = s.value
    if set(ref) != set(out):
        print(f"FAIL: the reference parser disagrees: {sorted(set(ref) ^ set(out))[:5]}")
        sys.exit(1)
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    print()


main()
