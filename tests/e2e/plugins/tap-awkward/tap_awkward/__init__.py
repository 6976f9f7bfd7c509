"""tap-awkward: ``--help`` offers ``--about``; ``--about`` raises, like a connector whose
optional dependency is missing."""

from __future__ import annotations

import sys


def main() -> int:
    argv = sys.argv[1:]
    if "--help" in argv:
        print("usage: tap-awkward [--about] [--format FORMAT] [--config CONFIG] [--discover]")
        return 0
    if "--about" in argv:
        raise RuntimeError("about: the settings module failed to import")
    print("tap-awkward does nothing else", file=sys.stderr)
    return 2
