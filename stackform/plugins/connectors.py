"""The first-party Singer connectors that ship with stackform, named ``stackform:NAME``.

A stack names one in ``pip_url`` without a path or an index::

    [loaders.warehouse]
    pip_url = "stackform:target-duckdb"

``stackform:NAME`` stands for the connector's source folder shipped with the running stackform
(``providers/<distribution>`` of the source tree, found by :func:`stackform.shipped.shipped`),
installed into the plugin venv cache like any local folder. Its executable comes from the table
below, so the block needs no ``executable``. An unknown name is a located error at validate
and plan (see :func:`unknown_connector`); ``stackform.lock`` keeps the ``stackform:NAME``
spelling and pins the connector's dependencies.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from stackform.errors import StackformError
from stackform.shipped import shipped

PREFIX = "stackform:"


class ConnectorError(StackformError):
    """A ``stackform:NAME`` requirement names no connector this stackform ships."""


@dataclass(frozen=True)
class Connector:
    """One first-party connector: its short name, its package and its command."""

    name: str
    distribution: str
    """The package name, and the folder under ``providers/`` holding its source."""
    executable: str
    summary: str

    @property
    def requirement(self) -> str:
        return PREFIX + self.name

    def source(self) -> Path:
        """The connector's source folder shipped with this stackform."""
        path = shipped("providers", self.distribution)
        if not (path / "pyproject.toml").is_file():
            raise ConnectorError(
                f"{self.requirement}: this stackform install has no copy of "
                f"{self.distribution} (looked in {path})",
                hint="reinstall stackform from its wheel, or from a full source checkout")
        return path


CONNECTORS: dict[str, Connector] = {c.name: c for c in (
    Connector("tap-jsonl", "tap-stackform-jsonl", "tap-stackform-jsonl",
              "a Singer tap for JSONL files, incremental by byte offset"),
    Connector("target-duckdb", "target-stackform-duckdb", "target-stackform-duckdb",
              "a Singer target for DuckDB, loading with DuckDB's JSON reader"),
)}


def known_names() -> str:
    return ", ".join(c.requirement for c in CONNECTORS.values())


def is_connector(requirement: str) -> bool:
    """Whether a requirement is written ``stackform:NAME`` (known or not)."""
    return requirement.strip().startswith(PREFIX)


def unknown_connector(requirement: str) -> str | None:
    """Why a ``stackform:NAME`` requirement names nothing (``None`` when it is fine, or not one)."""
    if not is_connector(requirement):
        return None
    name = requirement.strip()[len(PREFIX):]
    if name in CONNECTORS:
        return None
    return f"unknown connector '{requirement.strip()}': stackform ships {known_names()}"


def unknown_hint(requirement: str) -> str:
    import difflib

    close = difflib.get_close_matches(requirement.strip()[len(PREFIX):], CONNECTORS, n=1)
    guess = f"did you mean '{PREFIX}{close[0]}'? " if close else ""
    return f"{guess}`stackform docs singer` describes them"


def find_connector(requirement: str) -> Connector | None:
    """The connector a ``stackform:NAME`` requirement names; ``None`` for any other requirement."""
    if not is_connector(requirement):
        return None
    problem = unknown_connector(requirement)
    if problem:
        raise ConnectorError(problem, hint=unknown_hint(requirement))
    return CONNECTORS[requirement.strip()[len(PREFIX):]]


def concrete(requirements: Iterable[str]) -> tuple[tuple[str, ...], dict[str, str]]:
    """Requirements uv can install (``stackform:NAME`` -> the shipped source folder), and the
    way back (folder -> ``stackform:NAME``) for what uv reports."""
    out: list[str] = []
    back: dict[str, str] = {}
    for requirement in requirements:
        connector = find_connector(requirement)
        if connector is None:
            out.append(requirement)
            continue
        path = connector.source()
        out.append(str(path))
        back[str(path)] = connector.requirement
        back[f"{connector.distribution} @ {path.as_uri()}"] = connector.requirement
    return tuple(out), back


def pip_url_problems(pip_url: object) -> list[tuple[str, str]]:
    """``(problem, hint)`` for each unknown ``stackform:NAME`` in a block's ``pip_url``."""
    items = pip_url.split() if isinstance(pip_url, str) else pip_url
    if not isinstance(items, list | tuple):
        return []
    return [(problem, unknown_hint(str(item))) for item in items
            if (problem := unknown_connector(str(item)))]
