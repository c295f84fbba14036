#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""bench_tight: ab-rfbbench decodes what real servers send, pixel for pixel.

argobox-session (libvncserver 0.9.14's Tight encoder, the session's own ZRLE) and TigerVNC's
Xvnc each show xpattern's picture (solid blocks, stripes, a 6-colour grid, a ramp, plasma).
`ab-rfbbench snapshot` takes the client's framebuffer with
  - noVNC's encodings (Tight first, JPEG quality 6): fill, 2-colour / palette and JPEG
    rectangles; pixels JPEG did not touch must equal the screen exactly, JPEG ones within a
    tolerance;
  - Tight without a quality level (no JPEG): fill, palette and basic zlib rectangles, every
    pixel exact;
  - the benchmark's default (ZRLE) with cursor shapes: every pixel exact;
  - noVNC's encodings again, waiting 2 s of quiet (argobox-session only): the session's Tight
    encoder (session/tight.c) sent JPEG first and then re-sent those areas losslessly, so
    every pixel is exact and none is left as JPEG drew it (lossless refinement);
and the picture is compared with the screen as the X server has it (xwd -root).
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../lib/py"))
import ablib  # noqa: E402
from ablib import check, fail, skip  # noqa: E402

BUILD = os.environ.get("AB_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../../build"))
TOOL = os.path.join(BUILD, "bench", "ab-rfbbench")
SESSION = os.path.join(BUILD, "session", "argobox-session")
XPATTERN = os.path.join(BUILD, "tests", "integration", "bench", "ab_xpattern")
PW, PH = 640, 480  # xpattern's picture at +0+0
GEOM = "800x600"
# JPEG at quality level 6 (libjpeg quality ~80, 4:2:2 / 4:2:0): mean error per channel, and
# a bound no pixel may pass (ringing at the picture's edges included)
JPEG_MEAN, JPEG_MAX = 6.0, 96

CASES = [
    # name, --encodings, expected counters: (key, op, value)
    ("novnc", "novnc", [("tight_fill", ">", 0), ("tight_jpeg", ">", 0), ("zrle_rects", "=", 0),
                        ("raw_rects", "=", 0)]),
    # (with "cursor": libvncserver draws the cursor into the pixels of clients without it)
    ("tight lossless", "tight,copyrect,raw,compress=6,desktopsize,lastrect,cursor",
     [("tight_fill", ">", 0), ("tight_copy", ">", 0), ("tight_jpeg", "=", 0),
      ("zrle_rects", "=", 0)]),
    ("zrle", "default,cursor", [("zrle_rects", ">", 0), ("tight_rects", "=", 0)]),
    # lossless refinement: JPEG went out, then nothing is left lossy (ours only)
    ("novnc refined", "novnc", [("tight_jpeg", ">", 0), ("raw_rects", "=", 0)]),
]
REFINE_QUIET_MS = 2000  # the session refines after one to two 300 ms ticks of no change


def wait_file(path, what, proc, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path) and os.path.getsize(path) > 0:
            return
        if proc.poll() is not None:
            fail("%s: the server exited (%d) before %s" % (path, proc.returncode, what))
        time.sleep(0.05)  # polling a file with a bounded deadline
    fail("timed out waiting for " + what)


def read_ppm(path, magic):
    with open(path, "rb") as f:
        data = f.read()
    parts = data.split(b"\n", 3)
    if parts[0] != magic:
        fail("%s is not a %s file" % (path, magic.decode()))
    w, h = (int(v) for v in parts[1].split())
    return w, h, parts[3]


def read_xwd(data):
    """(width, height, rows of RGB bytes) of a 32-bit ZPixmap XWD dump."""
    hdr = [int.from_bytes(data[i:i + 4], "big") for i in range(0, 100, 4)]
    header_size, fmt, w, h = hdr[0], hdr[2], hdr[4], hdr[5]
    byte_order, bpp, bpl, ncolors = hdr[7], hdr[11], hdr[12], hdr[19]
    if fmt != 2 or bpp != 32 or hdr[14] != 0xff0000:
        fail("xwd: format %d, %d bpp, red mask %x: not 32-bit 0xRRGGBB" % (fmt, bpp, hdr[14]))
    off = header_size + ncolors * 12
    rows = []
    for y in range(h):
        row = data[off + y * bpl:off + y * bpl + 4 * w]
        rgb = bytearray(3 * w)
        if byte_order == 0:  # LSBFirst: B G R x
            rgb[0::3], rgb[1::3], rgb[2::3] = row[2::4], row[1::4], row[0::4]
        else:
            rgb[0::3], rgb[1::3], rgb[2::3] = row[1::4], row[2::4], row[3::4]
        rows.append(bytes(rgb))
    return w, h, rows


def compare(fb, lossy, screen):
    """Counts pixels of the picture that differ: lossless ones at all, JPEG ones beyond the
    tolerance; returns (bad lossless, lossy pixels, mean lossy error, max lossy error)."""
    fw, fh, fpx = fb
    lw, lh, lpx = lossy
    sw, sh, srows = screen
    if (fw, fh) != (sw, sh) or (lw, lh) != (fw, fh):
        fail("client framebuffer %dx%d, lossy map %dx%d, screen %dx%d" % (fw, fh, lw, lh, sw, sh))
    bad, nlossy, err_sum, err_max = 0, 0, 0, 0
    first_bad = None
    for y in range(PH):
        frow = fpx[3 * fw * y:3 * fw * y + 3 * PW]
        srow = srows[y][:3 * PW]
        lrow = lpx[fw * y:fw * y + PW]
        if frow == srow:
            nlossy += PW - lrow.count(0)
            continue
        for x in range(PW):
            d = max(abs(frow[3 * x + c] - srow[3 * x + c]) for c in range(3))
            if lrow[x]:
                nlossy += 1
                err_sum += sum(abs(frow[3 * x + c] - srow[3 * x + c]) for c in range(3))
                err_max = max(err_max, d)
            elif d:
                bad += 1
                if first_bad is None:
                    first_bad = (x, y, frow[3 * x:3 * x + 3].hex(), srow[3 * x:3 * x + 3].hex())
    if first_bad:
        print("first lossless mismatch at %d,%d: client %s, screen %s" % first_bad)
    mean = err_sum / (3 * nlossy) if nlossy else 0.0
    return bad, nlossy, mean, err_max


def holds(v, op, want):
    return v > want if op == ">" else v == want


def snapshot_and_compare(label, target, display, tmp):
    for name, encs, expect in CASES:
        refined = name == "novnc refined"
        if refined and label != "argobox-session":
            continue
        ppm, pgm = os.path.join(tmp, "fb.ppm"), os.path.join(tmp, "lossy.pgm")
        quiet = ["--quiet-ms", str(REFINE_QUIET_MS)] if refined else []
        r = subprocess.run([TOOL, "snapshot", target, "--encodings", encs, "--out", ppm,
                            "--lossy-out", pgm, "--stats"] + quiet, capture_output=True,
                           text=True, timeout=60)
        if r.returncode != 0:
            fail("%s, %s: ab-rfbbench snapshot: %s" % (label, name, r.stderr.strip()))
        stats = dict(kv.split("=", 1) for kv in r.stdout.split())
        x = subprocess.run(["xwd", "-root", "-silent"], capture_output=True, timeout=30,
                           env=dict(os.environ, DISPLAY=display))
        if x.returncode != 0:
            fail("xwd: " + x.stderr.decode(errors="replace"))
        bad, nlossy, mean, mx = compare(read_ppm(ppm, b"P6"), read_ppm(pgm, b"P5"),
                                        read_xwd(x.stdout))
        kinds = " ".join("%s=%s" % (k, stats.get(k)) for k in
                         ("tight_rects", "tight_fill", "tight_mono", "tight_palette",
                          "tight_copy", "tight_jpeg", "zrle_rects"))
        print("%s, %s: %s; JPEG pixels %d, mean error %.2f, max %d" %
              (label, name, kinds, nlossy, mean, mx))
        for k, op, want in expect:
            check(holds(int(stats[k]), op, want),
                  "%s, %s: %s %s %d (%s)" % (label, name, k, op, want, stats[k]))
        check(bad == 0, "%s, %s: every pixel JPEG did not draw equals the screen (%d differ)" %
              (label, name, bad))
        if refined:
            check(nlossy == 0, "%s, %s: no pixel left as JPEG drew it (%d are)" %
                  (label, name, nlossy))
        if nlossy:
            check(mean < JPEG_MEAN and mx <= JPEG_MAX,
                  "%s, %s: JPEG pixels within tolerance (mean %.2f < %.1f, max %d <= %d)" %
                  (label, name, mean, JPEG_MEAN, mx, JPEG_MAX))
        elif not name.startswith("novnc"):
            check(stats["tight_jpeg_px"] == "0", "%s, %s: no JPEG" % (label, name))


def stop(proc):
    if proc and proc.poll() is None:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()


def run_argobox(tmp):
    run = os.path.join(tmp, "run")
    ready = os.path.join(tmp, "ready")
    log = open(os.path.join(tmp, "session.log"), "w")
    p = subprocess.Popen([SESSION, "--runtime-dir", run, "--geometry", GEOM, "--", XPATTERN,
                          ready], stdout=log, stderr=log, start_new_session=True)
    try:
        wait_file(ready, "xpattern's picture (argobox-session)", p)
        with open(ready) as f:
            display = f.read().strip()
        snapshot_and_compare("argobox-session", "unix:" + os.path.join(run, "rfb.sock"),
                             display, tmp)
    finally:
        stop(p)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run_xvnc(tmp):
    port = free_port()
    rd, wr = os.pipe()
    log = open(os.path.join(tmp, "xvnc.log"), "w")
    x = subprocess.Popen(["Xvnc", "-displayfd", str(wr), "-nolisten", "tcp", "-geometry", GEOM,
                          "-depth", "24", "-rfbport", str(port), "-interface", "127.0.0.1",
                          "-SecurityTypes", "None", "-AlwaysShared"], pass_fds=[wr],
                         stdout=log, stderr=log, start_new_session=True)
    os.close(wr)
    pat = None
    try:
        with os.fdopen(rd) as f:
            n = f.readline().strip()
        if not n:
            fail("Xvnc did not report a display")
        display = ":" + n
        ready = os.path.join(tmp, "ready-xvnc")
        pat = subprocess.Popen([XPATTERN, ready], env=dict(os.environ, DISPLAY=display),
                               stdout=log, stderr=log, start_new_session=True)
        wait_file(ready, "xpattern's picture (Xvnc)", pat)
        snapshot_and_compare("Xvnc", "tcp:127.0.0.1:%d" % port, display, tmp)
    finally:
        stop(pat)
        stop(x)


def main():
    for t in (TOOL, XPATTERN):
        if not os.access(t, os.X_OK):
            skip("%s is not built" % t)
    if not shutil.which("xwd"):
        skip("xwd is not installed (x11-apps)")
    tmp = tempfile.mkdtemp(prefix="ab-bench-tight-")
    ran = 0
    try:
        if os.access(SESSION, os.X_OK) and shutil.which("Xvfb"):
            run_argobox(tmp)
            ran += 1
        else:
            print("argobox-session or Xvfb missing: its half is skipped")
        if shutil.which("Xvnc"):
            run_xvnc(tmp)
            ran += 1
        else:
            print("Xvnc is not installed (tigervnc-standalone-server): its half is skipped")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not ran:
        skip("neither argobox-session nor Xvnc can run here")
    print("ok")


if __name__ == "__main__":
    main()
