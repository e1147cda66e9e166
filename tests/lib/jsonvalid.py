#!/usr/bin/env python3
"""jsonvalid.py SCHEMA [FILE...] — every line of the files (or of stdin) is
one JSON object (or a file is one whole object, as a status file is) that
the JSON Schema SCHEMA accepts (python3-jsonschema from
Debian, the draft the schema names). Prints one line per problem and exits 1
if there is any, or if there is no object at all; exits 0 otherwise.

Used by the bats tests to check popfetch's --json lines and status files
against the shipped contrib/popfetch-result.schema.json."""

import json
import sys

import jsonschema


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1]) as f:
        schema = json.load(f)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    sources = sys.argv[2:] or ["-"]
    seen = bad = 0
    for src in sources:
        f = sys.stdin if src == "-" else open(src)
        text = f.read()
        try:
            whole = json.loads(text)
            items = [(1, whole)] if isinstance(whole, dict) else None
        except ValueError:
            items = None
        if items is None:
            items = []
            for n, line in enumerate(text.splitlines(), 1):
                try:
                    items.append((n, json.loads(line)))
                except ValueError as e:
                    print(f"{src}:{n}: not JSON: {e}")
                    bad += 1
        for n, obj in items:
            seen += 1
            for err in validator.iter_errors(obj):
                where = "/".join(str(p) for p in err.absolute_path) or "(top)"
                print(f"{src}:{n}: {where}: {err.message}")
                bad += 1
    if seen == 0:
        print("no JSON object at all")
        return 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
