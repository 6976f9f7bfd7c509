"""A Python child process driven line by line, for tests that need a second real process (a
lock holder, a writer to kill mid-write)."""

from __future__ import annotations

import signal
import subprocess
import sys


class ChildProcess:
    """Runs ``python -c CODE ARGS...``; the test reads its stdout a line at a time and writes
    to its stdin to tell it to go on."""

    def __init__(self, code: str, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code, *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def line(self) -> list[str]:
        """The next line the child printed, split; fails with its stderr if it ended."""
        assert self.proc.stdout is not None
        text = self.proc.stdout.readline()
        if not text:
            assert self.proc.stderr is not None
            raise AssertionError(f"child ended: {self.proc.wait()} {self.proc.stderr.read()}")
        return text.split()

    def send(self, text: str = "\n") -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text)
        self.proc.stdin.flush()

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
