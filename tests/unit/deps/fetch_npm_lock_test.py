#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""scripts/fetch-npm-lock against local tarballs (file:// URLs in the lockfile's "resolved"):
a good package is unpacked and stamped; a wrong hash, a symlink, a hard link, a device, an
absolute path, a '..' path and a package with dependencies are refused with a clear message
and leave node_modules as it was."""
import base64
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile

top = sys.argv[1]
tool = os.path.join(top, "scripts", "fetch-npm-lock")
checks = 0


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def tgz(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, kind, data in members:
            ti = tarfile.TarInfo(name)
            if kind == "file":
                ti.size = len(data)
                ti.mode = 0o644
                tf.addfile(ti, io.BytesIO(data))
            elif kind == "sym":
                ti.type, ti.linkname = tarfile.SYMTYPE, data
                tf.addfile(ti)
            elif kind == "hard":
                ti.type, ti.linkname = tarfile.LNKTYPE, data
                tf.addfile(ti)
            elif kind == "chr":
                ti.type, ti.devmajor, ti.devminor = tarfile.CHRTYPE, 1, 3
                tf.addfile(ti)
    return buf.getvalue()


def sri(data):
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def run(d, data, integrity=None, extra=None):
    path = os.path.join(d, "pkg.tgz")
    with open(path, "wb") as f:
        f.write(data)
    entry = {"version": "1.0.0", "resolved": "file://" + path,
             "integrity": integrity or sri(data)}
    entry.update(extra or {})
    lock = {"name": "t", "lockfileVersion": 3, "requires": True,
            "packages": {"": {"name": "t"}, "node_modules/@scope/pkg": entry}}
    with open(os.path.join(d, "package-lock.json"), "w") as f:
        json.dump(lock, f)
    return subprocess.run([tool, d], capture_output=True, text=True)


def expect_refused(name, members, want, **kw):
    global checks
    with tempfile.TemporaryDirectory() as d:
        r = run(d, tgz(members), **kw)
        if r.returncode == 0:
            fail(f"{name}: accepted")
        if want not in r.stderr:
            fail(f"{name}: message {r.stderr!r} lacks {want!r}")
        pkg = os.path.join(d, "node_modules", "@scope", "pkg")
        if os.path.exists(pkg):
            fail(f"{name}: something was installed: {os.listdir(pkg)}")
        leftovers = [n for n in os.listdir(os.path.join(d, "node_modules", "@scope"))
                     if n.startswith(".fetch-")] if os.path.isdir(
                         os.path.join(d, "node_modules", "@scope")) else []
        if leftovers:
            fail(f"{name}: temporary folder left behind: {leftovers}")
        if os.path.exists(os.path.join(d, "node_modules", ".package-lock.json")):
            fail(f"{name}: stamp written after a refusal")
    checks += 1
    print(f"ok: {name} refused ({want})")


good = [("package/package.json", "file", b'{"name":"@scope/pkg"}'),
        ("package/core/a.js", "file", b"export const a = 1;\n")]
with tempfile.TemporaryDirectory() as d:
    r = run(d, tgz(good))
    if r.returncode != 0:
        fail(f"good package refused: {r.stderr}")
    with open(os.path.join(d, "node_modules", "@scope", "pkg", "core", "a.js"), "rb") as f:
        if f.read() != b"export const a = 1;\n":
            fail("good package: content differs")
    with open(os.path.join(d, "node_modules", ".package-lock.json")) as f:
        if "node_modules/@scope/pkg" not in json.load(f)["packages"]:
            fail("stamp does not carry the lockfile")
    checks += 1
    print("ok: a pinned package is unpacked and stamped")
    # a second run replaces the package in place (an updated lockfile)
    r = run(d, tgz(good[:1]))
    if r.returncode != 0 or os.path.exists(os.path.join(d, "node_modules", "@scope", "pkg", "core")):
        fail(f"reinstall did not replace the old tree: {r.stderr}")
    checks += 1
    print("ok: a new version replaces the old tree")

expect_refused("wrong sha512", good, "sha512 mismatch", integrity=sri(b"something else"))
expect_refused("no sha512", good, "no sha512", integrity="sha1-AAAA")
expect_refused("symlink", good + [("package/x", "sym", "/etc/shadow")], "link or special file")
expect_refused("hard link", good + [("package/x", "hard", "package/core/a.js")], "link or special file")
expect_refused("device", good + [("package/null", "chr", None)], "link or special file")
expect_refused("absolute path", good + [("/etc/evil", "file", b"x")], "unsafe path")
expect_refused("dot-dot path", good + [("package/../../evil", "file", b"x")], "unsafe path")
expect_refused("outside package/", good + [("other/evil", "file", b"x")], "unsafe path")
expect_refused("dependencies", good, "use npm ci", extra={"dependencies": {"left-pad": "1.0.0"}})
expect_refused("install script", good, "use npm ci", extra={"hasInstallScript": True})
print(f"PASS: {checks} checks")
