#!/usr/bin/env python3
"""onpty - run a command on a fresh pseudo-terminal, the way a user at a
terminal would: the pty is its controlling terminal and its process group
the terminal's foreground group. Answer what it shows, step by step, like
a person typing; then report what the terminal showed and its mode.

usage: onpty.py --log FILE --state FILE [--timeout S]
                [--expect TEXT --send KEYS]... -- COMMAND [ARGS...]

--expect TEXT   wait until the terminal has shown TEXT (after the previous
                match)
--send KEYS     then type KEYS; \\r (Enter), \\n, \\x03 (Ctrl-C) and
                \\x04 (Ctrl-D) are understood
--log FILE      everything the terminal showed
--state FILE    one line per --expect: "at-expect N echo on|off" (the
                terminal's echo flag when TEXT appeared), then "after echo
                on|off" once the command has exited
--timeout S     give up after S seconds (default 20): the command's process
                group is killed and onpty exits 124

Exit status: the command's, or 128+N if signal N killed it.
"""
import argparse
import fcntl
import os
import pty
import select
import signal
import sys
import termios
import time


def keys(text):
    return text.encode().decode("unicode_escape").encode("latin-1")


def parse():
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", required=True)
    ap.add_argument("--state", required=True)
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("--expect", action="append", default=[])
    ap.add_argument("--send", action="append", default=[])
    ap.add_argument("command", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    if a.command and a.command[0] == "--":
        a.command = a.command[1:]
    if not a.command or len(a.expect) != len(a.send):
        ap.error("need a command, and one --send per --expect")
    return a


def start(command, slave):
    pid = os.fork()
    if pid == 0:
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
        for fd in (0, 1, 2):
            os.dup2(slave, fd)
        if slave > 2:
            os.close(slave)
        try:
            os.execvp(command[0], command)
        finally:
            os._exit(127)
    return pid


def echo_state(slave):
    return "on" if termios.tcgetattr(slave)[3] & termios.ECHO else "off"


def main():
    a = parse()
    master, slave = pty.openpty()
    pid = start(a.command, slave)
    seen, pos, step, states = b"", 0, 0, []
    deadline = time.monotonic() + a.timeout
    status = None
    while True:
        if status is None:
            done, st = os.waitpid(pid, os.WNOHANG)
            if done:
                status = st
        ready, _, _ = select.select([master], [], [], 0.05)
        if ready:
            try:
                seen += os.read(master, 4096)
            except OSError:
                ready = []
        while step < len(a.expect):
            at = seen.find(a.expect[step].encode(), pos)
            if at < 0:
                break
            states.append("at-expect %d echo %s" % (step + 1, echo_state(slave)))
            pos = at + len(a.expect[step])
            os.write(master, keys(a.send[step]))
            step += 1
        if status is not None and not ready:
            break  # exited, and nothing more to show
        if status is None and time.monotonic() > deadline:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
            os.waitpid(pid, 0)
            states.append("timeout")
            break
    states.append("after echo %s" % echo_state(slave))
    with open(a.log, "wb") as f:
        f.write(seen)
    with open(a.state, "w") as f:
        f.write("\n".join(states) + "\n")
    if status is None:
        return 124
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


if __name__ == "__main__":
    sys.exit(main())
