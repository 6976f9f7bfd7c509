"""The one error root of stackform.

Every failure a user can cause or meet is a :class:`StackformError` carrying a *reason* (what went
wrong) and a *hint* (what to do about it). The CLI catches this root once and renders it; any
other exception is a bug and only shows a traceback with ``--debug``. A problem of the stack file
is a located :class:`Diagnostic`, collected (:mod:`stackform.diagnostics`) into one
:class:`ConfigError`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Literal

from stackform.textsafe import safe_text


class ExitCode(IntEnum):
    """What the ``stackform`` command exits with."""

    OK = 0
    FAILED = 1
    """Any error or refusal, a failed apply or run, a usage error (never 2: see CHANGES)."""
    CHANGES = 2
    """``plan --detailed-exitcode``: the plan has changes (what CI tests for)."""
    BREAKING = 3
    """``plan --fail-on-breaking``: a change breaks something downstream (docs/lineage.md)."""
    INTERRUPTED = 130
    """Stopped by Ctrl-C or SIGTERM (128 + SIGINT, as shells report it)."""


class StackformError(Exception):
    """Base of every expected failure: a reason, an optional hint, an exit code."""

    exit_code: ExitCode = ExitCode.FAILED

    def __init__(self, reason: str, hint: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint

    def __str__(self) -> str:
        return self.reason if not self.hint else f"{self.reason}\n  hint: {self.hint}"


Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Location:
    """A point in a source file; line and column are 1-based."""

    file: Path
    line: int
    column: int

    def __str__(self) -> str:
        return f"{_shown(self.file)}:{self.line}:{self.column}"


def _shown(path: Path) -> str:
    """A path relative to the working directory when it lies below it, as compilers print."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class Diagnostic:
    """One problem: what, where (location and key path), and what to do."""

    message: str
    path: str = ""
    location: Location | None = None
    hint: str | None = None
    severity: Severity = "error"

    def format(self) -> str:
        """One line (two with a hint). Names and values quoted from the file may hold any
        character: a newline among them must not start a line of its own."""
        where = str(self.location) if self.location else "<stack>"
        key = f" {self.path}:" if self.path else ""
        text = safe_text(f"{where}: {self.severity}:{key} {self.message}", newlines=False)
        if self.hint:
            text += f"\n    hint: {safe_text(self.hint, newlines=False)}"
        return text


class ConfigError(StackformError):
    """The stack file has one or more problems; each is a located diagnostic."""

    def __init__(self, diagnostics: Sequence[Diagnostic], hint: str | None = None) -> None:
        self.diagnostics = tuple(diagnostics)
        n = len(self.diagnostics)
        super().__init__(f"the stack file has {n} problem{'s' if n != 1 else ''}", hint)

    def __str__(self) -> str:
        return "\n".join(d.format() for d in self.diagnostics)


class ProviderNotFoundError(StackformError):
    """No installed provider owns a kind."""


class ProviderLoadError(StackformError):
    """An installed provider cannot be used: its package fails to import, or what it
    registers is not a provider of the kind it claims."""


class SecretError(StackformError):
    """A secret could not be resolved or stored."""


class StateError(StackformError):
    """State could not be read or written."""


class CorruptStateError(StateError):
    """The stored state is not a valid state document; it is never overwritten."""


class ForeignStateError(CorruptStateError):
    """The stored document is the state of another stack or environment: it is never used
    here and never overwritten (the rescue commands set it aside, keeping it)."""


class StateConflictError(StateError):
    """Stored state moved (another lineage or a newer serial) since it was read."""


class StateLockedError(StateError):
    """Another process holds the environment's lock."""


class StalePlanError(StackformError):
    """A saved plan no longer matches the stack or the state it was made against."""


class GraphError(StackformError):
    """The dependency graph is invalid (a cycle)."""

    def __init__(self, reason: str, hint: str | None = None,
                 cycle: tuple[str, ...] = ()) -> None:
        super().__init__(reason, hint)
        self.cycle = cycle


class ApplyError(StackformError):
    """One or more resources failed to apply."""


class Interrupted(StackformError):
    """The user stopped the operation (Ctrl-C); work in flight was allowed to finish."""

    exit_code = ExitCode.INTERRUPTED


class RunLockedError(StackformError):
    """The pipeline is already running in this environment."""


class RunError(StackformError):
    """A pipeline run failed."""


class S3Error(StackformError):
    """An S3 request failed: a missing bucket, refused credentials, an unreachable endpoint."""


# -- filesystem failures ---------------------------------------------------------------------


def os_reason(exc: OSError) -> str:
    """Why a filesystem call failed, in words (``Permission denied``)."""
    return exc.strerror or str(exc)


def os_error(action: str, path: Path, exc: OSError,
             error: type[StackformError] = StackformError) -> StackformError:
    """A filesystem failure (permissions, a full disk) of stackform's own files as an error a
    user can act on: ``could not <action> <path>: <why>``."""
    return error(f"could not {action} {path}: {os_reason(exc)}",
                 hint=f"check that {path.parent} is a folder you can write to, on a disk with room")


@contextmanager
def os_errors(action: str, path: Path,
              error: type[StackformError] = StackformError) -> Iterator[None]:
    """Raise :func:`os_error` for an ``OSError`` of the block."""
    try:
        yield
    except OSError as exc:
        raise os_error(action, path, exc, error) from exc
