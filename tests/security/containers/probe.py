#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Escape attempts, run inside a user's container by tests/security/containers/escape.sh.

Each attempt prints one line: "BLOCKED <how>" when the attempt failed, "ESCAPED <what>" when it
worked (the suite fails), or "OK <what>" for positive controls that must succeed.
"""
import ctypes, errno, os, signal, socket, sys, time

libc = ctypes.CDLL(None, use_errno=True)


def err():
    e = ctypes.get_errno()
    return "%s (%s)" % (errno.errorcode.get(e, e), os.strerror(e))


def res(ok, what):
    print(("BLOCKED " if ok else "ESCAPED ") + what)


def mount():
    os.makedirs("/tmp/m", exist_ok=True)
    r = libc.mount(b"none", b"/tmp/m", b"tmpfs", 0, None)
    res(r != 0, "mount(tmpfs): " + (err() if r else "mounted"))
    r = libc.unshare(0x10000000 | 0x00020000)  # CLONE_NEWUSER|CLONE_NEWNS
    res(r != 0, "unshare(user+mount ns): " + (err() if r else "succeeded"))


def ptrace():
    r = libc.ptrace(16, 1, None, None)  # PTRACE_ATTACH to the container's pid 1 (same uid)
    res(r != 0, "ptrace(ATTACH, pid 1): " + (err() if r else "attached"))


def setuid(path):
    out = os.popen(path + " -u").read().strip()
    res(out != "0", "setuid-root binary ran as uid %s" % (out or "?"))


def raw():
    for fam, typ, proto, name in ((socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP, "AF_INET raw"),
                                  (socket.AF_PACKET, socket.SOCK_RAW, 0, "AF_PACKET")):
        try:
            socket.socket(fam, typ, proto).close()
            res(False, name + " socket opened")
        except OSError as e:
            res(True, "%s socket: %s" % (name, e.strerror))


def write(path):
    try:
        with open(path, "w") as f:
            f.write("1\n")
        res(False, "wrote " + path)
    except OSError as e:
        res(True, "write %s: %s" % (path, e.strerror))


def module():
    fd = os.open("/dev/null", os.O_RDONLY)
    r = libc.syscall(313, fd, b"", 0)  # finit_module
    res(r != 0, "finit_module: " + (err() if r else "loaded"))
    r = libc.syscall(175, None, 0, b"")  # init_module
    res(r != 0, "init_module: " + (err() if r else "loaded"))


def connect(host, port, expect_ok=False):
    s = socket.socket()
    s.settimeout(3)
    try:
        s.connect((host, int(port)))
        if expect_ok:
            print("OK connected to %s:%s" % (host, port))
        else:
            res(False, "connected to %s:%s" % (host, port))
    except OSError as e:
        if expect_ok:
            print("FAILED positive control %s:%s: %s" % (host, port, e))
        else:
            res(True, "connect %s:%s: %s" % (host, port, e.strerror or e))


def unix(path):
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
        res(False, "connected to " + path)
    except OSError as e:
        res(True, "connect %s: %s" % (path, e.strerror))


def dns(server):
    q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01"
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    try:
        s.sendto(q, (server, 53))
        s.recvfrom(512)
        res(False, "DNS answer from " + server)
    except OSError as e:
        res(True, "DNS query to %s:53: %s" % (server, e.strerror or "timed out"))


def forkbomb(marker):
    kids = []
    hit = None
    while len(kids) < 100000:
        try:
            pid = os.fork()
        except OSError as e:
            hit = e.strerror
            break
        if pid == 0:
            time.sleep(30)
            os._exit(0)
        kids.append(pid)
    open(marker, "w").write("%d\n" % len(kids))
    time.sleep(2)  # hold the limit while the host checks it is still responsive
    for k in kids:
        os.kill(k, signal.SIGKILL)
    for k in kids:
        os.waitpid(k, 0)
    res(hit is not None, "fork bomb stopped after %d processes: %s" % (len(kids), hit))


def memhog():
    chunks = []
    for i in range(64):  # up to 2 GiB, touched
        chunks.append(bytearray(b"x" * (32 << 20)))
    res(False, "allocated 2 GiB")


def read(path):
    try:
        os.listdir(path) if os.path.isdir(path) else open(path).read()
        res(False, "read " + path)
    except OSError as e:
        res(True, "read %s: %s" % (path, e.strerror))


def touch(path, expect_ok=False):
    try:
        open(path, "w").close()
        print(("OK wrote " if expect_ok else "ESCAPED wrote ") + path)
    except OSError as e:
        print(("FAILED positive control " if expect_ok else "BLOCKED ") + "write %s: %s" % (path, e.strerror))


def serve(path, port):
    if os.fork():
        return
    os.setsid()
    u = socket.socket(socket.AF_UNIX)
    u.bind(path)
    u.listen(4)
    t = socket.socket()
    t.bind(("0.0.0.0", int(port)))
    t.listen(4)
    for fd in (0, 1, 2):
        os.close(fd)
    time.sleep(3600)


if __name__ == "__main__":
    fn = globals()[sys.argv[1]]
    args = sys.argv[2:]
    if fn in (connect, touch) and args and args[-1] == "ok":
        fn(*args[:-1], expect_ok=True)
    else:
        fn(*args)
