"""Change one table of the stack file in place, keeping its comments and layout (tomlkit)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomlkit

from stackform.fileio import atomic_write


def set_table(path: Path, name: str, values: Mapping[str, Any]) -> None:
    """Make ``[name]`` hold exactly ``values``; comments of keys that stay are kept."""
    doc = tomlkit.parse(path.read_text())
    table = doc.get(name)
    if table is None:
        table = tomlkit.table()
        doc[name] = table
    for key in [k for k in table if k not in values]:
        del table[key]
    for key, value in values.items():
        table[key] = value
    mode = path.stat().st_mode & 0o777
    atomic_write(path, tomlkit.dumps(doc).encode(), mode)
