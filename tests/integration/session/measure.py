#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Measures argobox-session (not a test): cold start, connect -> first full frame, idle CPU.

  python3 tests/integration/session/measure.py BUILD_DIR   (a release build is fairer)
"""
import os, sys, time, socket, struct, subprocess, tempfile, select, statistics
B = sys.argv[1]
S = B + "/session/argobox-session"; XP = B + "/tests/integration/session/ab_xprobe"
def read(s, n):
    b = b""
    while len(b) < n:
        d = s.recv(n - len(b))
        if not d: raise EOFError
        b += d
    return b
def first_frame(path):
    t0 = time.perf_counter()
    s = socket.socket(socket.AF_UNIX); s.connect(path)
    read(s, 12); s.sendall(b"RFB 003.008\n"); n = read(s, 1)[0]; read(s, n); s.sendall(b"\x01"); read(s, 4); s.sendall(b"\x01")
    h = read(s, 24); w, hh = struct.unpack(">HH", h[:4]); read(s, struct.unpack(">I", h[20:24])[0])
    s.sendall(struct.pack(">BxH", 2, 1) + struct.pack(">i", 0))
    s.sendall(struct.pack(">BBHHHH", 3, 0, 0, 0, w, hh))
    got = 0
    while got < w * hh:
        t = read(s, 1)[0]
        if t != 0: continue
        read(s, 1); nr = struct.unpack(">H", read(s, 2))[0]
        for _ in range(nr):
            x, y, rw, rh, e = struct.unpack(">HHHHi", read(s, 12))
            if e == 0: read(s, rw * rh * 4); got += rw * rh
    return (time.perf_counter() - t0) * 1000, s
def cpu(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
colds, readys, ffs = [], [], []
for i in range(5):
    d = tempfile.mkdtemp(); rd, wr = os.pipe()
    t0 = time.perf_counter()
    p = subprocess.Popen([S, "--runtime-dir", d + "/run", "--geometry", "1280x800", "--ready-fd", str(wr), "--", XP], pass_fds=[wr], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(wr); os.read(rd, 6); readys.append((time.perf_counter() - t0) * 1000)
    ff, s = first_frame(d + "/run/rfb.sock"); colds.append((time.perf_counter() - t0) * 1000)
    for j in range(5):
        f2, s2 = first_frame(d + "/run/rfb.sock"); ffs.append(f2); s2.close()
    if i == 0:
        xv = [int(x) for x in open("/proc/%d/task/%d/children" % (p.pid, p.pid)).read().split()]
        c0 = cpu(p.pid) + sum(cpu(x) for x in xv); time.sleep(10)
        idle = (cpu(p.pid) + sum(cpu(x) for x in xv) - c0) / 10 * 100
    s.close(); p.terminate(); p.wait()
print("spawn->READY ms median %.1f" % statistics.median(readys))
print("cold start (spawn->first full 1280x800 raw frame) ms median %.1f" % statistics.median(colds))
print("connect->first full frame (raw, 4 MB) ms median %.1f" % statistics.median(ffs))
print("idle CPU over 10 s, client connected, session+Xvfb+desktop: %.2f %% of a core" % idle)
