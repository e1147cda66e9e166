#!/usr/bin/env python3
"""traceconns - check popfetch's -vv trace of an LMTP/SMTP sink with several
connections: every dialogue line names its connection ("> LMTP[2] MAIL
FROM:<...>"), and the lines of each connection, read alone, are one
coherent dialogue (hello, then whole transactions: [RSET] [XFORWARD] MAIL, RCPT...,
DATA, the message, then QUIT), so the lines of one transaction carry one id.

usage: traceconns.py PROTO < trace      (PROTO: LMTP or SMTP)
Prints "ids N1 N2 ..." and "mail N" (MAIL commands in all); exit 1 with
the reason on a line without an id or an incoherent connection.
"""
import re
import sys


def main():
    proto = sys.argv[1]
    line_re = re.compile(r"^popfetch: [^:]+: ([<>]) %s(\[(\d+)\])? (.*)$" % proto)
    cmds = {}
    for raw in sys.stdin.read().splitlines():
        m = line_re.match(raw)
        if not m:
            continue
        if m.group(3) is None:
            print("no connection id: %s" % raw)
            return 1
        if m.group(1) == ">":
            verb = m.group(4).split(" ")[0].split(":")[0]
            if verb.startswith("("):
                verb = "BODY"
            cmds.setdefault(int(m.group(3)), []).append(verb)
    hello = "LHLO" if proto == "LMTP" else "EHLO"
    shape = re.compile(r"^%s( (RSET )?(XFORWARD )?MAIL( RCPT)+ DATA BODY)*( QUIT)?$" % hello)
    mail = 0
    for cid, verbs in sorted(cmds.items()):
        seq = " ".join(verbs)
        if not shape.match(seq):
            print("connection %d: %s" % (cid, seq))
            return 1
        mail += verbs.count("MAIL")
    print("ids " + " ".join(str(c) for c in sorted(cmds)))
    print("mail %d" % mail)
    return 0


if __name__ == "__main__":
    sys.exit(main())
