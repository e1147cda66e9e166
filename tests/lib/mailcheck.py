#!/usr/bin/env python3
"""mailcheck.py — an independent reader of what popfetch wrote, for tests.

It uses Python's own mailbox module, never popfetch's code.

  mailcheck.py same MAILDIR FILE...   the Maildir holds exactly these
        messages, each once, byte for byte (a message that does not end in
        a newline is expected with one: POP3 cannot carry that) after the
        Received: field popfetch prepends, if any
  mailcheck.py mbox-same MBOX FILE... the same for an mbox, read as mboxrd
        (one '>' removed from each line matching ^>+From )
  mailcheck.py received MAILDIR|MBOX PROTO  every message starts with exactly
        one popfetch Received: field that a mail parser accepts, saying
        "with PROTO", with a date that parses
  mailcheck.py forwarded MAILDIR FILE...  as `same`, for mail an LMTP/SMTP
        server stored: its own trace fields (Return-Path, Delivered-To,
        X-Original-To, Received) come first, then popfetch's Received:
        field (required), then the message byte for byte
  mailcheck.py return-paths MAILDIR   print each message's Return-Path, sorted
  mailcheck.py count MAILDIR|MBOX     print how many messages it holds
  mailcheck.py clean MAILDIR          tmp/ is empty (nothing half-written)
  mailcheck.py subjects MAILDIR       print the Subject of each, sorted
  mailcheck.py gone-are-delivered CLIENT SERVER FILE...
        every one of FILE that is no longer in the SERVER's Maildir is in
        the CLIENT's Maildir or mbox (nothing left the server before it was
        delivered)
  mailcheck.py gone-are-forwarded CLIENT SERVER FILE...  the same, CLIENT
        being the Maildir an LMTP/SMTP server stored into (read as for
        `forwarded`)
  mailcheck.py forwarded-dups MAILDIR FILE...  every FILE is in MAILDIR (as
        for `forwarded`) at least once and nothing else is; prints how many
        copies are there beyond the first (the duplicates)

Exit status 0 when the check holds, 1 (with an explanation) when not.
"""

import email.parser
import email.policy
import email.utils
import mailbox
import os
import re
import sys


def our_received(data):
    """Length of the popfetch Received: field data starts with, else 0."""
    if not data.startswith(b"Received: "):
        return 0
    end = 0
    while True:
        nl = data.find(b"\n", end)
        if nl < 0:
            return 0
        end = nl + 1
        if data[end:end + 1] not in (b" ", b"\t"):
            break
    return end if b"(popfetch " in data[:end] else 0


def strip_received(data):
    return data[our_received(data):]


def raw_maildir(path):
    box = mailbox.Maildir(path, factory=None, create=False)
    return [box.get_bytes(key) for key in box.keys()]


def unquote_mboxrd(data):
    return re.sub(rb"(?m)^>(>*From )", rb"\1", data)


SERVER_TRACE = (b"return-path:", b"delivered-to:", b"x-original-to:", b"received:")


def after_ours(data):
    """The message after the receiving server's trace fields and popfetch's
    Received: field; None when popfetch's field is not there."""
    pos = 0
    while True:
        n = our_received(data[pos:])
        if n:
            return data[pos + n:]
        if not data[pos:pos + 20].lower().startswith(SERVER_TRACE):
            return None
        nl = data.find(b"\n", pos)
        while nl >= 0 and data[nl + 1:nl + 2] in (b" ", b"\t"):
            nl = data.find(b"\n", nl + 1)
        if nl < 0:
            return None
        pos = nl + 1


def forwarded(path):
    out = []
    for m in raw_maildir(path):
        rest = after_ours(m)
        out.append(rest if rest is not None else b"NO POPFETCH RECEIVED: " + m)
    return out


def raw_mbox(path):
    box = mailbox.mbox(path, factory=None, create=False)
    return [unquote_mboxrd(box.get_bytes(key)) for key in box.keys()]


def messages(path):
    return [strip_received(m) for m in raw_maildir(path)]


def received(path, proto):
    msgs = raw_mbox(path) if os.path.isfile(path) else raw_maildir(path)
    bad = 0
    for m in msgs:
        n = our_received(m)
        if n == 0:
            print(f"no popfetch Received: field first in {m[:80]!r}")
            bad = 1
            continue
        if our_received(m[n:]):
            print(f"two popfetch Received: fields in {m[:160]!r}")
            bad = 1
        field = m[:n].decode("ascii")
        hdr = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(m[:n] + b"\n")
        value = hdr.get("Received")
        if value is None or hdr.defects:
            print(f"not a clean header field: {field!r} {hdr.defects}")
            bad = 1
            continue
        if f" with {proto} " not in " ".join(value.split()) + " ":
            print(f"not `with {proto}`: {field!r}")
            bad = 1
        date = value.rsplit(";", 1)[-1].strip()
        if email.utils.parsedate_to_datetime(date) is None:
            print(f"bad date {date!r}")
            bad = 1
    return bad


def expected(path):
    with open(path, "rb") as f:
        data = f.read()
    if data and not data.endswith(b"\n"):
        data += b"\n"
    return data


def same(path, files, reader=messages):
    got = sorted(reader(path))
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


def gone_are_delivered(client, server, files, reader=None):
    on_server = set(messages(server))
    if reader is not None:
        delivered = set(reader(client)) if os.path.isdir(client) else set()
    elif os.path.isfile(client):
        delivered = set(strip_received(m) for m in raw_mbox(client))
    elif os.path.isdir(client):
        delivered = set(messages(client))
    else:
        delivered = set()
    bad = 0
    for f in files:
        data = expected(f)
        if data not in on_server and data not in delivered:
            print(f"{f} left the server but is not in {client}")
            bad = 1
    return bad


def forwarded_dups(path, files):
    got = forwarded(path)
    want = [expected(f) for f in files]
    bad = 0
    for w in want:
        if w not in got:
            print(f"  lost: a message of {len(w)} bytes is not there: {w[:60]!r}")
            bad = 1
    for g in got:
        if g not in want:
            print(f"  unexpected message of {len(g)} bytes: {g[:60]!r}")
            bad = 1
    print(len(got) - len(set(got)))
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
    if cmd == "mbox-same":
        return same(path, argv[3:], lambda p: [strip_received(m) for m in raw_mbox(p)])
    if cmd == "forwarded":
        return same(path, argv[3:], forwarded)
    if cmd == "return-paths":
        box = mailbox.Maildir(path, create=False)
        for s in sorted(str(m["Return-Path"]) for m in box):
            print(s)
        return 0
    if cmd == "received":
        return received(path, argv[3])
    if cmd == "count":
        print(len(raw_mbox(path) if os.path.isfile(path) else messages(path)))
        return 0
    if cmd == "gone-are-delivered":
        return gone_are_delivered(path, argv[3], argv[4:])
    if cmd == "gone-are-forwarded":
        return gone_are_delivered(path, argv[3], argv[4:], forwarded)
    if cmd == "forwarded-dups":
        return forwarded_dups(path, argv[3:])
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
