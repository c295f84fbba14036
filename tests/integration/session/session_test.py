#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Integration tests for argobox-session against real peers.

Each test starts the real binary (build/session/argobox-session) in a fresh temporary
runtime directory with xprobe (a tiny X client that draws known colours and prints the
input it gets) as the desktop command, then talks to it with vnctest (libvncclient), raw
sockets (hostile clients) or the framed-JSON control channel.

  session_test.py pixels|input|clipboard|resize|grow|hostile|control|lifecycle
"""
import contextlib
import json
import os
import re
import queue
import select
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../lib/py"))
import ablib  # noqa: E402
from ablib import check, dumping, fail, skip  # noqa: E402

BUILD = os.environ.get("AB_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../../build"))
SESSION = os.path.join(BUILD, "session", "argobox-session")
VNCTEST = os.path.join(BUILD, "tests", "integration", "session", "ab_vnctest")
XPROBE = os.path.join(BUILD, "tests", "integration", "session", "ab_xprobe")
TIMEOUT = 15
# libvncclient (a test peer, not our code) leaks a little on some paths
TOOL_ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")


def wait_for(pred, what, timeout=TIMEOUT):
    return ablib.wait_for(pred, what, timeout)


def xclip_own(text, env):
    """An xclip that owns the X clipboard with text (until it is asked to let go)."""
    p = subprocess.Popen(["xclip", "-quiet", "-selection", "clipboard", "-i"],
                         stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, env=env)
    p.stdin.write(text.encode())
    p.stdin.close()
    return p


def kill_all(procs):
    for p in procs:
        p.kill()
        p.wait()


@contextlib.contextmanager
def xterm_desktop(prefix, geometry, xterm_args, script):
    """A session (geometry) whose desktop is xterm xterm_args running sh -c (script % (go,
    done)): two flag files in a temp dir by which the test and the script signal each other.
    Yields (session, go, done, Xvfb's framebuffer file); the session is dumped on an error and
    stopped, the temp dir removed, either way."""
    sig = tempfile.mkdtemp(prefix=prefix)
    go, done = os.path.join(sig, "go"), os.path.join(sig, "done")
    s = Session(geometry=geometry,
                desktop=["xterm"] + xterm_args + ["-e", "sh", "-c", script % (go, done)])
    with dumping(s, lambda: shutil.rmtree(sig, ignore_errors=True)):
        yield s, go, done, s.screen_file()


class Session:
    """One argobox-session with xprobe; lines of xprobe's stdout land in self.lines."""

    def __init__(self, config=None, env=None, desktop=None, geometry="640x480"):
        self.tmp = tempfile.mkdtemp(prefix="ab-session-test-")
        self.dir = os.path.join(self.tmp, "run")
        cfg = {"log": {"level": "debug"}, "control": {"heartbeat_s": 1},
               "desktop": {"restart_min_ms": 50}}
        for k, v in (config or {}).items():
            cfg.setdefault(k, {}).update(v)
        self.cfg_path = os.path.join(self.tmp, "session.json")
        with open(self.cfg_path, "w") as f:
            json.dump(cfg, f)
        rd, wr = os.pipe()
        e = dict(os.environ)
        e.update(env or {})
        self.stderr = open(os.path.join(self.tmp, "stderr"), "w+", errors="replace")
        cmd = [SESSION, "--runtime-dir", self.dir, "--config", self.cfg_path, "--geometry",
               geometry, "--ready-fd", str(wr), "--"] + (desktop or [XPROBE])
        self.proc = subprocess.Popen(cmd, pass_fds=[wr], stdout=subprocess.PIPE,
                                     stderr=self.stderr, env=e, start_new_session=True)
        os.close(wr)
        self.lines = queue.Queue()
        self.seen = []
        threading.Thread(target=self._reader, daemon=True).start()
        r, _, _ = select.select([rd], [], [], TIMEOUT)
        got = os.read(rd, 64) if r else b""
        os.close(rd)
        if got != b"READY\n":
            self.dump()
            fail("session did not write READY on --ready-fd (got %r)" % got)
        self.rfb = os.path.join(self.dir, "rfb.sock")
        self.control = os.path.join(self.dir, "control.sock")
        self.wm = os.path.join(self.dir, "wm.sock")

    def _reader(self):
        for line in self.proc.stdout:
            self.lines.put(line.decode("utf-8", "replace").rstrip("\n"))

    def expect(self, want, timeout=TIMEOUT):
        """Waits for a line of xprobe output that starts with `want`."""
        deadline = time.monotonic() + timeout
        for i, l in enumerate(self.seen):
            if l.startswith(want):
                del self.seen[i]
                return l
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.dump()
                fail("desktop never printed %r (saw %r)" % (want, self.seen))
            try:
                l = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if l.startswith(want):
                return l
            self.seen.append(l)

    def key(self):
        """The next KEY line that is not a modifier (the session adds Shift/AltGr)."""
        while True:
            l = self.expect("KEY ")
            if not l.split()[1].startswith(("Shift_", "ISO_Level3", "Control_", "Alt_")):
                return l

    def vnc(self, *args, check_rc=True):
        r = subprocess.run([VNCTEST, self.rfb] + [str(a) for a in args], capture_output=True,
                           text=True, timeout=60, env=TOOL_ENV)
        if check_rc and r.returncode != 0:
            self.dump()
            fail("vnctest %s failed: %s" % (" ".join(map(str, args)), r.stderr.strip()))
        return r

    def children(self):
        try:
            with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
                return [int(p) for p in f.read().split()]
        except OSError:
            return []

    def log(self):
        """The session's stderr so far."""
        return open(os.path.join(self.tmp, "stderr"), errors="replace").read()

    def x_env(self):
        """os.environ with DISPLAY set to the session's display, once the session logged it."""
        disp = wait_for(lambda: re.search(r"ready on display (:\d+)", self.log()), "the display")
        return dict(os.environ, DISPLAY=disp.group(1))

    def screen_file(self):
        """Xvfb's framebuffer file (the screen as X has it), once the session logged it."""
        m = wait_for(lambda: re.search(r"framebuffer in '([^']+)'", self.log()), "the fb dir")
        return os.path.join(m.group(1), "Xvfb_screen0")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def dump(self):
        self.stderr.flush()
        self.stderr.seek(0)
        sys.stdout.write("---- session stderr ----\n" + self.stderr.read()[-6000:])
        sys.stdout.flush()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


# ---- control channel helpers ----

def frame(obj):
    b = json.dumps(obj).encode()
    return struct.pack(">I", len(b)) + b


class Ctl:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(TIMEOUT)
        self.s.connect(path)
        self.buf = b""

    def send(self, obj):
        self.s.sendall(frame(obj))

    def recv(self):
        while True:
            if len(self.buf) >= 4:
                n = struct.unpack(">I", self.buf[:4])[0]
                if len(self.buf) >= 4 + n:
                    m = json.loads(self.buf[4:4 + n])
                    self.buf = self.buf[4 + n:]
                    return m
            d = self.s.recv(65536)
            if not d:
                return None
            self.buf += d

    def recv_type(self, t):
        while True:
            m = self.recv()
            if m is None:
                fail("control connection closed while waiting for %r" % t)
            if m.get("type") == t:
                return m


# ---- tests ----

def t_pixels():
    with Session() as s:
        s.expect("READY")
        s.vnc("wait-pixel", 50, 50, "ff0000", "wait-pixel", 150, 50, "00ff00",
              "wait-pixel", 100, 150, "0000ff", "wait-cursor")
        print("ok: red, green and blue arrive at the right places; a cursor shape arrives")
        for enc in ("tight", "zrle", "raw", "hextile"):
            TOOL_ENV["VNCTEST_ENCODINGS"] = enc
            s.vnc("wait-pixel", 150, 50, "00ff00", "wait-pixel", 100, 150, "0000ff")
            print("ok: %s encoding delivers the right pixels" % enc)
        del TOOL_ENV["VNCTEST_ENCODINGS"]
        check(s.proc.poll() is None, "session still running")


def t_input():
    with Session() as s:
        s.expect("READY")
        s.vnc("wait-pixel", 50, 50, "ff0000", "click", 50, 60)
        l = s.expect("BUTTON")
        check(l == "BUTTON 1 50 60", "click over RFB reaches the X client (%s)" % l)
        s.vnc("key", "a")
        check(s.key() == "KEY a a", "key 'a' arrives")
        s.vnc("key", "U")
        check(s.key() == "KEY U U", "shifted keysym 'U' sent without Shift types 'U'")
        s.vnc("key", "bar")
        check(s.key() == "KEY bar |", "'|' sent without Shift types '|'")
        s.vnc("key", "ssharp")
        l = s.key()
        check(l.startswith("KEY ssharp "), "keysym missing from the keymap is typed (%s)" % l)
        # a key held for longer than Xvfb's repeat delay (660 ms), then released: the X server
        # adds no repeats of its own; the client's repeats (more key-downs) arrive, each once
        s.vnc("keydown", "x", "sleep", 1500, "keydown", "x", "keyup", "x", "key", "b")
        typed = [s.key(), s.key(), s.key()]
        check(typed == ["KEY x x", "KEY x x", "KEY b b"],
              "a held key is typed once per key-down from the client, never repeated by "
              "the server (%s)" % typed)
        s.vnc("wait-qemu", "qkey", "0", "0x10")
        l = s.key()
        check(l == "KEY q q", "QEMU extended key event (scancode 0x10) types 'q' (%s)" % l)
        s.vnc("wait-qemu", "qkey", "0", "0xc8")
        l = s.key()
        check(l.startswith("KEY Up"), "extended scancode 0xc8 is the Up arrow (%s)" % l)
        if shutil.which("setxkbmap"):
            # another layout (as the window manager loads it): keysyms map through the new
            # keymap (z is where y was on German keyboards), scancodes follow the layout
            env = dict(os.environ, DISPLAY=display_of(s))
            subprocess.run(["setxkbmap", "de"], env=env, check=True)
            time.sleep(0.3)  # MappingNotify reaches the session
            s.vnc("key", "z")
            l = s.key()
            check(l == "KEY z z", "keysym 'z' after switching to de types 'z' (%s)" % l)
            s.vnc("key", "at")
            l = s.key()
            check(l == "KEY at @", "keysym '@' on de (AltGr+Q) types '@' (%s)" % l)
            s.vnc("wait-qemu", "qkey", "0", "0x15")
            l = s.key()
            check(l == "KEY z z", "scancode 0x15 (Y position) types 'z' on de (%s)" % l)


def t_clipboard():
    with Session(env={"XPROBE_OWN": "hello-from-x"}) as s:
        s.expect("READY")
        s.vnc("wait-cut", "hello-from-x")
        print("ok: X CLIPBOARD reaches the RFB client")
        s.vnc("cut", "hello-from-vnc")
        l = s.expect("CLIP ")
        check(l == "CLIP hello-from-vnc", "RFB client cut text reaches X (%s)" % l)
        # extended clipboard (UTF-8) as noVNC speaks it, over a raw RFB connection
        c = RawRfb(s.rfb)
        c.handshake()
        c.set_encodings([0, -223, 0xC0A1E5CE - (1 << 32)])
        caps = c.read_ext_clipboard(lambda f: f & (1 << 24))
        check(caps is not None, "server announces extended clipboard caps")
        text = "gr\u00fc\u00df \u2603"
        c.send_ext_clipboard_provide(text)
        l = s.expect("CLIP ")
        check(l == "CLIP " + text, "extended clipboard UTF-8 text reaches X (%s)" % l)
        c.close()


def t_resize():
    with Session(config={"display": {"min_width": 320, "min_height": 240, "max_width": 1600,
                                    "max_height": 1200}}) as s:
        s.expect("READY")
        log = s.log
        xwd = s.screen_file()
        s.vnc("wait-size", 640, 480, "resize", 1024, 700, "wait-size", 1024, 700,
              "wait-pixel", 150, 50, "00ff00", "wait-screen", xwd)
        print("ok: SetDesktopSize 1024x700 resizes the desktop; the client shows the screen")
        s.vnc("resize", 5000, 100, "wait-size", 1600, 240, "wait-pixel", 50, 150, "0000ff",
              "wait-screen", xwd)
        print("ok: out-of-limit sizes are clamped to [320x240, 1600x1200]; pixels still right")
        r = subprocess.run(["xdpyinfo"], capture_output=True, text=True,
                           env=dict(os.environ, DISPLAY=display_of(s)))
        check("1600x240 pixels" in r.stdout, "the X screen follows (xdpyinfo)")


def fb_resident(xwd):
    """Bytes of Xvfb's framebuffer file in memory (its allocated blocks)."""
    return os.stat(xwd).st_blocks * 512


def t_grow():
    """A client asking for a larger screen than the start size gets it, drawn to the last
    pixel: the framebuffer (Xvfb's screen at the default 3840x2160 maximum) keeps only the
    visible part in memory and takes the rest back when it is shown again."""
    with Session(geometry="1280x800") as s:
        s.expect("READY")
        xwd = s.screen_file()
        full = os.path.getsize(xwd)
        wait_for(lambda: "framebuffer: 1280x800 visible" in s.log(), "the first trim")
        small = fb_resident(xwd)
        check(1280 * 800 * 4 <= small <= full * 0.3,
              "1280x800 visible: %d KiB of the %d KiB framebuffer in memory" %
              (small // 1024, full // 1024))
        env = s.x_env()
        # the root's background: X must paint it on the rows and columns the grow uncovers
        subprocess.run(["xsetroot", "-solid", "#3366cc"], env=env, check=True, timeout=TIMEOUT)
        s.vnc("wait-size", 1280, 800, "wait-pixel", 1200, 700, "3366cc")
        s.vnc("resize", 2560, 1440, "wait-size", 2560, 1440, "wait-pixel", 2550, 1430, "3366cc",
              "wait-pixel", 1300, 100, "3366cc", "wait-pixel", 150, 50, "00ff00",
              "wait-screen", xwd)
        r = subprocess.run(["xdpyinfo"], capture_output=True, text=True, env=env)
        check("2560x1440 pixels" in r.stdout, "the X screen is 2560x1440 (xdpyinfo)")
        big = fb_resident(xwd)
        check(big >= 2560 * 1440 * 4 and big > small,
              "2560x1440: the uncovered area is in memory again (%d KiB)" % (big // 1024))
        print("ok: SetDesktopSize 2560x1440 from 1280x800: the client gets it, every pixel "
              "as X has it")
        s.vnc("resize", 1024, 640, "wait-size", 1024, 640, "wait-pixel", 1000, 600, "3366cc",
              "wait-screen", xwd)
        wait_for(lambda: "framebuffer: 1024x640 visible" in s.log(), "the trim at 1024x640")
        check(fb_resident(xwd) < small, "1024x640: less in memory than at 1280x800 (%d KiB)" %
              (fb_resident(xwd) // 1024))
        s.vnc("resize", 1920, 1080, "wait-size", 1920, 1080, "wait-pixel", 1900, 1070,
              "3366cc", "wait-screen", xwd)
        print("ok: shrinking gives the framebuffer back; growing again still draws it all")


def display_of(s):
    with open("/proc/%d/environ" % [p for p in s.children() if is_desktop(p)][0], "rb") as f:
        for kv in f.read().split(b"\0"):
            if kv.startswith(b"DISPLAY="):
                return kv[8:].decode()
    fail("no DISPLAY in the desktop command's environment")


def is_desktop(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return b"Xvfb" not in f.read().split(b"\0")[0]
    except OSError:
        return False


class RawRfb:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(TIMEOUT)
        self.s.connect(path)

    def read(self, n):
        b = b""
        while len(b) < n:
            d = self.s.recv(n - len(b))
            if not d:
                raise EOFError
            b += d
        return b

    def handshake(self):
        v = self.read(12)
        assert v.startswith(b"RFB "), v
        self.s.sendall(b"RFB 003.008\n")
        n = self.read(1)[0]
        types = self.read(n)
        assert 1 in types, types
        self.s.sendall(b"\x01")
        assert self.read(4) == b"\0\0\0\0"
        self.s.sendall(b"\x01")
        hdr = self.read(24)
        self.w, self.h = struct.unpack(">HH", hdr[:4])
        self.read(struct.unpack(">I", hdr[20:24])[0])

    def set_encodings(self, encs):
        self.s.sendall(struct.pack(">BxH", 2, len(encs)) + b"".join(struct.pack(">i", e) for e in encs))

    def read_ext_clipboard(self, want):
        """Reads server messages until an extended ServerCutText whose flags satisfy want."""
        self.s.sendall(struct.pack(">BBHHHH", 3, 0, 0, 0, 8, 8))
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            t = self.read(1)[0]
            if t == 0:  # FramebufferUpdate: skip rects (raw only was asked)
                self.read(1)
                n = struct.unpack(">H", self.read(2))[0]
                for _ in range(n):
                    x, y, w, h, e = struct.unpack(">HHHHi", self.read(12))
                    if e == 0:
                        self.read(w * h * 4)
                    elif e == -223:
                        pass
                    else:
                        return None
            elif t == 3:
                self.read(3)
                n = struct.unpack(">i", self.read(4))[0]
                if n >= 0:
                    self.read(n)
                    continue
                body = self.read(-n)
                flags = struct.unpack(">I", body[:4])[0]
                self.last_body = body
                if want(flags):
                    return flags
            elif t == 2:
                continue
            else:
                return None
        return None

    def send_ext_clipboard_provide(self, text):
        import zlib
        data = text.encode() + b"\0"
        # like noVNC: a zlib stream flushed but not finished (libvncserver 0.9.14
        # rejects a finished stream whose end arrives with the text)
        z = zlib.compressobj()
        payload = z.compress(struct.pack(">I", len(data)) + data) + z.flush(zlib.Z_SYNC_FLUSH)
        body = struct.pack(">I", (1 << 28) | 1) + payload
        self.s.sendall(struct.pack(">Bxxxi", 6, -len(body)) + body)

    def send_ext(self, flags, payload=b""):
        body = struct.pack(">I", flags) + payload
        self.s.sendall(struct.pack(">Bxxxi", 6, -len(body)) + body)

    def read_ext_provide(self):
        """Reads server messages up to an extended provide; returns its text."""
        import zlib
        self.last_body = None
        flags = self.read_ext_clipboard(lambda f: f & (1 << 28))
        if flags is None:
            return None
        z = zlib.decompressobj()
        data = z.decompress(self.last_body[4:])
        n = struct.unpack(">I", data[:4])[0]
        text = data[4:4 + n].rstrip(b"\0").decode()
        return text.replace("\r\n", "\n")

    def closed_within(self, timeout):
        self.s.settimeout(timeout)
        try:
            while True:
                d = self.s.recv(65536)
                if not d:
                    return True
        except socket.timeout:
            return False
        except OSError:
            return True

    def close(self):
        self.s.close()


def t_hostile():
    with Session(config={"vnc": {"client_wait_ms": 300}}) as s:
        s.expect("READY")
        good = subprocess.Popen([VNCTEST, s.rfb, "wait-pixel", 50, 50, "ff0000", "wait-size",
                                 700, 500, "wait-pixel", 150, 50, "00ff00"] and
                                [VNCTEST, s.rfb, "wait-pixel", "50", "50", "ff0000",
                                 "wait-size", "700", "500", "wait-pixel", "150", "50",
                                 "00ff00"], stdout=subprocess.PIPE, text=True, env=TOOL_ENV)
        check(good.stdout.readline().startswith("OK wait-pixel"), "a well-behaved client is connected")

        cases = []
        c = RawRfb(s.rfb)
        c.read(12)
        c.s.sendall(os.urandom(4096))
        cases.append(("garbage instead of a protocol version", c))

        def normal():
            c = RawRfb(s.rfb)
            c.handshake()
            return c

        c = normal()
        c.s.sendall(b"\x06\0\0\0" + struct.pack(">I", 0x7fffffff) + b"abc")
        cases.append(("ClientCutText claiming 2 GiB, truncated", c))
        c = normal()
        c.s.sendall(b"\x06\0\0\0" + struct.pack(">i", -0x7fffffff) + b"\0\0\0")
        cases.append(("extended clipboard with a huge negative length", c))
        c = normal()
        c.s.sendall(b"\x02\0\xff\xff" + b"\0\0\0")
        cases.append(("SetEncodings announcing 65535 encodings, truncated", c))
        c = normal()
        c.s.sendall(b"\xc8" + os.urandom(64))
        cases.append(("unknown message type", c))
        c = normal()
        c.s.sendall(b"\x04\x01\0")
        cases.append(("KeyEvent cut short", c))
        c = normal()
        c.s.sendall(b"\xff\x07" + b"\0" * 10)
        cases.append(("QEMU message with an unknown subtype", c))
        c = normal()
        c.s.sendall(b"\xfb\0" + struct.pack(">HHB", 1024, 768, 255) + b"\0")
        cases.append(("SetDesktopSize with 255 screens, truncated", c))
        for what, c in cases:
            check(c.closed_within(10), "hostile client dropped: " + what)
            c.close()
        check(s.proc.poll() is None, "session survived the hostile clients")

        # an update after the attacks still reaches the good client
        s.vnc("resize", 700, 500, "wait-size", 700, 500)
        try:
            rest, _ = good.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            good.kill()
            fail("the good client stopped receiving updates")
        check(good.returncode == 0, "the other connected client kept working")
        s.vnc("wait-pixel", 50, 50, "ff0000")
        print("ok: new clients are still served")


def t_control():
    with Session() as s:
        s.expect("READY")
        for p in (s.control, s.wm, s.rfb):
            st = os.stat(p)
            check(stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600,
                  "%s is a socket with mode 0600" % os.path.basename(p))
        # xprobe said state on wm.sock before any broker was connected
        wait_for(lambda: os.path.exists(s.wm), "wm.sock")
        c = Ctl(s.control)
        h = c.recv()
        check(h["type"] == "hello" and h["v"] == 1 and h["role"] == "session" and
              h["versions"] == [1, 1] and h["session"] == "run", "session says hello (%s)" % h)
        c.send({"v": 1, "type": "hello", "role": "broker", "versions": [1, 1]})
        m = c.recv_type("state")
        check(m["state"] == {"probe": "hello"}, "the latest desktop state is relayed on hello")
        c.send({"v": 1, "type": "ping", "seq": 7, "t": 123})
        m = c.recv_type("pong")
        check(m["seq"] == 7 and m["t"] == 123, "ping is answered with the same seq and t")
        m = c.recv_type("ping")
        check(isinstance(m["seq"], int), "the session sends heartbeat pings")
        c.send({"v": 1, "type": "pong", "seq": m["seq"], "t": m["t"]})
        c.send({"v": 1, "type": "notify", "title": "Backup done", "body": "ok"})
        l = s.expect('WM {"v":1,"type":"notify"')
        check("Backup done" in l, "notify is relayed to the window manager")
        c.send({"v": 1, "type": "future-message", "x": 1})
        c.send({"v": 1, "type": "ping", "seq": 8})
        check(c.recv_type("pong")["seq"] == 8, "unknown message types are ignored")
        c.s.sendall(b"\0\0\0\0")
        m = c.recv_type("error")
        check("length" in m["msg"], "a bad frame gets an error (%s)" % m["msg"])
        check(c.recv() is None, "... and the connection is closed")

        c = Ctl(s.control)
        c.recv()
        c.send({"v": 1, "type": "ping", "seq": 1})
        m = c.recv_type("error")
        check("hello" in m["msg"], "a broker must say hello first")
        c = Ctl(s.control)
        c.recv()
        c.send({"v": 2, "type": "hello", "role": "broker", "versions": [2, 3]})
        m = c.recv_type("error")
        check("version" in m["msg"], "no common version is an error")
        check(c.recv() is None, "... and closes")

        # a broker that stops answering pings is dropped after 3 heartbeats
        c = Ctl(s.control)
        c.recv()
        c.send({"v": 1, "type": "hello", "role": "broker", "versions": [1, 1]})
        pings = 0
        while True:
            m = c.recv()
            if m is None:
                break
            pings += m["type"] == "ping"
        check(pings >= 3, "a silent broker is dropped after %d unanswered pings" % pings)
        check(s.proc.poll() is None, "session still running")


def t_lifecycle():
    r = subprocess.run([SESSION, "--print-default-config"], capture_output=True, text=True)
    cfg = json.loads(r.stdout)
    check(r.returncode == 0 and cfg["display"]["width"] == 1280 and
          cfg["desktop"]["restart"] is True, "--print-default-config prints the defaults")
    tmp = tempfile.mkdtemp()
    bad = os.path.join(tmp, "bad.json")
    with open(bad, "w") as f:
        json.dump({"display": {"width": 99999}}, f)
    r = subprocess.run([SESSION, "--config", bad, "--check-config"], capture_output=True,
                       text=True)
    check(r.returncode == 1 and "display.width" in r.stderr,
          "--check-config names the bad path (%s)" % r.stderr.strip())
    r = subprocess.run([SESSION, "--runtime-dir", tmp, "--geometry", "12x"], capture_output=True,
                       text=True)
    check(r.returncode == 2 and "geometry" in r.stderr, "a bad --geometry is refused")
    shutil.rmtree(tmp)

    probe = "echo ENV \"$DISPLAY\" \"$ARGOBOX_RUNTIME_DIR\" \"$ARGOBOX_WM_SOCKET\"; exec %s" % XPROBE
    with Session(desktop=["sh", "-c", probe]) as s:
        env = s.expect("ENV ").split()
        check(env[1].startswith(":") and env[2] == s.dir and env[3] == s.wm,
              "desktop command gets DISPLAY, ARGOBOX_RUNTIME_DIR, ARGOBOX_WM_SOCKET")
        s.expect("READY")
        tcp = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout
        check("pid=%d," % s.proc.pid not in tcp, "the session listens on no TCP port")
        kids = s.children()
        xvfb = [p for p in kids if not is_desktop(p)]
        desk = [p for p in kids if is_desktop(p)]
        check(len(xvfb) == 1 and len(desk) == 1, "two children: Xvfb and the desktop command")
        os.kill(desk[0], signal.SIGKILL)
        s.expect("ENV ")
        s.expect("READY")
        print("ok: the desktop command is restarted after it dies")
        desk = [p for p in s.children() if is_desktop(p)]
        with open(os.path.join(s.tmp, "stderr")) as f:
            fbdir = [l.split("'")[1] for l in f if "framebuffer in" in l][0]
        check(os.path.isdir(fbdir), "framebuffer directory exists (%s)" % fbdir)
        s.proc.send_signal(signal.SIGTERM)
        rc = s.proc.wait(20)
        check(rc == 0, "SIGTERM: clean exit (status %d)" % rc)
        check(not pid_alive(xvfb[0]), "no leftover Xvfb")
        check(not any(pid_alive(p) for p in desk), "no leftover desktop command")
        check(not os.path.exists(fbdir), "framebuffer directory removed")
        check(not os.path.exists(s.rfb) and not os.path.exists(s.control),
              "sockets removed")

    with Session() as s:
        s.expect("READY")
        kids = s.children()
        xvfb = [p for p in kids if not is_desktop(p)][0]
        desk = [p for p in kids if is_desktop(p)]
        os.kill(xvfb, signal.SIGKILL)
        rc = s.proc.wait(20)
        check(rc != 0, "Xvfb dying makes the session exit non-zero (%d)" % rc)
        wait_for(lambda: not any(pid_alive(p) for p in desk), "desktop command to go away")
        print("ok: the desktop command does not outlive the session")


def t_clipboard_incr():
    """Large X selections arrive by INCR; beyond vnc.clipboard_max they are refused."""
    if not shutil.which("xclip"):
        skip("xclip is not installed")
    # no xprobe: it would ask xclip for the selection too and stall it (no INCR there)
    s = Session(config={"vnc": {"clipboard_max": 3 << 20}}, desktop=["sleep", "600"])
    owners = []
    with dumping(s, lambda: kill_all(owners)):
        env = s.x_env()
        c = RawRfb(s.rfb)
        c.handshake()
        c.set_encodings([0])  # a classic client: Latin-1 ServerCutText; no update requested

        def own(text):
            owners.append(xclip_own(text, env))

        def next_cut():
            while True:
                t = c.read(1)[0]
                check(t == 3, "only ServerCutText arrives without update requests (got %d)" % t)
                c.read(3)
                n = struct.unpack(">i", c.read(4))[0]
                return c.read(n).decode("latin-1")

        # xclip hands anything over ~1 MB out incrementally
        big = "".join("line %07d %s\n" % (i, "x" * 40) for i in range(40000))  # 2.1 MB
        own(big)
        got = next_cut()
        check(got == big, "a %d-byte INCR selection reaches the client intact (got %d bytes)"
              % (len(big), len(got)))
        check("incremental transfer started" in s.log(),
              "the transfer was incremental")
        print("ok: %d bytes by INCR" % len(big))
        # over the cap: refused with a warning, nothing sent, the session carries on
        huge = "y" * (4 << 20)
        own(huge)
        wait_for(lambda: "larger than" in s.log(),
                 "the oversized selection warning")
        small = "small after huge"
        own(small)
        got = next_cut()
        check(got == small, "the next selection arrives, the oversized one did not (%d bytes)"
              % len(got))
        c.close()


# extended clipboard flags (rfbproto: Extended Clipboard Pseudo-Encoding)
EXT_TEXT, EXT_CAPS, EXT_REQUEST, EXT_PEEK, EXT_NOTIFY, EXT_PROVIDE = \
    1, 1 << 24, 1 << 25, 1 << 26, 1 << 27, 1 << 28
EXT_ENCODING = 0xC0A1E5CE - (1 << 32)

# CJK, emoji (incl. a ZWJ sequence), combining marks, RTL (Hebrew, Arabic), mixed lines
UNICODE_TEXTS = [
    "Gr\u00fc\u00dfe \u2013 \u6771\u4eac \u2013 \U0001f642",
    "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8 \ud55c\uad6d\uc5b4 \u4e2d\u6587",
    "\U0001f600\U0001f468\u200d\U0001f469\u200d\U0001f467 \U0001f3f3\ufe0f\u200d\U0001f308",
    "e\u0301 n\u0303 a\u0308\u0304 \u1e9b\u0323",
    "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd \u0645\u0631\u062d\u0628\u0627 "
    "\u0628\u0627\u0644\u0639\u0627\u0644\u0645",
    "two\nlines \u2603\n",
]


def t_clipboard_ext():
    """The extended clipboard as noVNC 1.7 speaks it: our caps carry notify, a client's notify
    is answered with a request and its provide lands on the X clipboard (X requests made in
    between wait for it); X text goes out as notify -> request -> provide. UTF-8, up to 1 MB."""
    if not shutil.which("xclip"):
        skip("xclip is not installed")
    s = Session(desktop=["sleep", "600"])
    owners = []
    with dumping(s, lambda: kill_all(owners)):
        env = s.x_env()
        c = RawRfb(s.rfb)
        c.handshake()
        c.set_encodings([0, -223, EXT_ENCODING])
        caps = c.read_ext_clipboard(lambda f: f & EXT_CAPS and f & EXT_NOTIFY)
        check(caps is not None and caps & EXT_TEXT and caps & EXT_REQUEST,
              "the server announces caps with text, notify and request")
        # noVNC's answer (it sets format bit 1 with size 0: it takes no unsolicited text)
        c.send_ext(EXT_CAPS | EXT_REQUEST | EXT_PEEK | EXT_NOTIFY | EXT_PROVIDE | 2,
                   struct.pack(">I", 0))

        def paste(text):
            c.send_ext(EXT_NOTIFY | EXT_TEXT)
            req = c.read_ext_clipboard(lambda f: f & EXT_REQUEST)
            check(req == EXT_REQUEST | EXT_TEXT, "a notify is answered with a text request")
            # an X paste now waits for the text instead of getting the old one
            out = subprocess.Popen(["xclip", "-o", "-selection", "clipboard"],
                                   stdout=subprocess.PIPE, env=env)
            time.sleep(0.2)  # give xclip time to ask
            check(out.poll() is None, "an X request made before the text came is held")
            t0 = time.monotonic()
            c.send_ext_clipboard_provide(text)
            got = out.communicate(timeout=TIMEOUT)[0].decode("utf-8", "replace")
            return got, time.monotonic() - t0

        for text in UNICODE_TEXTS:
            got, _ = paste(text)
            check(got == text, "client text reaches X exactly: %r" % text)
        unit = "Gr\u00fc\u00dfe \u6771\u4eac \U0001f642 e\u0301 \u05e9\u05dc\u05d5\u05dd\n"
        big = (unit * (1000000 // len(unit.encode()) + 1)).encode()[:1000000]
        big = big.decode("utf-8", "ignore")
        got, dt = paste(big)
        check(got == big, "%d bytes of UTF-8 reach X intact (got %d) in %.0f ms"
              % (len(big.encode()), len(got.encode()), dt * 1000))

        def copy(text):
            owners.append(xclip_own(text, env))
            t0 = time.monotonic()
            n = c.read_ext_clipboard(lambda f: f & EXT_NOTIFY)
            check(n == EXT_NOTIFY | EXT_TEXT, "X text is announced with a notify")
            c.send_ext(EXT_REQUEST | EXT_TEXT)
            got = c.read_ext_provide()
            return got, time.monotonic() - t0

        for text in UNICODE_TEXTS + [big]:
            got, dt = copy(text)
            check(got == text, "X text reaches the client exactly: %r (%.0f ms)"
                  % (text[:40], dt * 1000))
        # a notify that is never followed by the text: X requests are refused, not stuck
        c.send_ext(EXT_NOTIFY | EXT_TEXT)
        c.read_ext_clipboard(lambda f: f & EXT_REQUEST)
        c.close()
        r = subprocess.run(["xclip", "-o", "-selection", "clipboard"], capture_output=True,
                           env=env, timeout=TIMEOUT)
        check(r.returncode != 0 or r.stdout == b"",
              "an offer withdrawn by a leaving client is refused (%r)" % r.stdout[:40])


def t_kbd_hint():
    """The browser's keyboard layout: our pseudo-encoding is acknowledged with a pseudo-rect,
    the hint message lands on the root window as _ARGOBOX_KBD_HINT (for the window manager);
    a name that is not an XKB layout is ignored, an oversized one drops the client."""
    if not shutil.which("xprop"):
        skip("xprop is not installed")
    with dumping(Session(desktop=["sleep", "600"])) as s:
        env = s.x_env()
        hint = lambda: subprocess.run(["xprop", "-root", "_ARGOBOX_KBD_HINT"], env=env,
                                      capture_output=True, text=True).stdout.strip()
        c = RawRfb(s.rfb)
        c.handshake()
        c.set_encodings([0, 0x41424b01])
        t, _, n = struct.unpack(">BBH", c.read(4))
        x, y, w, h, e = struct.unpack(">HHHHi", c.read(12))
        check(t == 0 and n == 1 and e == 0x41424b01, "the pseudo-encoding is acknowledged")

        def send(name):
            b = name.encode()
            c.s.sendall(struct.pack(">BBH", 240, 0, len(b)) + b)

        send("de(nodeadkeys)")
        wait_for(lambda: '"de(nodeadkeys)"' in hint(), "the hint on the root window")
        print("ok: " + hint())
        send("../etc/passwd")
        send("fr")
        wait_for(lambda: '"fr"' in hint(), "the next hint")
        check("not an XKB layout name" in s.log(), "a bad name is ignored with a warning")
        send("x" * 300)
        check(c.closed_within(5), "an oversized hint drops the client")


def t_scroll():
    """A scrolling xterm (no jump scroll) ends up on the client exactly as on the screen,
    with scrolls sent as CopyRect (checked against Xvfb's own framebuffer file)."""
    if not shutil.which("xterm"):
        skip("xterm is not installed")
    # the shell waits for the client to be connected (a condition, polled), then scrolls
    # line by line, paced (10 ms a line) so that updates catch it mid-scroll
    script = ("while [ ! -e %s ]; do sleep 0.02; done; i=0; while [ $i -lt 150 ]; do "
              "i=$((i+1)); echo \"line $i $(date +%%N)\"; sleep 0.01; done; touch %s; "
              "exec sleep 600")
    with xterm_desktop("ab-scroll-", "800x600", ["+j", "-geometry", "80x30+10+10"],
                       script) as (s, go, done, xwd):
        for enc in ("zrle copyrect", "tight copyrect raw"):
            for p in (go, done):
                if os.path.exists(p):
                    os.unlink(p)
            TOOL_ENV["VNCTEST_ENCODINGS"] = enc
            s.vnc("wait-screen", xwd, "touch", go, "wait-file", done, "wait-screen", xwd)
            print("ok: after scrolling, the client (%s) shows exactly the screen" % enc)
            if enc.startswith("zrle"):
                # the next round needs the shell again
                break
        del TOOL_ENV["VNCTEST_ENCODINGS"]
        check(re.search(r"copy -?\d+,-?[1-9]", s.log()) is not None,
              "scrolls were detected and sent as CopyRect")


def t_move():
    """A window dragged around while its content changes ends up on the client exactly as on
    the screen, with the moves sent as CopyRect."""
    if not shutil.which("xterm") or not shutil.which("xdotool"):
        skip("xterm or xdotool is not installed")
    # xterm moves its own window ($WINDOWID), paced, once the client is connected, and prints
    # a line at every step (the window's content changes while it moves)
    script = ("seq 1 20; while [ ! -e %s ]; do sleep 0.02; done; i=0; while [ $i -lt 30 ]; do "
              "i=$((i+1)); echo step $i; xdotool windowmove $WINDOWID $((10+i*9)) $((10+i*6)); "
              "sleep 0.02; done; touch %s; exec sleep 600")
    with xterm_desktop("ab-move-", "800x600", ["-geometry", "60x20+10+10"],
                       script) as (s, go, done, xwd):
        s.vnc("wait-screen", xwd, "touch", go, "wait-file", done, "wait-screen", xwd)
        print("ok: after the drag, the client shows exactly the screen")
        check(re.search(r"copy -?[1-9]\d*,-?[1-9]", s.log()) is not None,
              "window moves were detected and sent as CopyRect")


def t_format():
    """ServerInit announces Xvfb's real pixel format, 32 bpp depth 24 (libvncserver's default
    says depth 32, which made every usual depth-24 client's pixels go through translation)."""
    with Session() as s:
        s.expect("READY")
        c = RawRfb(s.rfb)
        v = c.read(12)
        check(v.startswith(b"RFB 003."), "an RFB greeting")
        c.s.sendall(b"RFB 003.008\n")
        c.read(c.read(1)[0])
        c.s.sendall(b"\x01")
        c.read(4)
        c.s.sendall(b"\x01")
        hdr = c.read(24)
        bpp, depth, big, true_colour = hdr[4], hdr[5], hdr[6], hdr[7]
        maxes = struct.unpack(">HHH", hdr[8:14])
        shifts = tuple(hdr[14:17])
        check((bpp, depth, true_colour != 0) == (32, 24, True),
              "32 bpp, depth 24, true colour (got %d, %d, %d)" % (bpp, depth, true_colour))
        check(maxes == (255, 255, 255) and shifts == (16, 8, 0) and big == 0,
              "red at bit 16, 8 bits a channel, little endian (got %r %r %d)"
              % (maxes, shifts, big))
        c.s.close()


def t_drag():
    """Windows that jump far (a drag's moves arriving in bursts) go out as CopyRect by the
    shift the X server reports for the window (ConfigureNotify), and the client ends up
    showing exactly the screen."""
    if not shutil.which("xterm") or not shutil.which("xdotool"):
        skip("xterm or xdotool is not installed")
    # jumps of 300+ px: farther than fbdiff's own search for moved blocks (200 px)
    script = ("seq 1 20; while [ ! -e %s ]; do sleep 0.02; done; for x in 400 20 430 60 380; do "
              "xdotool windowmove $WINDOWID $x 30; sleep 0.1; done; touch %s; exec sleep 600")
    with xterm_desktop("ab-drag-", "900x500", ["-geometry", "60x20+10+30"],
                       script) as (s, go, done, xwd):
        s.vnc("wait-screen", xwd, "touch", go, "wait-file", done, "wait-screen", xwd)
        print("ok: after the jumps, the client shows exactly the screen")
        far = [int(d) for d in re.findall(r"copy (-?\d+),0\b", s.log()) if abs(int(d)) > 200]
        check(len(far) > 0, "a window jump beyond 200 px was sent as CopyRect (%r)" % far)
        print("ok: window jumps of %s px went out as CopyRect" % far)


class TightClient(RawRfb):
    """A raw RFB client that asks for Tight and keeps every rectangle's bytes as sent, decoding
    its zlib data with four streams of its own as a Tight client must (reset bits honoured):
    a server that sends data on a stream the client's history does not match makes zlib fail
    here, as it made libvncclient hang up."""

    def __init__(self, path, encs, pixel_format=None):
        super().__init__(path)
        self.handshake()
        self.tpixel = 3
        if pixel_format:
            bpp, depth, rmax, gmax, bmax, rs, gs, bs = pixel_format
            self.s.sendall(struct.pack(">BxxxBBBBHHHBBBxxx", 0, bpp, depth, 0, 1, rmax, gmax,
                                       bmax, rs, gs, bs))
            self.tpixel = bpp // 8
        self.set_encodings(encs)
        self.z = [None] * 4
        self.zlib_rects = 0

    def compact(self):
        n, shift, raw = 0, 0, b""
        for _ in range(3):
            b = self.read(1)
            raw += b
            n |= (b[0] & 0x7f) << shift
            shift += 7
            if not b[0] & 0x80:
                break
        return n, raw

    def tight_rect(self, w, h):
        import zlib
        ctl = self.read(1)[0]
        body = bytes([ctl])
        for i in range(4):
            if ctl & (1 << i):
                # noVNC's inflater cannot restart a stream it has used (pako's inflateReset)
                check(self.z[i] is None, "no reset of zlib stream %d, which this client has "
                      "used (noVNC cannot take it)" % i)
        kind = ctl >> 4
        if kind == 8:
            return body + self.read(self.tpixel)
        if kind == 9:
            n, raw = self.compact()
            return body + raw + self.read(n)
        check(kind < 8, "a valid Tight compression control (%#x)" % ctl)
        stream, filt = kind & 3, 0
        if kind & 4:
            filt = self.read(1)[0]
            body += bytes([filt])
        size = w * h * self.tpixel
        if filt == 1:
            n = self.read(1)[0] + 1
            body += bytes([n - 1]) + self.read(n * self.tpixel)
            size = (w + 7) // 8 * h if n == 2 else w * h
        if size < 12:
            return body + self.read(size)
        n, raw = self.compact()
        data = self.read(n)
        if self.z[stream] is None:
            self.z[stream] = zlib.decompressobj()
        try:
            out = self.z[stream].decompress(data)
        except zlib.error as e:
            fail("zlib stream %d does not decode (%s): the server used history this client "
                 "does not have" % (stream, e))
        self.zlib_rects += 1
        check(len(out) == size, "zlib stream %d gave the rectangle's %d bytes (%d)"
              % (stream, size, len(out)))
        return body + raw + data

    def update(self, x=0, y=0, w=None, h=None):
        """Asks for a non-incremental update of the rectangle (the whole screen by default)
        and returns its Tight rectangles as (header, bytes) in order."""
        w, h = w or self.w, h or self.h
        self.s.sendall(struct.pack(">BBHHHH", 3, 0, x, y, w, h))
        while True:
            t = self.read(1)[0]
            if t == 0:
                break
            check(t == 2, "only updates and bells before the update (got type %d)" % t)
        self.read(1)
        n = struct.unpack(">H", self.read(2))[0]
        rects = []
        while n == 0xffff or len(rects) < n:
            hdr = self.read(12)
            rx, ry, rw, rh, e = struct.unpack(">HHHHi", hdr)
            if e == -224:  # LastRect
                break
            if e == 7:
                rects.append((hdr, self.tight_rect(rw, rh)))
            elif e == -239:  # RichCursor: pixels and mask
                self.read(rw * rh * (4 if self.tpixel == 3 else self.tpixel) +
                          (rw + 7) // 8 * rh)
                n -= n != 0xffff
            elif e == -223:
                n -= n != 0xffff
            else:
                fail("unexpected rectangle encoding %d" % e)
        return rects


def t_replay():
    """The first-frame cache: a second new client of the same format gets the first client's
    whole-screen frame byte for byte, and both decode everything after it on the same zlib
    streams, none ever reset (noVNC cannot restart a used stream); a client asking for the
    whole screen again (libvncclient does at connect) gets a fresh encoding on its own
    streams, not the replay (which broke its zlib); a client of another pixel format, or
    another quality, gets its own encoding."""
    with Session() as s:
        s.expect("READY")
        s.vnc("wait-pixel", 50, 50, "ff0000", "wait-pixel", 150, 50, "00ff00",
              "wait-pixel", 100, 150, "0000ff")
        replays = lambda: len(re.findall(r"first frame from the cache", s.log()))
        novnc = [7, -224, -239, -256 + 2, -32 + 6]  # Tight, LastRect, cursor, compress 2, q 6
        a = TightClient(s.rfb, novnc)
        before = replays()
        fa = a.update()
        check(len(fa) > 0, "the first client gets Tight rectangles (%d)" % len(fa))
        check(replays() == before, "the first client's frame is freshly encoded")
        b = TightClient(s.rfb, novnc)
        fb = b.update()
        wait_for(lambda: replays() == before + 1, "the second client's replay in the log")
        check(fb == fa, "the replay is byte-identical to the first client's fresh encoding "
              "(%d and %d rectangles)" % (len(fb), len(fa)))
        print("ok: a second client gets the first frame from the cache, byte for byte "
              "(%d rectangles, %d bytes)" % (len(fb), sum(len(h) + len(d) for h, d in fb)))
        for c, name in ((a, "first"), (b, "second")):
            again = c.update()
            check(len(again) > 0, "the %s client's second whole-screen request decodes" % name)
            used = c.zlib_rects
            part = c.update(0, 0, 200, 200)
            check(len(part) > 0 and c.zlib_rects > used,
                  "a partial update after it decodes on the same streams, zlib data included")
        check(replays() == before + 1, "clients that decoded a frame get no replay (%d)"
              % (replays() - before))
        print("ok: both clients decode a second whole-screen request (encoded afresh on their "
              "streams) and an update after it, no stream reset")
        c16 = TightClient(s.rfb, novnc, pixel_format=(16, 16, 31, 63, 31, 11, 5, 0))
        f16 = c16.update()
        check(len(f16) > 0 and replays() == before + 1,
              "a 16 bpp client gets its own encoding, not the replay")
        lossless = TightClient(s.rfb, novnc[:-1])
        fl = lossless.update()
        check(len(fl) > 0 and replays() == before + 1,
              "a client without a quality level gets its own encoding, not the replay")
        print("ok: clients of another pixel format or quality get their own encoding")
        for c in (a, b, c16, lossless):
            c.close()
        s.vnc("wait-pixel", 150, 50, "00ff00", "wait-pixel", 100, 150, "0000ff")
        print("ok: libvncclient (two whole-screen requests at connect) still sees the screen")

TESTS = {"pixels": t_pixels, "input": t_input, "clipboard": t_clipboard, "resize": t_resize,
         "grow": t_grow, "hostile": t_hostile, "control": t_control, "lifecycle": t_lifecycle,
         "clipboard_incr": t_clipboard_incr, "clipboard_ext": t_clipboard_ext,
         "kbd_hint": t_kbd_hint, "scroll": t_scroll,
         "move": t_move, "drag": t_drag, "format": t_format, "replay": t_replay}

if __name__ == "__main__":
    for p in (SESSION, VNCTEST, XPROBE):
        if not os.access(p, os.X_OK):
            skip("%s is not built" % p)
    if not shutil.which("Xvfb"):
        skip("Xvfb is not installed")
    TESTS[sys.argv[1]]()
    print("PASS")
