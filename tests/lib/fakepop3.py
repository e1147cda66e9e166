#!/usr/bin/env python3
"""fakepop3.py — a scripted fake POP3 server for popfetch's hostile-server tests.

This file owns the scripted server: it plays a transcript to each client,
checks what the client sends, and records both directions in a log.  Standard
library only.

Usage:
  python3 tests/lib/fakepop3.py --transcript FILE --port-file PATH
      [--addr 127.0.0.1] [--port N] [--tls-cert CERT --tls-key KEY]
      [--implicit-tls] [--log LOGFILE] [--connections N] [--timeout SECONDS]

It binds --port (default 0: any free port) on --addr, writes the port number to --port-file (atomically:
temp file + rename), accepts N connections one after another (default 1),
plays the whole transcript on each, and exits:
  0  every connection followed the transcript
  1  a mismatch, a timeout or an unexpected error (explained on stderr and in
     the log); the server stops at the first failing connection
  2  usage error (bad options, unreadable or malformed transcript)
--timeout (default 30 s) bounds the whole run, waiting for connections
included; it never hangs forever.

Transcript: one directive per line; blank lines and lines starting with '#'
are ignored.  The text after "S: ", "C: " etc. is taken literally, trailing
spaces included.
  S: text            send text + CRLF ("S:" alone sends an empty line)
  S+ text            send text with no line end
  SX: text           send text with Python escapes decoded (\\r, \\n, \\x00,
                     \\xff...) as bytes, no line end added
  SLF: text          send text + LF only
  C: text            expect one client line equal to text (CR/LF stripped)
  C: ~REGEX          expect one client line matching REGEX (re.fullmatch)
  C*                 read one client line and accept whatever it is
  SEND-FILE path     send a file's bytes as they are
  SEND-REPEAT n text send text + CRLF n times
  SEND-BYTES n b     send n copies of the byte b, a Python escape ("x",
                     "\\x00", "\\r")
  MESSAGE path       send a file as a POP3 multi-line body: LF -> CRLF,
                     dot-stuffing, then ".\\r\\n" (the "+OK" line is yours)
  TRICKLE secs text  send text + CRLF one byte at a time, pausing secs
                     (float) before each byte: a server that trickles
  STARTTLS           start TLS (server side) now; needs --tls-cert/--tls-key
  SLEEP seconds      pause (float)
  STALL              send nothing more; wait until the client closes
  EXPECT-CLOSE       wait for the client to close; a line instead = mismatch
  CLOSE              close the connection now (must be the last directive)
Relative paths are resolved against the transcript's directory.

When the client goes away early (closed, reset, or it refused the TLS
handshake), further send directives are skipped, SLEEP/STALL/EXPECT-CLOSE/
CLOSE succeed, and the next C:/C* directive is the mismatch.  So a test that
expects the client to give up writes EXPECT-CLOSE where it should.
At the end of the transcript (or at CLOSE) the server closes normally: TLS
close_notify if TLS is on, then FIN, then it reads (and logs) whatever the
client still sends until it closes, for up to 2 s, so no RST is provoked.

Log (--log, appended, binary, written as it happens):
  C> <line as received>   every byte the client sent (decrypted under TLS),
                          one entry per line with its CR/LF as received, so
                          "C> PASS secret" is followed by \r\n; a last line
                          without LF ends in " [no line end]"
  S> <line>               what the server sent, one entry per line, each cut
                          to 200 bytes; a send of more than 20 lines logs its
                          first 20 and a "S> [... N more lines ...]" summary;
                          SEND-BYTES logs "S> [SEND-BYTES: n x b'x']"
  ** <secs> <event>       connections, TLS, closes, mismatches (seconds since
                          start); failures read "** <secs> MISMATCH: ..."
C> entries are written when the bytes arrive, so pipelined commands may be
logged before the S> replies to earlier ones.
"""

import argparse
import codecs
import os
import re
import signal
import socket
import ssl
import sys
import time

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2

LOG_LINE_MAX = 200      # bytes of each sent line kept in the log
LOG_LINES_MAX = 20      # sent lines logged per directive
CHUNK = 64 * 1024       # send size for big directives
DRAIN_SECONDS = 2.0     # how long a closing server waits for the client's EOF


class UsageError(Exception):
    pass


class Mismatch(Exception):
    """The client did not follow the transcript (or time ran out)."""


class PeerGone(Exception):
    """The client closed or reset the connection while we were sending."""


# --------------------------------------------------------------------------
# Transcript parsing

SEND_DIRECTIVES = {"S:", "S+", "SX:", "SLF:", "SEND-FILE", "SEND-REPEAT", "SEND-BYTES",
                   "MESSAGE", "TRICKLE"}


def parse_transcript(path):
    """Return a list of (lineno, op, arg) tuples; raise UsageError."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise UsageError(f"cannot read transcript: {e}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UsageError(f"transcript is not UTF-8: {e}")
    base = os.path.dirname(os.path.abspath(path))
    out = []
    for lineno, line in enumerate(text.split("\n"), 1):
        if line.endswith("\r"):
            line = line[:-1]
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue

        def bad(msg):
            return UsageError(f"{path}:{lineno}: {msg}: {line!r}")

        def rest(prefix):
            # "S: text" -> "text"; "S:" -> ""
            r = line[len(prefix):]
            return r[1:] if r.startswith(" ") else r

        def resolve(p):
            p = os.path.join(base, p) if not os.path.isabs(p) else p
            if not os.path.isfile(p) or not os.access(p, os.R_OK):
                raise bad(f"cannot read file {p}")
            return p

        word = line.split(None, 1)[0]
        arg_text = line[len(word):].strip()
        if line.startswith("SLF:"):
            out.append((lineno, "SLF:", rest("SLF:")))
        elif line.startswith("S:"):
            out.append((lineno, "S:", rest("S:")))
        elif line.startswith("S+"):
            out.append((lineno, "S+", rest("S+")))
        elif line.startswith("SX:"):
            try:
                raw = codecs.decode(rest("SX:"), "unicode_escape")
                out.append((lineno, "SX:", raw.encode("latin-1")))
            except (UnicodeDecodeError, UnicodeEncodeError, ValueError) as e:
                raise bad(f"bad escape ({e})")
        elif line.startswith("C:"):
            t = rest("C:")
            if t.startswith("~"):
                try:
                    out.append((lineno, "C~", re.compile(t[1:])))
                except re.error as e:
                    raise bad(f"bad regex ({e})")
            else:
                out.append((lineno, "C:", t))
        elif word == "C*" and not arg_text:
            out.append((lineno, "C*", None))
        elif word in ("SEND-FILE", "MESSAGE"):
            if not arg_text:
                raise bad("missing path")
            out.append((lineno, word, resolve(arg_text)))
        elif word == "SEND-REPEAT":
            parts = line.split(" ", 2)
            if len(parts) < 2 or not parts[1].isdigit():
                raise bad("usage: SEND-REPEAT n text")
            out.append((lineno, word, (int(parts[1]), parts[2] if len(parts) > 2 else "")))
        elif word == "SEND-BYTES":
            parts = arg_text.split()
            if len(parts) != 2 or not parts[0].isdigit():
                raise bad("usage: SEND-BYTES n byte")
            try:
                b = codecs.decode(parts[1], "unicode_escape")
            except (UnicodeDecodeError, ValueError) as e:
                raise bad(f"bad escape ({e})")
            if len(b) != 1 or ord(b) > 255:
                raise bad("the byte must be exactly one byte")
            out.append((lineno, word, (int(parts[0]), bytes([ord(b)]))))
        elif word == "TRICKLE":
            parts = line.split(" ", 2)
            try:
                secs = float(parts[1]) if len(parts) > 1 else -1.0
            except ValueError:
                secs = -1.0
            if secs < 0:
                raise bad("usage: TRICKLE seconds text")
            out.append((lineno, word, (secs, parts[2] if len(parts) > 2 else "")))
        elif word == "SLEEP":
            try:
                secs = float(arg_text)
            except ValueError:
                raise bad("usage: SLEEP seconds")
            if secs < 0:
                raise bad("negative SLEEP")
            out.append((lineno, word, secs))
        elif word in ("STARTTLS", "STALL", "CLOSE", "EXPECT-CLOSE") and not arg_text:
            out.append((lineno, word, None))
        else:
            raise bad("unknown directive")
    for i, (lineno, op, _) in enumerate(out):
        if op == "CLOSE" and i != len(out) - 1:
            raise UsageError(f"{path}:{lineno}: CLOSE must be the last directive")
    return out


def message_body(path):
    """A file as a POP3 multi-line response body (CRLF, dot-stuffed, '.')."""
    with open(path, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()             # file ended with a line end
    out = []
    for line in lines:
        if line.endswith(b"\r"):
            line = line[:-1]
        if line.startswith(b"."):
            line = b"." + line
        out.append(line + b"\r\n")
    out.append(b".\r\n")
    return b"".join(out)


# --------------------------------------------------------------------------
# Log

class Log:
    """Appends to the --log file (or nowhere); flushed after every write."""

    def __init__(self, path):
        self.f = open(path, "ab", buffering=0) if path else None
        self.pending = b""      # client bytes not yet ending in a line end
        self.t0 = time.monotonic()

    def _write(self, data):
        if self.f:
            self.f.write(data)

    def event(self, text):
        stamp = "%.3f " % (time.monotonic() - self.t0)
        self._write(b"** " + (stamp + text).encode("utf-8", "backslashreplace") + b"\n")

    def client(self, data):
        """Client bytes as received: one 'C> ' entry per line."""
        data = self.pending + data
        lines = data.split(b"\n")
        self.pending = lines.pop()
        for line in lines:
            self._write(b"C> " + line + b"\n")

    def client_flush(self):
        if self.pending:
            self._write(b"C> " + self.pending + b" [no line end]\n")
            self.pending = b""

    def server(self, data):
        """What we sent: one 'S> ' entry per line, each cut to LOG_LINE_MAX
        bytes; after LOG_LINES_MAX lines, one summary entry."""
        lines = data.split(b"\n")
        ends = lines[-1] == b""
        if ends:
            lines.pop()
        for i, line in enumerate(lines[:LOG_LINES_MAX]):
            entry = line[:LOG_LINE_MAX]
            if len(line) > LOG_LINE_MAX:
                entry += b" [... line of %d bytes]" % len(line)
            if i == len(lines) - 1 and not ends:
                entry += b" [no line end]"
            self._write(b"S> " + entry + b"\n")
        if len(lines) > LOG_LINES_MAX:
            self.server_note(f"... {len(lines) - LOG_LINES_MAX} more lines, "
                             f"{len(data)} bytes in all")

    def server_note(self, text):
        self._write(b"S> [" + text.encode("utf-8", "backslashreplace") + b"]\n")


# --------------------------------------------------------------------------
# One connection

class Connection:
    def __init__(self, sock, peer, args, deadline, log):
        self.sock = sock
        self.peer = peer
        self.args = args
        self.deadline = deadline
        self.log = log
        self.buf = bytearray()   # received, not yet consumed
        self.gone = False        # client closed / reset / refused TLS
        self.eof = False         # we saw EOF from the client
        self.tls = False

    # -- time ---------------------------------------------------------------
    def remaining(self):
        return self.deadline - time.monotonic()

    def settimeout(self, cap=None):
        r = self.remaining()
        if r <= 0:
            raise Mismatch("timeout (--timeout reached)")
        self.sock.settimeout(min(r, cap) if cap else r)

    # -- receiving ----------------------------------------------------------
    def recv_some(self, cap=None):
        """Read what is available (blocking); False on EOF."""
        if self.eof:
            return False
        self.settimeout(cap)
        try:
            data = self.sock.recv(CHUNK)
        except socket.timeout:
            raise
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError) as e:
            self.log.event(f"client connection error while reading: {e}")
            data = b""
        if not data:
            self.eof = True
            self.gone = True
            self.log.client_flush()
            self.log.event("client closed the connection")
            return False
        self.log.client(data)
        self.buf += data
        return True

    def readline(self):
        """One client line (bytes incl. its line end), or the partial rest
        (no LF) / b'' at EOF.  Pipelined lines stay buffered."""
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line = bytes(self.buf[: i + 1])
                del self.buf[: i + 1]
                return line
            try:
                more = self.recv_some()
            except socket.timeout:
                raise Mismatch("timeout waiting for a client line")
            if not more:
                line = bytes(self.buf)
                self.buf.clear()
                return line

    # -- sending ------------------------------------------------------------
    def send(self, data):
        """Send bytes; raise PeerGone if the client has gone away."""
        view = memoryview(data)
        while view:
            try:
                self.settimeout()
                n = self.sock.send(view[:CHUNK])
            except socket.timeout:
                raise Mismatch("timeout while sending (client not reading)")
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError) as e:
                raise PeerGone(str(e))
            view = view[n:]

    def send_logged(self, data):
        self.log.server(data)
        self.send(data)

    # -- TLS ----------------------------------------------------------------
    def start_tls(self):
        """Server-side TLS handshake.  On failure the client is 'gone'."""
        if self.buf:
            raise Mismatch("client sent data after the TLS request, before the "
                           f"handshake (would be a STARTTLS injection): {bytes(self.buf)!r}")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.args.tls_cert, self.args.tls_key)
        self.settimeout()
        try:
            self.sock = ctx.wrap_socket(self.sock, server_side=True,
                                        do_handshake_on_connect=False)
            self.settimeout()
            self.sock.do_handshake()
        except socket.timeout:
            raise Mismatch("timeout in the TLS handshake")
        except (ssl.SSLError, OSError) as e:
            self.log.event(f"TLS handshake failed: {e}")
            self.gone = True
            self.eof = True
            return
        self.tls = self.tls_used = True
        self.log.event(f"TLS started: {self.sock.version()} {self.sock.cipher()[0]}")

    # -- closing ------------------------------------------------------------
    def close(self):
        """Normal close: TLS close_notify, FIN, then read until the client's
        EOF (at most DRAIN_SECONDS; logged), then close.  Closing with unread
        data would send an RST and might destroy what the client has not yet
        read."""
        sock = self.sock
        try:
            if self.tls and not self.gone:
                try:
                    # Sends close_notify, then waits briefly for the client's.
                    sock.settimeout(max(0.05, min(0.5, self.remaining())))
                    sock = sock.unwrap()
                except (ssl.SSLError, OSError, ValueError):
                    pass
            if not self.eof:
                try:
                    sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                end = time.monotonic() + max(0.0, min(DRAIN_SECONDS, self.remaining()))
                while time.monotonic() < end:
                    try:
                        sock.settimeout(max(0.01, end - time.monotonic()))
                        data = sock.recv(CHUNK)
                    except (socket.timeout, OSError):
                        break
                    if not data:
                        self.log.client_flush()
                        self.log.event("client closed the connection")
                        break
                    if self.tls_used:
                        # Past the TLS layer now: these are raw records.
                        self.log.event(f"{len(data)} raw bytes after TLS close")
                    else:
                        self.log.client(data)
        finally:
            self.log.client_flush()
            for s in (sock, self.sock):
                try:
                    s.close()
                except OSError:
                    pass
        self.log.event("server closed the connection")

    # -- the transcript -----------------------------------------------------
    def play(self, directives):
        if self.args.implicit_tls:
            self.start_tls()
        for lineno, op, arg in directives:
            where = f"transcript line {lineno}"
            try:
                self.step(op, arg, where)
            except PeerGone as e:
                self.log.event(f"client gone while sending ({where}): {e}")
                self.gone = True
            if op == "CLOSE":
                break

    def step(self, op, arg, where):
        if op in SEND_DIRECTIVES and self.gone:
            self.log.event(f"not sent, client gone: {op} ({where})")
            return
        if op == "S:":
            self.send_logged(arg.encode("utf-8") + b"\r\n")
        elif op == "S+":
            self.send_logged(arg.encode("utf-8"))
        elif op == "SX:":
            self.send_logged(arg)
        elif op == "SLF:":
            self.send_logged(arg.encode("utf-8") + b"\n")
        elif op == "SEND-FILE":
            with open(arg, "rb") as f:
                self.send_logged(f.read())
        elif op == "MESSAGE":
            self.send_logged(message_body(arg))
        elif op == "SEND-REPEAT":
            n, text = arg
            line = text.encode("utf-8") + b"\r\n"
            self.log.server(line * min(n, LOG_LINES_MAX))
            if n > LOG_LINES_MAX:
                self.log.server_note(f"SEND-REPEAT: {n} lines, {n * len(line)} bytes in all")
            per = max(1, CHUNK // len(line))
            left = n
            while left > 0:
                k = min(per, left)
                self.send(line * k)
                left -= k
        elif op == "SEND-BYTES":
            n, b = arg
            self.log.server_note(f"SEND-BYTES: {n} x {b!r}")
            left = n
            block = b * CHUNK
            while left > 0:
                k = min(CHUNK, left)
                self.send(block[:k])
                left -= k
        elif op == "TRICKLE":
            self.trickle(arg, where)
        elif op in ("C:", "C~", "C*"):
            self.expect_line(op, arg, where)
        elif op == "STARTTLS":
            if not self.gone:
                self.start_tls()
        elif op == "SLEEP":
            if not self.gone:
                if arg > self.remaining():
                    raise Mismatch(f"SLEEP {arg} would pass --timeout ({where})")
                time.sleep(arg)
        elif op in ("STALL", "EXPECT-CLOSE"):
            self.wait_close(op, where)
        elif op == "CLOSE":
            pass                # the caller closes
        else:                   # pragma: no cover - parse_transcript checks
            raise Mismatch(f"internal: unknown op {op}")

    def trickle(self, arg, where):
        """TRICKLE: one byte at a time, secs before each (the line is logged
        once, before its first byte)."""
        secs, text = arg
        data = text.encode("utf-8") + b"\r\n"
        self.log.server_note(f"TRICKLE: {len(data)} bytes, one every {secs} s")
        self.log.server(data)
        for i in range(len(data)):
            if secs > self.remaining():
                raise Mismatch(f"TRICKLE would pass --timeout ({where})")
            time.sleep(secs)
            self.send(data[i:i + 1])

    def expect_line(self, op, want, where):
        if self.gone and not self.buf:
            raise Mismatch(f"{where}: expected {self.describe(op, want)}, "
                           "but the client had closed the connection")
        raw = self.readline()
        if not raw.endswith(b"\n"):
            raise Mismatch(f"{where}: expected {self.describe(op, want)}, got "
                           + (f"{raw!r} and then EOF" if raw else "EOF (client closed)"))
        line = raw[:-1]
        if line.endswith(b"\r"):
            line = line[:-1]
        else:
            self.log.event(f"note: client line without CR ({where})")
        text = line.decode("utf-8", "surrogateescape")
        if op == "C:" and text != want:
            raise Mismatch(f"{where}: expected {want!r}, got {text!r}")
        if op == "C~" and not want.fullmatch(text):
            raise Mismatch(f"{where}: expected a match for ~{want.pattern!r}, got {text!r}")

    @staticmethod
    def describe(op, want):
        if op == "C:":
            return repr(want)
        if op == "C~":
            return f"a match for ~{want.pattern!r}"
        return "a line"

    def wait_close(self, op, where):
        """STALL: accept anything until EOF.  EXPECT-CLOSE: EOF must come
        before any complete line (data without a line end also fails)."""
        while True:
            if op == "EXPECT-CLOSE" and self.buf:
                if b"\n" in self.buf or self.eof:
                    raise Mismatch(f"{where}: expected the client to close, got "
                                   f"{bytes(self.buf)!r}")
            if op == "STALL":
                self.buf.clear()
            if self.eof or self.gone:
                return
            try:
                self.recv_some()
            except socket.timeout:
                raise Mismatch(f"{where}: timeout, the client never closed ({op})")


# --------------------------------------------------------------------------
# Main

def parse_args(argv):
    p = argparse.ArgumentParser(description="Scripted fake POP3 server.")
    p.add_argument("--transcript", required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--addr", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--implicit-tls", action="store_true")
    p.add_argument("--log")
    p.add_argument("--connections", type=int, default=1)
    p.add_argument("--timeout", type=float, default=30.0)
    args = p.parse_args(argv)       # exits 2 on errors
    if args.connections < 1:
        p.error("--connections must be at least 1")
    if args.timeout <= 0:
        p.error("--timeout must be positive")
    if bool(args.tls_cert) != bool(args.tls_key):
        p.error("--tls-cert and --tls-key go together")
    return p, args


def write_port_file(path, port):
    d = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(d, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        f.write(f"{port}\n")
    os.replace(tmp, path)


def main(argv):
    p, args = parse_args(argv)
    start = time.monotonic()
    deadline = start + args.timeout

    try:
        directives = parse_transcript(args.transcript)
        uses_tls = args.implicit_tls or any(op == "STARTTLS" for _, op, _ in directives)
        if uses_tls:
            if not args.tls_cert:
                raise UsageError("STARTTLS/--implicit-tls need --tls-cert and --tls-key")
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(args.tls_cert, args.tls_key)
    except (UsageError, ssl.SSLError, OSError) as e:
        print(f"fakepop3: {e}", file=sys.stderr)
        return EXIT_USAGE

    try:
        log = Log(args.log)
    except OSError as e:
        print(f"fakepop3: cannot open log: {e}", file=sys.stderr)
        return EXIT_USAGE

    # Last-resort guard: whatever blocks, the process ends shortly after
    # --timeout.
    def on_alarm(signum, frame):
        log.event("hard timeout: exiting")
        print("fakepop3: hard timeout", file=sys.stderr)
        os._exit(EXIT_FAIL)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, args.timeout + 3.0)

    family = socket.AF_INET6 if ":" in args.addr else socket.AF_INET
    try:
        lsock = socket.socket(family, socket.SOCK_STREAM)
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind((args.addr, args.port))
        lsock.listen(8)
        port = lsock.getsockname()[1]
        write_port_file(args.port_file, port)
    except OSError as e:
        print(f"fakepop3: cannot listen on {args.addr}: {e}", file=sys.stderr)
        return EXIT_USAGE
    log.event(f"listening on {args.addr} port {port}, pid {os.getpid()}")

    status = EXIT_OK
    for n in range(1, args.connections + 1):
        r = deadline - time.monotonic()
        if r <= 0:
            status = fail(log, f"timeout before connection {n} of {args.connections}")
            break
        lsock.settimeout(r)
        try:
            sock, peer = lsock.accept()
        except socket.timeout:
            status = fail(log, f"timeout waiting for connection {n} of {args.connections}")
            break
        log.event(f"connection {n} from {peer[0]} port {peer[1]}")
        conn = Connection(sock, peer, args, deadline, log)
        try:
            conn.play(directives)
        except Mismatch as e:
            status = fail(log, f"connection {n}: {e}")
        except Exception as e:       # a bug here must not look like a pass
            status = fail(log, f"connection {n}: internal error: {e!r}")
        finally:
            try:
                conn.close()
            except Exception as e:
                log.event(f"error while closing: {e!r}")
        if status != EXIT_OK:
            break
    lsock.close()
    log.event(f"exit {status}")
    return status


def fail(log, msg):
    log.event(f"MISMATCH: {msg}")
    print(f"fakepop3: MISMATCH: {msg}", file=sys.stderr)
    return EXIT_FAIL


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
