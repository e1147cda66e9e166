#!/usr/bin/env python3
"""fakesmtp.py — a scripted LMTP/SMTP server for popfetch's tests: what real
servers do only on demand (4xx, 5xx, mixed per-recipient LMTP results, a
SIZE limit, a connection dropped at a chosen point, no PIPELINING, no
8BITMIME).

  fakesmtp.py [--lmtp] (--port-file FILE [--addr ADDR] | --unix PATH)
              --dir DIR [--script FILE]

--addr: the address to listen on (default 127.0.0.1; 127.0.0.2 is a host
that is not "this machine" to popfetch's secret rule).

Serves each connection in its own thread until killed (popfetch's
smtp_connections). The script holds lines

  ext WORD...          an extension listed after LHLO/EHLO (one per line)
  greeting REPLY       the greeting (default "220 fake ready")
  KEY[#N] REPLY        the reply to a command in transaction N (counted
                       from 1 at each MAIL over all connections, in the
                       order they arrive; without #N:
                       every transaction). KEY is mail, rcpt, rcpt:ADDRESS,
                       data, end, end:ADDRESS (LMTP: the reply for that
                       recipient after the message), rset, auth (the
                       reply to an AUTH line; default 235), xforward.
  REPLY `drop` closes the connection instead of answering; `end` taking
  `drop-mid` closes it after the first line of the message.

It records in DIR: log (every command line as "C: ...", every reply as
"S: ...", "-- connect N" per connection, "-- batch CMD,CMD,..." for the
commands that came in one read), and per transaction N that reached the
end of the message: msg.N (the message as the server received it, dot
unstuffing done, line ends as sent) and env.N (the MAIL line, then each
accepted RCPT line).
"""

import argparse
import os
import re
import socket
import sys
import threading

DEFAULTS = {"mail": "250 2.1.0 ok", "rcpt": "250 2.1.5 ok", "data": "354 go ahead",
            "end": "250 2.0.0 ok", "rset": "250 2.0.0 ok", "auth": "235 2.7.0 ok",
            "xforward": "250 2.0.0 ok"}


class Script:
    def __init__(self, path):
        self.ext, self.greeting, self.rules = [], "220 fake ready", {}
        if not path:
            return
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.rstrip("\n")
                if not line.strip() or line.startswith("#"):
                    continue
                key, _, reply = line.partition(" ")
                if key == "ext":
                    self.ext.append(reply)
                elif key == "greeting":
                    self.greeting = reply
                else:
                    self.rules[key] = reply

    def reply(self, key, n, addr=None):
        for k in ([f"{key}:{addr}#{n}", f"{key}:{addr}"] if addr else []) + [f"{key}#{n}", key]:
            if k in self.rules:
                return self.rules[k]
        return DEFAULTS[key]


class Conn:
    def __init__(self, sock, srv):
        self.sock, self.srv, self.buf = sock, srv, b""
        self.in_data = False

    def log(self, text):
        with self.srv.lock:
            self.srv.logf.write(text + "\n")
            self.srv.logf.flush()

    def send(self, reply):
        self.log("S: " + reply)
        self.sock.sendall(reply.encode() + b"\r\n")

    def fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        self.buf += data
        cmds = [l.split(b" ")[0].decode("ascii", "replace").upper()
                for l in data.split(b"\r\n")[:-1] if l and l[:1].isalpha()]
        if self.in_data:
            return
        if cmds:
            self.log("-- batch " + ",".join(cmds))

    def line(self):
        while b"\r\n" not in self.buf:
            self.fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line


class Server:
    def __init__(self, args):
        self.args, self.script = args, Script(args.script)
        self.logf = open(os.path.join(args.dir, "log"), "a", encoding="utf-8")
        self.ntrans, self.nconn = 0, 0
        self.lock = threading.Lock()

    def serve(self, sock):
        c = Conn(sock, self)
        with self.lock:
            self.nconn += 1
            nconn = self.nconn
        c.log(f"-- connect {nconn}")
        try:
            self.session(c)
        except (EOFError, ConnectionError):
            c.log("-- closed by the client")
        except Dropped:
            c.log("-- dropped")
        finally:
            sock.close()

    def answer(self, c, reply):
        if reply == "drop":
            raise Dropped
        c.send(reply)
        return reply[:1] == "2" or reply[:1] == "3"

    def session(self, c):
        c.send(self.script.greeting)
        mail, rcpts, ntrans = None, [], 0
        while True:
            raw = c.line()
            text = raw.decode("utf-8", "replace")
            c.log("C: " + text)
            verb = text.split(" ")[0].upper()
            if verb in ("LHLO", "EHLO", "HELO"):
                lines = ["fake"] + self.script.ext
                for i, l in enumerate(lines):
                    c.send(("250 " if i == len(lines) - 1 else "250-") + l)
            elif verb == "MAIL":
                with self.lock:
                    self.ntrans += 1
                    ntrans = self.ntrans
                mail, rcpts = None, []
                if self.answer(c, self.script.reply("mail", ntrans)):
                    mail = text
            elif verb == "RCPT":
                m = re.match(r"RCPT TO:<([^>]*)>", text, re.I)
                addr = m.group(1) if m else ""
                if mail is None:
                    c.send("503 5.5.1 MAIL first")
                elif self.answer(c, self.script.reply("rcpt", ntrans, addr)):
                    rcpts.append(addr)
            elif verb == "DATA":
                if mail is None or not rcpts:
                    c.send("554 5.5.1 no valid recipients")
                    continue
                if not self.answer(c, self.script.reply("data", ntrans)):
                    continue
                self.message(c, mail, rcpts, ntrans)
                mail, rcpts = None, []
            elif verb == "RSET":
                mail, rcpts = None, []
                self.answer(c, self.script.reply("rset", ntrans))
            elif verb == "QUIT":
                c.send("221 2.0.0 bye")
                return
            elif verb == "XFORWARD":
                self.answer(c, self.script.reply("xforward", ntrans))
            elif verb == "AUTH":
                self.answer(c, self.script.reply("auth", ntrans))
            elif verb == "NOOP":
                c.send("250 2.0.0 ok")
            else:
                c.send("500 5.5.2 unknown command")

    def message(self, c, mail, rcpts, n):
        end = self.script.reply("end", n)
        c.in_data = True
        body = []
        while True:
            if end == "drop-mid" and body:
                raise Dropped
            while b"\n" not in c.buf:
                c.fill()
            line, c.buf = c.buf.split(b"\n", 1)
            line += b"\n"
            if line == b".\r\n":
                break
            body.append(line[1:] if line.startswith(b".") else line)
        c.in_data = False
        with open(os.path.join(self.args.dir, f"msg.{n}"), "wb") as f:
            f.write(b"".join(body))
        with open(os.path.join(self.args.dir, f"env.{n}"), "w", encoding="utf-8") as f:
            f.write(mail + "\n" + "".join(f"RCPT TO:<{r}>\n" for r in rcpts))
        if self.args.lmtp:
            for r in rcpts:
                self.answer(c, self.script.reply("end", n, r))
        else:
            self.answer(c, end)


class Dropped(Exception):
    pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lmtp", action="store_true")
    ap.add_argument("--port-file")
    ap.add_argument("--unix")
    ap.add_argument("--addr", default="127.0.0.1")
    ap.add_argument("--dir", required=True)
    ap.add_argument("--script")
    args = ap.parse_args()
    srv = Server(args)
    if args.unix:
        ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        ls.bind(args.unix)
    else:
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.bind((args.addr, 0))
    ls.listen(5)
    if args.port_file:
        with open(args.port_file + ".tmp", "w", encoding="ascii") as f:
            f.write(str(ls.getsockname()[1]) if not args.unix else "0")
        os.rename(args.port_file + ".tmp", args.port_file)
    while True:
        s, _ = ls.accept()
        s.settimeout(20)
        threading.Thread(target=srv.serve, args=(s,), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
