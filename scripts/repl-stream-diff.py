#!/usr/bin/env python3
"""Compare the replication stream of Shoal and redis-server for the same
commands. Attaches a raw PSYNC client to each server, runs a script of
commands on both, and prints the propagated commands side by side.

usage: repl-stream-diff.py <shoal-port> <redis-port>
Time-dependent arguments (PXAT values) are normalised to 'T'.
"""
import socket, sys, time, re

def resp(argv):
    out = b"*%d\r\n" % len(argv)
    for a in argv:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out

class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.buf = b""
    def fill(self, timeout=5):
        self.s.settimeout(timeout)
        d = self.s.recv(1 << 16)
        if not d:
            raise EOFError
        self.buf += d
    def line(self):
        while b"\r\n" not in self.buf:
            self.fill()
        l, self.buf = self.buf.split(b"\r\n", 1)
        return l
    def reply(self):
        l = self.line()
        if l[:1] == b"$":
            n = int(l[1:])
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self.fill()
            v, self.buf = self.buf[:n], self.buf[n + 2:]
            return v
        if l[:1] == b"*":
            return [self.reply() for _ in range(int(l[1:]))]
        return l
    def cmd(self, *argv):
        self.s.sendall(resp(argv))
        return self.reply()

def attach(port):
    c = Conn(port)
    c.cmd("REPLCONF", "listening-port", "1")
    c.s.sendall(resp(["PSYNC", "?", "-1"]))
    while True:
        while c.buf.startswith(b"\n"):
            c.buf = c.buf[1:]
        if b"\r\n" in c.buf:
            break
        c.fill(30)
    c.line()  # +FULLRESYNC
    while True:
        while c.buf.startswith(b"\n"):
            c.buf = c.buf[1:]
        if b"\r\n" in c.buf:
            break
        c.fill(30)
    hdr = c.line()
    n = int(hdr[1:])
    while len(c.buf) < n:
        c.fill(30)
    c.buf = c.buf[n:]
    return c

def drain(c, secs=1.0):
    end = time.time() + secs
    while time.time() < end:
        try:
            c.fill(0.2)
        except socket.timeout:
            pass
    cmds = []
    while c.buf:
        cmds.append(c.reply())
    return cmds

SCRIPT = [
    ["SET", "a", "1", "EX", "100"], ["SETEX", "b", "100", "v"], ["PSETEX", "c", "100000", "v"],
    ["SET", "d", "v", "PX", "100000"], ["SET", "e", "v", "KEEPTTL"], ["EXPIRE", "a", "200"],
    ["PEXPIRE", "b", "200000"], ["EXPIREAT", "c", "4000000000"], ["GETEX", "d", "EX", "50"],
    ["GETEX", "d", "PERSIST"], ["EXPIRE", "e", "-1"], ["SET", "f", "v"], ["EXPIRE", "f", "0"],
    ["SADD", "s", "x"], ["SPOP", "s"], ["SADD", "s", "x", "y", "z"], ["SPOP", "s", "3"],
    ["INCRBYFLOAT", "fl", "1.5"], ["HINCRBYFLOAT", "h", "f", "2.5"],
    ["RPUSH", "l", "1", "2"], ["LPOP", "l"], ["BLPOP", "l", "0"], ["BLMOVE", "l", "l2", "LEFT", "RIGHT", "1"],
    ["MULTI"], ["INCR", "n"], ["INCR", "n"], ["EXEC"],
    ["MULTI"], ["INCR", "n"], ["EXEC"],
    ["SELECT", "3"], ["SET", "x", "1"], ["SELECT", "0"], ["SET", "y", "1"],
    ["SET", "g", "v", "PX", "1"], ["SLEEP"], ["GET", "g"],
    ["PERSIST", "a"], ["GETDEL", "y"], ["SET", "y", "2", "GET"], ["RENAME", "y", "y2"],
    ["ZADD", "z", "1", "a"], ["ZPOPMIN", "z"], ["BZPOPMIN", "z", "0.01"],
    ["DEL", "nokey"], ["FLUSHDB"],
    ["BGBLPOP"], ["RPUSH", "bl", "a", "b"], ["BGREPLY"],
    ["BGBLMOVE"], ["LPUSH", "bm", "x"], ["BGREPLY"],
    ["BGBZPOP"], ["ZADD", "bz", "1", "m"], ["BGREPLY"],
    ["PUBLISH", "ch", "msg"], ["SETRANGE", "sr", "2", "ab"], ["APPEND", "sr", "c"],
    ["MSET", "m1", "1", "m2", "2"], ["MSETNX", "m1", "1", "m3", "3"], ["DECRBY", "m1", "5"],
    ["GETSET", "m2", "9"], ["RPUSH", "src", "1", "2"], ["LMOVE", "src", "dst", "LEFT", "RIGHT"],
    ["RPOPLPUSH", "src", "dst"], ["SADD", "sa", "1", "2"], ["SMOVE", "sa", "sb", "1"],
    ["SINTERSTORE", "si", "sa", "sb"], ["ZINCRBY", "zz", "2.5", "m"], ["ZADD", "zz", "INCR", "1", "m"],
    ["EXPIRE", "nokey", "10"], ["SET", "m1", "x", "NX"], ["COPY", "m1", "m9"], ["UNLINK", "m9"],
    ["SWAPDB", "0", "1"], ["SWAPDB", "0", "1"], ["HSETNX", "hh", "f", "v"], ["HDEL", "hh", "f"],
    ["SET", "lz", "v", "PX", "20"], ["SLEEP"], ["EXISTS", "lz"],
    ["SET", "ax", "v", "PX", "20"], ["SLEEP200"],
    ["LPUSH", "lp", "a", "b", "c"], ["LREM", "lp", "1", "a"], ["LTRIM", "lp", "0", "0"], ["LSET", "lp", "0", "z"],
    ["INCR", "ctr"], ["INCRBY", "ctr", "5"], ["GETRANGE", "sr", "0", "1"],
    ["EXPIRETIME", "a"], ["PEXPIRE", "a", "-5"],
    ["SET", "b1", "v", "EXAT", "4000000000"], ["SET", "b2", "v", "PXAT", "4000000000000", "GET"],
    ["RESTORE", "rk", "1000", b"\x00\x01v\x0a\x00\x92\x8f\x1a\xc6\xa1\x7f\x1c\x9f"],
    ["FLUSHALL"],
]

BG = {
    "BGBLPOP": ["BLPOP", "bl", "5"],
    "BGBLMOVE": ["BLMOVE", "bm", "bm2", "LEFT", "LEFT", "5"],
    "BGBZPOP": ["BZPOPMIN", "bz", "5"],
}

def run(port):
    c = Conn(port)
    bg = Conn(port)
    for argv in SCRIPT:
        if argv == ["SLEEP"]:
            time.sleep(0.05)
        elif argv == ["SLEEP200"]:
            time.sleep(0.3)
        elif argv[0] in BG:
            bg.s.sendall(resp(BG[argv[0]]))
            time.sleep(0.1)
        elif argv == ["BGREPLY"]:
            bg.reply()
        else:
            c.cmd(*argv)

def norm(cmds):
    out = []
    for cmd in cmds:
        if cmd == [b"PING"]:
            continue  # periodic, timing-dependent
        if not isinstance(cmd, list):
            out.append(repr(cmd))
            continue
        s = [x.decode(errors="replace") if isinstance(x, bytes) else str(x) for x in cmd]
        for i in range(1, len(s)):
            if s[i - 1].upper() in ("PXAT", "EXAT") or (s[0].upper() in ("PEXPIREAT", "EXPIREAT") and i == 2):
                s[i] = "T"
        out.append(" ".join(s))
    return out

def main():
    shoal, redis = int(sys.argv[1]), int(sys.argv[2])
    streams = []
    for port in (shoal, redis):
        c = attach(port)
        drain(c, 0.3)
        run(port)
        streams.append(norm(drain(c, 1.0)))
    a, b = streams
    width = max([len(x) for x in a] + [10])
    bad = 0
    for i in range(max(len(a), len(b))):
        x = a[i] if i < len(a) else ""
        y = b[i] if i < len(b) else ""
        mark = " " if x == y else "!"
        bad += x != y
        print(f"{mark} {x:<{width}} | {y}")
    print(f"{bad} differing lines")
    return 1 if bad else 0

sys.exit(main())
