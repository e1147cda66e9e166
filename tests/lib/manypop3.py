#!/usr/bin/env python3
"""manypop3.py — a plain-text POP3 server for tests with many accounts at
once (Python standard library only; 127.0.0.1 only).

    manypop3.py --port-file FILE --stall-port-file FILE --log FILE

Every user whose password is "pw-" + the user name logs in and finds an
empty mailbox (STAT 0 0, empty LIST and UIDL); any other password gets
"-ERR [AUTH] Authentication failed.". Each login, good or bad, is written
to the log as one line, "MONOTONIC-SECONDS WALL-SECONDS USER ok|bad", so a
test can tell independently of popfetch when each account was polled.
Commands may be pipelined. A second listener (the stall port) accepts
connections and never says a word: a server that hangs.

asyncio, one process, no threads: thousands of short sessions a second.
After QUIT it waits for the client to close first (as a client does after
the reply), so that the TIME_WAIT of thousands of short connections is the
client's: otherwise a new connection from a port the kernel picks again may
meet the old one's TIME_WAIT here and fail at once. Runs until killed
(SIGTERM)."""

import argparse
import asyncio
import os
import time

CAPA = b"+OK\r\nUSER\r\nUIDL\r\nPIPELINING\r\n.\r\n"


class Log:
    def __init__(self, path):
        self.f = open(path, "a", buffering=1)

    def login(self, user, ok):
        self.f.write(f"{time.monotonic():.3f} {time.time():.3f} {user} {'ok' if ok else 'bad'}\n")


async def session(reader, writer, log):
    user = None
    authed = False
    writer.write(b"+OK manypop3 ready\r\n")
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            words = line.decode("latin-1").strip().split(" ", 1)
            cmd = words[0].upper()
            arg = words[1] if len(words) > 1 else ""
            if cmd == "CAPA":
                writer.write(CAPA)
            elif cmd == "USER":
                user = arg
                writer.write(b"+OK\r\n")
            elif cmd == "PASS":
                authed = user is not None and arg == "pw-" + user
                log.login(user, authed)
                writer.write(b"+OK logged in\r\n" if authed
                             else b"-ERR [AUTH] Authentication failed.\r\n")
            elif cmd == "QUIT":
                writer.write(b"+OK bye\r\n")
                await writer.drain()
                # the client closes first, so the TIME_WAIT is on its side,
                # where the kernel knows not to reuse its port meanwhile
                try:
                    await asyncio.wait_for(reader.read(), 5)
                except asyncio.TimeoutError:
                    pass
                break
            elif not authed:
                writer.write(b"-ERR log in first\r\n")
            elif cmd == "STAT":
                writer.write(b"+OK 0 0\r\n")
            elif cmd in ("LIST", "UIDL") and not arg:
                writer.write(b"+OK\r\n.\r\n")
            else:
                writer.write(b"-ERR no such message\r\n")
            await writer.drain()
        await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except OSError:
            pass


async def stall(reader, writer):
    try:
        while await reader.read(4096):
            pass
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except OSError:
            pass


def write_port(path, server):
    port = server.sockets[0].getsockname()[1]
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{port}\n")
    os.rename(tmp, path)


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--stall-port-file", required=True)
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    log = Log(args.log)
    good = await asyncio.start_server(lambda r, w: session(r, w, log), "127.0.0.1", 0,
                                      backlog=512)
    hang = await asyncio.start_server(stall, "127.0.0.1", 0, backlog=64)
    write_port(args.stall_port_file, hang)
    write_port(args.port_file, good)
    await asyncio.gather(good.serve_forever(), hang.serve_forever())


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
