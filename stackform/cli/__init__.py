"""The command line: thin commands that parse, call the core, and render through a console.

``run`` is the console script. It answers ``--version`` before importing the CLI framework, so
the commonest probe of an installation costs only the interpreter's start-up.
"""

from __future__ import annotations

import gc
import sys

from stackform import __version__


def run() -> None:
    if sys.argv[1:] in (["--version"], ["-V"]):
        from stackform.console import PlainConsole  # light: rich is not imported

        PlainConsole().data(f"stackform {__version__}")
        return
    from stackform.cli.main import main_entry  # typer, and the commands: not for --version

    try:
        main_entry()
    finally:
        # The interpreter's last garbage collection walks every object the imports made (about
        # 40 ms); frozen, they are simply freed with the process. atexit hooks and finalizers
        # still run.
        gc.freeze()
