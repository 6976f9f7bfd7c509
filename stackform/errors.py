"""The one error root of stackform.

Every failure a user can cause or meet is a :class:`StackformError` carrying a *reason* (what went
wrong) and a *hint* (what to do about it). The CLI catches this root once and renders it; any
other exception is a bug and only shows a traceback with ``--debug``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stackform.diagnostics import Diagnostic


class StackformError(Exception):
    """Base of every expected failure: a reason, an optional hint, an exit code."""

    exit_code: int = 1

    def __init__(self, reason: str, hint: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint

    def __str__(self) -> str:
        return self.reason if not self.hint else f"{self.reason}\n  hint: {self.hint}"


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

    exit_code = 130


class RunLockedError(StackformError):
    """The pipeline is already running in this environment."""


class RunError(StackformError):
    """A pipeline run failed."""


class S3Error(StackformError):
    """An S3 request failed: a missing bucket, refused credentials, an unreachable endpoint."""
