"""The stack file: plain data and comments -> TOML text (tomlkit), and the files written.

Small flat tables (``env``, ``commands``) are written inline; everything else as tables, so a
long ``config`` reads one key a line. The text is parsed back and compared with the data
before anything is written: a difference is a bug of the importer, never a wrong file.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from stackform.errors import StackformError

ORDER = ("stack", "state", "env", "vars", "environments", "extractors", "mappers", "loaders",
         "transformers", "utilities", "orchestrators", "pipelines")
_INLINE = ("env", "commands", "vars")
HEADER = ("Made by `stackform import meltano` from a Meltano project. The import's report "
          "says what needs a person.")


def render(stack: dict[str, Any], comments: dict[tuple[str, ...], list[str]]) -> str:
    import tomlkit

    doc = tomlkit.document()
    doc.add(tomlkit.comment(HEADER))
    doc.add(tomlkit.nl())
    for section in sorted(stack, key=lambda s: ORDER.index(s) if s in ORDER else len(ORDER)):
        value = stack[section]
        doc.add(section, _table(value, (section,), comments))
    text = tomlkit.dumps(doc)
    if tomllib.loads(text) != _plain(stack):
        raise StackformError("internal error: the stack file written would not read back as "
                             "the data imported", hint="this is a bug in stackform import; "
                             "report it with the meltano.yml")
    return text


def _table(data: dict[str, Any], path: tuple[str, ...],
           comments: dict[tuple[str, ...], list[str]]) -> Any:
    import tomlkit

    table = tomlkit.table(is_super_table=_super(data, path) and path not in comments)
    for line in comments.get(path, []):
        table.add(tomlkit.comment(line))
    nested: list[tuple[str, dict[str, Any]]] = []
    for key, value in data.items():
        if isinstance(value, dict) and not _inline(key, value):
            nested.append((key, value))
        else:
            table.add(key, _item(value))
    for key, value in nested:
        table.add(key, _table(value, (*path, key), comments))
    return table


def _super(data: dict[str, Any], path: tuple[str, ...]) -> bool:
    """A table of tables only gets no header of its own, except a block and an environment
    (and a block's override), whose header says what follows."""
    if not data or not all(isinstance(v, dict) for v in data.values()):
        return False
    named = (len(path) == 2 and path[0] in ORDER[4:]) or \
        (len(path) == 5 and path[0] == "environments" and path[2] == "override")
    return not named


def _inline(key: str, value: dict[str, Any]) -> bool:
    return key in _INLINE and all(not isinstance(v, dict) or _flat(v) for v in value.values())


def _flat(value: dict[str, Any]) -> bool:
    return all(not isinstance(v, dict | list) or (isinstance(v, dict) and _flat(v))
               for v in value.values())


def _item(value: Any) -> Any:
    import tomlkit

    if isinstance(value, dict):
        inline = tomlkit.inline_table()
        for k, v in value.items():
            inline.append(k, _item(v))
        return inline
    if isinstance(value, list):
        array = tomlkit.array()
        for v in value:
            array.append(_item(v))
        if len(value) > 4 or any(isinstance(v, dict) for v in value):
            array.multiline(True)
        return array
    return tomlkit.item(value)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def write_new(path: Path, text: str, *, force: bool) -> None:
    """Write ``path`` atomically; an existing file is refused unless ``force``."""
    from stackform.fileio import atomic_write

    if path.exists() and not force:
        raise StackformError(f"{path} exists: not overwritten",
                             hint="pass --force to replace it, or --output to write elsewhere")
    atomic_write(path, text.encode("utf-8"), 0o644)
