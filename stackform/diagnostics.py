"""Located problems, collected and reported together.

Modelled on OpenTofu's ``tfdiags``: validation does not stop at the first problem. Each problem
is a :class:`Diagnostic` with the file, line and column it points at and the key path
(``loaders.warehouse.config.path``); a :class:`Diagnostics` collector gathers them and raises one
:class:`~stackform.errors.ConfigError` at the end.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from stackform.errors import ConfigError
from stackform.textsafe import safe_text

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
