"""Located problems, collected and reported together.

Modelled on OpenTofu's ``tfdiags``: validation does not stop at the first problem. Each problem
is a :class:`~stackform.errors.Diagnostic` with the file, line and column it points at and the
key path (``loaders.warehouse.config.path``); a :class:`Diagnostics` collector gathers them and
raises one :class:`~stackform.errors.ConfigError` at the end. The problem itself is defined with
the errors that carry it, and named here too.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from stackform.errors import ConfigError, Diagnostic, Location, Severity

Locator = Callable[[str, tuple[str | int, ...], bool], Location | None]
"""(resource address, key path inside its block, point at the key rather than the value) ->
where the stack file writes it (an environment's override included), or None."""


def no_location(_address: str, _path: tuple[str | int, ...], _key: bool) -> Location | None:
    """The :data:`Locator` of a stack that was not read from a file (tests, tools)."""
    return None

__all__ = ["ConfigError", "Diagnostic", "Diagnostics", "Location", "Severity", "did_you_mean"]

@dataclass
class Diagnostics:
    """An ordered collection of diagnostics."""

    items: list[Diagnostic] = field(default_factory=list)

    def add(self, diagnostic: Diagnostic) -> None:
        self.items.append(diagnostic)

    def extend(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.items.extend(diagnostics)

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "warning"]

    def raise_if_errors(self) -> None:
        if self.errors:
            ordered = sorted(
                self.errors,
                key=lambda d: (
                    str(d.location.file) if d.location else "",
                    d.location.line if d.location else 0,
                    d.location.column if d.location else 0,
                ),
            )
            raise ConfigError(ordered)


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A hint naming the closest known spelling, if one is close enough."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{matches[0]}'?" if matches else None
