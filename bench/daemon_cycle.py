#!/usr/bin/env python3
"""daemon_cycle.py — one poll cycle of a popfetch daemon, for bench/run's
scenario G (Python standard library only).

    daemon_cycle.py --objects N --rss-file FILE -- popfetch ... -d S --json ...

Starts the daemon, passes its --json lines on to stdout, and once N objects
have come (every account polled once) stops it with SIGTERM and waits for
it. Meanwhile it samples, every 20 ms, the memory of the daemon and of all its
children together (the polls run in child processes; each one's
proportional set size, Pss, so that what they share is counted once) and
writes the highest total, in KiB, to FILE. Exit status 0 when the daemon ended
with 0 and every object's outcome was "mail"; 1 otherwise (what went wrong
on stderr)."""

import argparse
import json
import os
import signal
import subprocess
import sys
import threading


def pss_kib(pid):
    """The process's proportional share of memory: pages shared with the
    daemon (a poll is a fork of it) or with the others count once in the
    sum, as they are once in RAM."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except (OSError, ValueError):
        return []


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--objects", type=int, required=True)
    ap.add_argument("--rss-file", required=True)
    ap.add_argument("argv", nargs="+")
    a = ap.parse_args()

    p = subprocess.Popen(a.argv, stdout=subprocess.PIPE)
    peak = [0]
    done = threading.Event()

    def sample():
        while not done.wait(0.02):
            total = pss_kib(p.pid) + sum(pss_kib(c) for c in children(p.pid))
            peak[0] = max(peak[0], total)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    seen, bad = 0, []
    for line in p.stdout:
        sys.stdout.buffer.write(line)
        try:
            obj = json.loads(line)
        except ValueError:
            bad.append(f"not JSON: {line[:80]!r}")
            continue
        seen += 1
        if obj.get("outcome") != "mail":
            bad.append(f"{obj.get('account')}: {obj.get('outcome')}")
        if seen >= a.objects:
            break
    p.send_signal(signal.SIGTERM)
    for _ in p.stdout:
        pass
    rc = p.wait()
    done.set()
    t.join()
    with open(a.rss_file, "w") as f:
        f.write(f"{peak[0]}\n")
    if seen < a.objects:
        bad.append(f"only {seen} of {a.objects} objects")
    if rc != 0:
        bad.append(f"the daemon exited with {rc}")
    for b in bad[:10]:
        print(b, file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
