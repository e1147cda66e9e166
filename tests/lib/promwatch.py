#!/usr/bin/env python3
"""promwatch.py FILE STOPFILE — read a Prometheus text file over and over
(every 2 ms) while a daemon rewrites it, until STOPFILE exists (at most
120 s), and check every read with prometheus_client's own text parser
(python3-prometheus-client from Debian).

Every read must be a whole file: it parses, every family has TYPE and HELP,
and it ends with the popfetch_metrics_timestamp_seconds sample, which
metrics.c writes last (a file cut short anywhere lacks it). The first
failing read is printed and the exit status is 1.

Otherwise it prints, one per line:
    reads N            how many reads parsed
    rewrites N         how many times the file was replaced (a new inode
                       or a new popfetch_metrics_timestamp_seconds)
    min_gap_ms N       the shortest time between two successive versions
                       seen, by their popfetch_metrics_timestamp_seconds
                       (the writer's clock, so a reader slowed down by a
                       busy machine does not shorten it; -1 with fewer
                       than two versions)
    versions T...      those timestamps, in the order seen
and exits 0."""

import os
import sys
import time

from prometheus_client.parser import text_string_to_metric_families


def check(text):
    """The metrics timestamp of a whole file; raises ValueError otherwise."""
    if not text.endswith("\n"):
        raise ValueError("does not end with a newline")
    stamp = None
    for fam in text_string_to_metric_families(text):
        if fam.type == "unknown" or not fam.documentation:
            raise ValueError(f"family {fam.name} has no TYPE or HELP")
        for s in fam.samples:
            if s.name == "popfetch_metrics_timestamp_seconds":
                stamp = s.value
    last = text.rstrip("\n").rsplit("\n", 1)[-1]
    if stamp is None or not last.startswith("popfetch_metrics_timestamp_seconds "):
        raise ValueError("the last line is not popfetch_metrics_timestamp_seconds")
    return stamp


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    path, stop = sys.argv[1], sys.argv[2]
    end = time.monotonic() + 120
    reads, last_id, changes, stamps = 0, None, 0, []
    while not os.path.exists(stop) and time.monotonic() < end:
        try:
            with open(path) as f:
                ino = os.fstat(f.fileno()).st_ino
                text = f.read()
        except FileNotFoundError:
            time.sleep(0.002)
            continue
        try:
            stamp = check(text)
        except Exception as e:  # the parser raises ValueError and others
            print(f"read {reads + 1} is not a whole metrics file: {e}\n{text}")
            return 1
        reads += 1
        if (ino, stamp) != last_id:
            if last_id is not None:
                changes += 1
            if not stamps or stamps[-1] != stamp:
                stamps.append(stamp)
            last_id = (ino, stamp)
        time.sleep(0.002)
    gaps = [round((b - a) * 1000) for a, b in zip(stamps, stamps[1:])]
    print(f"reads {reads}")
    print(f"rewrites {changes}")
    print(f"min_gap_ms {min(gaps) if gaps else -1}")
    print("versions " + " ".join(f"{x:.3f}" for x in stamps))
    return 0


if __name__ == "__main__":
    sys.exit(main())
