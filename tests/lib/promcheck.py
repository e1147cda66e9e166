#!/usr/bin/env python3
"""promcheck.py FILE — parse a Prometheus text-format file with the
prometheus_client library's own parser (python3-prometheus-client from
Debian) and print every sample as one line:

    NAME label=value label=value VALUE

labels sorted by name, VALUE as Python prints a float (e.g. 3.0). Also
checks that every sample belongs to a family declared with # TYPE and
# HELP (the parser names families without TYPE "unknown"). Exit 1 with a
message when the file does not parse or a family is undeclared."""

import sys

from prometheus_client.parser import text_string_to_metric_families


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    text = open(sys.argv[1]).read()
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as e:  # the parser raises ValueError and others
        print(f"does not parse: {e}")
        return 1
    for fam in families:
        if fam.type == "unknown" or not fam.documentation:
            print(f"family {fam.name} has no TYPE or HELP")
            return 1
        for s in fam.samples:
            labels = " ".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            print(f"{s.name} {labels} {s.value}".replace("  ", " "))
    return 0


if __name__ == "__main__":
    sys.exit(main())
