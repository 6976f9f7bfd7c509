"""The command line: thin commands that parse, call the core, and render through a console.

``run`` is the console script. It answers ``--version`` before importing the CLI framework, so
the commonest probe of an installation costs only the interpreter's start-up.
"""

from __future__ import annotations

import gc
import sys

from stackform import __version__

COLLECTOR_THRESHOLDS = (200_000, 30, 30)


def run() -> None:
    if sys.argv[1:] in (["--version"], ["-V"]):
        from stackform.console import PlainConsole  # light: rich is not imported

        PlainConsole().data(f"stackform {__version__}")
        return
    # A command allocates many objects and frees few cycles. At the default thresholds (a
    # collection every 700 net allocations) the collector traversed the stack, the plan and state
    # again and again: about a quarter of the CPU time of a no-op plan of 10,000 components. The
    # thresholds are mypy's; garbage in cycles still goes, just in larger batches.
    gc.set_threshold(*COLLECTOR_THRESHOLDS)
    from stackform.cli.main import main_entry  # typer, and the commands: not for --version

    # What the imports made lives as long as the process: no collection need traverse it.
    gc.freeze()
    try:
        main_entry()
    finally:
        # The interpreter's last garbage collection would walk every object still alive (about
        # 40 ms); frozen, they are simply freed with the process. atexit hooks and finalizers
        # still run.
        gc.freeze()
