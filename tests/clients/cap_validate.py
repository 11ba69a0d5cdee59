#!/usr/bin/env python3
"""Validates CAP 1.2 files with the independent `capvalidator` package (PyPI).

Usage: cap_validate.py [--strict] FILE...

Non-strict (the default) checks each file against capvalidator's own copy of the OASIS schema and accepts an
unsigned or wrongly signed message with a warning; --strict also requires a valid XML signature (verified by
signxml with the certificate embedded in the message). Prints one line per file; exits 1 if any file fails,
2 on a usage error.
"""
import sys

from capvalidator import validate_cap_message


def main(argv):
    strict = False
    files = []
    for arg in argv:
        if arg == "--strict":
            strict = True
        elif arg.startswith("-"):
            print(f"unknown option {arg}", file=sys.stderr)
            return 2
        else:
            files.append(arg)
    if not files:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    failed = 0
    for path in files:
        with open(path, "rb") as f:
            cap = f.read()
        result = validate_cap_message(cap, strict=strict)
        print(f"{path}: {'PASS' if result.passed else 'FAIL'}: {result.message}")
        if not result.passed:
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
