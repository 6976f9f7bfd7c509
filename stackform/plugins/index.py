"""The offline connector index shipped with stackform (``stackform/data/connectors.json``).

The Singer connectors users reach for most, each with its package (a pinned ``pip_url``), its
console script, its variant, a one-line description and whether it is maintained, so that
``stackform add extractor tap-postgres`` knows what to install without asking the network.
``scripts/update-connector-index`` writes the file from the packages' own metadata on the
package index; nothing here edits it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from stackform.diagnostics import did_you_mean
from stackform.errors import StackformError

INDEX_FILE = Path(__file__).resolve().parents[1] / "data" / "connectors.json"


@dataclass(frozen=True)
class IndexEntry:
    """One connector of the index."""

    name: str
    kind: str
    """``extractors`` or ``loaders``."""
    package: str
    pip_url: str
    executable: str
    variant: str
    category: str
    description: str
    version: str
    maintained: bool
    last_release: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@cache
def load_index(path: Path = INDEX_FILE) -> tuple[IndexEntry, ...]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StackformError(f"cannot read stackform's connector index {path}: {exc}",
                             hint="reinstall stackform; scripts/update-connector-index "
                             "writes the file in a source checkout") from None
    fields = IndexEntry.__dataclass_fields__
    return tuple(IndexEntry(**{k: v for k, v in c.items() if k in fields})
                 for c in doc.get("connectors") or ())


def entries(kind: str | None = None) -> list[IndexEntry]:
    """The index, of one kind or all, in its own order."""
    return [e for e in load_index() if kind is None or e.kind == kind]


def find(name: str, kind: str) -> IndexEntry | None:
    """The entry of ``kind`` named ``name`` (or whose package is ``name``), or ``None``."""
    wanted = name.strip().lower()
    for entry in entries(kind):
        if wanted in (entry.name.lower(), entry.package.lower()):
            return entry
    return None


def unknown(name: str, kind: str) -> StackformError:
    """The error for a name the index does not know, with the nearest names it does."""
    known = [e.name for e in entries(kind)]
    guess = did_you_mean(name, known)
    return StackformError(
        f"'{name}' is not in stackform's connector index of {kind}, and no --pip-url says "
        "what to install",
        hint=(f"{guess}; " if guess else "") + "name the package with --pip-url SPEC "
        "(e.g. --pip-url 'tap-foo==1.2.0'), or see `stackform add --list`")
