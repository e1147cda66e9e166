#!/usr/bin/env python3
"""man-examples.py — the examples of a man page as a reader copies them:
from the RENDERED page (man -l PAGE | col -b), never from its source.

usage: man-examples.py PAGE.5 OUTDIR   (popfetchrc(5))
       man-examples.py PAGE.1 OUTDIR   (popfetch(1))

popfetchrc(5): OUTDIR/examples.conf holds the EXAMPLES section; OUTDIR/
inline.N holds each inline example ("Example: KEY ...", "e.g. KEY ...") of a
config line, one line each.
popfetch(1): OUTDIR/cmd.N holds each command line of EXAMPLES that runs
popfetch (continuation lines joined).
Prints how many files it wrote; exits 1 when it found none.
"""
import os
import re
import subprocess
import sys

KEY = re.compile(r"^[a-z_]+\s")


def render(page):
    env = dict(os.environ, MANWIDTH="2000", MAN_KEEP_FORMATTING="")
    out = subprocess.run(["man", "-l", page], env=env, capture_output=True, check=True).stdout
    return subprocess.run(["col", "-b"], input=out, capture_output=True, check=True).stdout.decode()


def section(text, name):
    m = re.search(r"^%s\n(.*?)^\S" % re.escape(name), text, re.M | re.S)
    return m.group(1) if m else ""


def block_lines(sec):
    """The indented example lines (deeper than the prose), dedented."""
    lines = [l.expandtabs() for l in sec.splitlines()]
    prose = min((len(l) - len(l.lstrip()) for l in lines if l.strip()), default=0)
    return [l[prose:] for l in lines]


def conf_page(text, outdir):
    n = 0
    with open(os.path.join(outdir, "examples.conf"), "w") as f:
        f.write("\n".join(l.strip() for l in block_lines(section(text, "EXAMPLES"))) + "\n")
    n += 1
    # the keys: the terms the page defines (lines indented like a term)
    keys = {m.group(1) for m in re.finditer(r"^ {7}([a-z_]+)\b", text, re.M)}
    for line in text.splitlines():
        line = " ".join(line.split())
        for m in re.finditer(r"(?:Example:|e\.g\.)\s+([a-z_]+ .*?)(?:\.(?:\s|$)|;|$)", line):
            frag = m.group(1)
            if frag.split()[0] not in keys:
                continue
            with open(os.path.join(outdir, "inline.%d" % n), "w") as f:
                f.write(frag + "\n")
            n += 1
    return n


def cmd_page(text, outdir):
    n = 0
    cur = ""
    for l in section(text, "EXAMPLES").splitlines():
        s = l.strip()
        if cur:
            cur += " " + s
        elif s.startswith("popfetch ") or s == "popfetch":
            cur = s
        else:
            continue
        if cur.endswith("\\"):
            cur = cur[:-1].rstrip()
            continue
        with open(os.path.join(outdir, "cmd.%d" % n), "w") as f:
            f.write(cur + "\n")
        n += 1
        cur = ""
    return n


def main():
    page, outdir = sys.argv[1], sys.argv[2]
    text = render(page)
    n = conf_page(text, outdir) if page.endswith(".5") else cmd_page(text, outdir)
    print(n)
    return 0 if n else 1


sys.exit(main())
