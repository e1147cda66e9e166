#!/usr/bin/env python3
"""mailcheck.py — an independent reader of what popfetch wrote, for tests.

It uses Python's own mailbox module, never popfetch's code.

  mailcheck.py same MAILDIR FILE...   the Maildir holds exactly these
        messages, each once, byte for byte (a message that does not end in
        a newline is expected with one: POP3 cannot carry that)
  mailcheck.py count MAILDIR          print how many messages it holds
  mailcheck.py clean MAILDIR          tmp/ is empty (nothing half-written)
  mailcheck.py subjects MAILDIR       print the Subject of each, sorted
  mailcheck.py gone-are-delivered CLIENT SERVER FILE...
        every one of FILE that is no longer in the SERVER's Maildir is in
        the CLIENT's (nothing left the server before it was delivered)

Exit status 0 when the check holds, 1 (with an explanation) when not.
"""

import mailbox
import os
import sys


def messages(path):
    box = mailbox.Maildir(path, factory=None, create=False)
    return [box.get_bytes(key) for key in box.keys()]


def expected(path):
    with open(path, "rb") as f:
        data = f.read()
    if data and not data.endswith(b"\n"):
        data += b"\n"
    return data


def same(path, files):
    got = sorted(messages(path))
    want = sorted(expected(f) for f in files)
    if got == want:
        return 0
    print(f"Maildir holds {len(got)} messages, expected {len(want)}")
    for w in want:
        n = got.count(w)
        if n != 1:
            print(f"  expected message of {len(w)} bytes found {n} times: {w[:60]!r}")
    for g in got:
        if g not in want:
            print(f"  unexpected message of {len(g)} bytes: {g[:60]!r}")
    return 1


def gone_are_delivered(client, server, files):
    on_server = set(messages(server))
    delivered = set(messages(client))
    bad = 0
    for f in files:
        data = expected(f)
        if data not in on_server and data not in delivered:
            print(f"{f} left the server but is not in {client}")
            bad = 1
    return bad


def clean(path):
    left = os.listdir(os.path.join(path, "tmp"))
    if left:
        print("tmp/ is not empty:", left)
        return 1
    return 0


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    cmd, path = argv[1], argv[2]
    if cmd == "same":
        return same(path, argv[3:])
    if cmd == "count":
        print(len(messages(path)))
        return 0
    if cmd == "gone-are-delivered":
        return gone_are_delivered(path, argv[3], argv[4:])
    if cmd == "clean":
        return clean(path)
    if cmd == "subjects":
        box = mailbox.Maildir(path, create=False)
        for s in sorted(str(m["Subject"]) for m in box):
            print(s)
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
