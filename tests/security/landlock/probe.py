#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
# The desktop command of session_landlock.sh: attempts what a confined desktop
# may and may not do, writes {attempt: outcome} to $HOME/probe.json and waits.
# Outcomes: "ok" or the errno name (EACCES, EXDEV, EPERM, ...).
import errno
import json
import os
import socket
import subprocess
import time

home = os.environ["HOME"]
outside = os.environ["LL_OUTSIDE"]
ro = os.environ["LL_RO"]
results = {}


def attempt(name, fn):
    try:
        fn()
        results[name] = "ok"
    except OSError as e:
        results[name] = errno.errorcode.get(e.errno, str(e.errno))


def write(path):
    with open(path, "w") as f:
        f.write("x")


def read(path):
    with open(path) as f:
        f.read()


def xvfb_pid():
    # Xvfb is the session's other child
    me = os.getpid()
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == me:
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
        except OSError:
            continue
        comm = st[st.index("(") + 1:st.rindex(")")]
        ppid = int(st[st.rindex(")") + 2:].split()[1])
        if ppid == os.getppid() and comm == "Xvfb":
            return int(d)
    raise OSError(errno.ESRCH, "no Xvfb")


def x_display():
    r = subprocess.run(["xdpyinfo"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if r.returncode != 0:
        raise OSError(errno.EIO, "xdpyinfo failed")


def wm_sock():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(os.environ["ARGOBOX_WM_SOCKET"])
    s.close()


def own_child():
    p = subprocess.Popen(["sleep", "30"])
    try:
        os.kill(p.pid, 0)
    finally:
        p.kill()
        p.wait()


attempt("write a file in $HOME", lambda: write(f"{home}/mine"))
attempt("write a file in /tmp", lambda: write(f"/tmp/ll-probe-{os.getpid()}"))
attempt("write a file outside the allowed paths", lambda: write(f"{outside}/evil"))
attempt("read a file outside the listed paths", lambda: read(f"{outside}/secret"))
attempt("read a file in landlock.read_only", lambda: read(f"{ro}/conf"))
attempt("write a file in landlock.read_only", lambda: write(f"{ro}/conf"))
attempt("create a file in landlock.read_only", lambda: write(f"{ro}/new"))
attempt("hard-link a file from $HOME to outside",
        lambda: os.link(f"{home}/mine", f"{outside}/linked"))
attempt("rename a file from $HOME to outside",
        lambda: os.rename(f"{home}/mine", f"{outside}/moved"))
attempt("signal the session (kill -0)", lambda: os.kill(os.getppid(), 0))
attempt("signal Xvfb (kill -0)", lambda: os.kill(xvfb_pid(), 0))
attempt("signal its own child (kill -0)", own_child)
attempt("connect to the X display (xdpyinfo)", x_display)
attempt("connect to wm.sock", wm_sock)
try:
    os.unlink(f"/tmp/ll-probe-{os.getpid()}")
except OSError:
    pass

tmp = f"{home}/probe.json.tmp"
with open(tmp, "w") as f:
    json.dump(results, f)
os.rename(tmp, f"{home}/probe.json")
time.sleep(300)
