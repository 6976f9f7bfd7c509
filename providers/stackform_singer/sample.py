"""``stackform test --sample N``: a bounded relay between the tap and the target.

Only sample runs have it; a normal run keeps the tap's stdout as the target's stdin (an OS
pipe, stackform relays nothing). Here a thread reads the tap's messages and passes them on,
each stream's RECORD messages up to N. Once every selected stream has reached N, it stops the
tap (SIGTERM: the tap's own business of ending) and closes the target's input, so the target
commits what it received and exits as at the end of any run. A tap that finishes first ends
the run as usual.

What the relay passed on is what the run emitted: the records counted here replace the tap's
``record_count`` metrics (which count the records the relay dropped too). A STATE message is
passed on only while no record was dropped: a bookmark past a dropped record would claim rows
that never landed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
from pathlib import Path
from typing import IO

from stackform.provider import RunContext
from stackform_singer.catalog import selection_of


class Sampler:
    """The two pipes and the relay thread of one sample run."""

    def __init__(self, run: RunContext, limit: int, streams: int) -> None:
        self.run = run
        self.limit = limit
        self.streams = max(1, streams)
        """How many streams are selected: the tap is stopped once that many reached limit."""
        self._tap_read, self.tap_stdout = os.pipe()
        self.target_stdin, self._target_write = os.pipe()
        self.records: dict[str, int] = {}
        self.dropped = 0
        self.stopped_tap = False
        self._thread: threading.Thread | None = None

    def _close(self, *names: str) -> None:
        # Each end is closed once: a number closed twice may belong to another file by then.
        for name in names:
            fd = getattr(self, name)
            if fd >= 0:
                setattr(self, name, -1)
                with contextlib.suppress(OSError):
                    os.close(fd)

    def close_child_ends(self) -> None:
        """After both processes started: the ends they hold are theirs alone."""
        self._close("tap_stdout", "target_stdin")

    def close_all(self) -> None:
        """When a process could not start: every end, so nothing waits on them."""
        self._close("tap_stdout", "target_stdin", "_tap_read", "_target_write")

    def start(self, tap: subprocess.Popen[bytes]) -> None:
        src = os.fdopen(self._tap_read, "rb")
        dst = os.fdopen(self._target_write, "wb")
        self._thread = threading.Thread(target=self._relay, args=(src, dst, tap),
                                        name="sample-relay", daemon=True)
        self._thread.start()

    def join(self, timeout: float = 10.0) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _relay(self, src: IO[bytes], dst: IO[bytes], tap: subprocess.Popen[bytes]) -> None:
        try:
            with src, dst:
                for line in src:
                    if not self._pass(line, dst):
                        break
                if self._full():
                    self._stop_tap(tap)
        except (BrokenPipeError, OSError):
            # The target went away: the run reports its exit; the tap is stopped with it.
            pass

    def _pass(self, line: bytes, dst: IO[bytes]) -> bool:
        """Pass ``line`` on (or drop it); False once every stream reached the limit."""
        kind = b"RECORD" if b'"RECORD"' in line else b"STATE" if b'"STATE"' in line else None
        if kind is not None:
            try:
                message = json.loads(line)
            except ValueError:
                message = {}
            if message.get("type") == "RECORD":
                stream = str(message.get("stream"))
                if self.records.get(stream, 0) >= self.limit:
                    self.dropped += 1
                    return True
                self.records[stream] = self.records.get(stream, 0) + 1
                dst.write(line)
                return not self._full()
            if message.get("type") == "STATE" and self.dropped:
                return True
        dst.write(line)
        return True

    def _full(self) -> bool:
        return sum(1 for n in self.records.values() if n >= self.limit) >= self.streams

    def _stop_tap(self, tap: subprocess.Popen[bytes]) -> None:
        self.stopped_tap = True
        self.run.log(f"# sample: every stream reached {self.limit} records; stopping the tap")
        if tap.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                tap.send_signal(signal.SIGTERM)


def sampler_for(run: RunContext, catalog: Path) -> Sampler | None:
    """A relay for a ``--sample`` run, else ``None`` (the plain OS pipe)."""
    if not run.sample:
        return None
    try:
        selected = len(selection_of(json.loads(catalog.read_text())).names)
    except (OSError, ValueError):
        selected = 1
    return Sampler(run, run.sample, selected)
