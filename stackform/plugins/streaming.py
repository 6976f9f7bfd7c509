"""Running a plugin's command to its end with its output streamed line by line (dbt's models as
they build, a utility's lint findings), stoppable with Ctrl-C or a cancel event.

The process runs supervised (:func:`stackform.supervise.popen`) in its own process group; to stop
it, the group gets SIGINT (dbt then cancels its queries; most tools stop cleanly) and SIGKILL
after a grace period.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from stackform.errors import Interrupted, os_reason
from stackform.plugins.kit import PluginError
from stackform.supervise import popen, stop_group

COMMAND_TIMEOUT = 6 * 3600.0


def stream(args: Sequence[str], *, env: Mapping[str, str], cwd: Path,
           on_line: Callable[[str], None], cancel: threading.Event | None,
           timeout: float = COMMAND_TIMEOUT, what: str = "dbt",
           runtime: Path | None = None) -> int:
    """Run a command, handing each line of its output (stdout and stderr together) to
    ``on_line``; return its exit code. Ctrl-C or ``cancel`` stops it and raises Interrupted.
    It runs supervised (:func:`stackform.supervise.popen`), recorded in ``runtime``."""
    try:
        proc = popen(args, runtime=runtime, env=env, cwd=cwd, stdout=subprocess.PIPE,
                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                     errors="replace")
    except OSError as exc:
        raise PluginError(f"{what}: cannot start {args[0]}: {os_reason(exc)}") from exc
    assert proc.stdout is not None
    out = proc.stdout

    def pump() -> None:
        for line in out:
            on_line(line.rstrip("\n"))

    reader = threading.Thread(target=pump, name=f"{what}-output", daemon=True)
    reader.start()
    started = time.monotonic()
    try:
        while True:
            try:
                proc.wait(timeout=0.25)
                break
            except subprocess.TimeoutExpired:
                if cancel is not None and cancel.is_set():
                    stop_group(proc)
                    raise Interrupted(f"{what}: stopped") from None
                if time.monotonic() - started > timeout:
                    stop_group(proc)
                    raise PluginError(f"{what}: no end after {timeout:.0f} s") from None
    except KeyboardInterrupt:
        stop_group(proc)
        raise
    reader.join(timeout=5)
    return proc.returncode


