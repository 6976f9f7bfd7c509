"""Disk work for the ``files`` provider: template rendering, atomic writes, inspection.

Every ``OSError`` is turned into a :class:`FilesError` that names the path, so a user sees
``cannot write transform/.env: permission denied on transform`` rather than a traceback.
"""

from __future__ import annotations

import errno
import hashlib
import os
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from stackform.errors import StackformError, os_reason
from stackform.fileio import atomic_write, sweep_temps_of


class FilesError(StackformError):
    """A file could not be rendered, written, read or removed."""


def render_template(template: Path, variables: Mapping[str, object], shown: str) -> tuple[str, str]:
    """``string.Template`` substitution of ``$name`` / ``${name}``; ``$$`` is a literal ``$``.

    Returns the rendered text and the sha256 of the template's source (read once, so the two
    agree even if the template is edited meanwhile). ``shown`` names the template in errors.
    """
    try:
        raw = template.read_bytes()
        source = raw.decode("utf-8")
    except FileNotFoundError:
        raise FilesError(
            f"template {shown} not found (looked for {template})",
            hint="template paths are relative to the stack folder",
        ) from None
    except UnicodeDecodeError as exc:
        raise FilesError(
            f"template {shown} is not UTF-8 text ({exc.reason} at byte {exc.start})",
            hint="templates are read as UTF-8",
        ) from None
    except OSError as exc:
        raise FilesError(f"cannot read template {shown}: {_why(exc)}") from None
    values = {k: _render_value(v) for k, v in variables.items()}
    try:
        rendered = string.Template(source).substitute(values)
    except KeyError as exc:
        name = exc.args[0]
        raise FilesError(
            f"template {shown} uses ${{{name}}} but vars has no {name!r}",
            hint=f"add {name} to vars, or write $$ for a literal $",
        ) from None
    except ValueError as exc:
        # string.Template reports the position as "line L, col C" in its message.
        raise FilesError(
            f"template {shown}: {exc}",
            hint="placeholders are $name or ${name}; write $$ for a literal $",
        ) from None
    return rendered, hashlib.sha256(raw).hexdigest()


def _render_value(value: object) -> str:
    # TOML spells booleans true/false; Python's str() would give True/False.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def template_digest(template: Path) -> str | None:
    """sha256 of a template's source, ``None`` when it cannot be read."""
    try:
        return hashlib.sha256(template.read_bytes()).hexdigest()
    except OSError:
        return None


def write_file(path: Path, data: bytes, mode: int, *, create_dirs: bool, shown: str) -> None:
    """Write ``data`` to ``path`` with ``mode`` so a reader sees the old file or the new one.

    Through :func:`stackform.fileio.atomic_write`: the temp file is created 0600 and only given
    ``mode`` once written, so a secret is never readable by others, even while it is being
    written or when the writer is killed. Temp files a killed writer left beside ``path`` are
    removed first.
    """
    parent = path.parent
    if not parent.is_dir():
        if not create_dirs:
            raise FilesError(
                f"cannot write {shown}: its folder {parent} does not exist",
                hint="create the folder, or set create_dirs = true",
            )
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FilesError(
                f"cannot write {shown}: cannot create its folder {parent}: {_why(exc)}",
                hint="check the permissions of the folders above it, or choose another path",
            ) from None
    if path.is_dir():
        raise FilesError(
            f"cannot write {shown}: {path} is a directory",
            hint="point path at a file inside it",
        )
    sweep_temps_of(path)
    try:
        # Made durable together with the other files of the apply, before state records them
        # (stackform.fileio.sync_deferred): one flush to disk, not two per file.
        atomic_write(path, data, mode, sync="deferred")
    except OSError as exc:
        raise FilesError(
            f"cannot write {shown}: {_why(exc)} in {parent}",
            hint="check that the folder exists and is writable by this user",
        ) from None


def remove(path: Path, shown: str) -> bool:
    """Remove a file, and the temp files a killed writer left beside it; ``False`` when there
    was no file to remove."""
    sweep_temps_of(path)
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    except IsADirectoryError:
        # Someone replaced the file by a folder: not ours to delete.
        return False
    except OSError as exc:
        if exc.errno == errno.EISDIR or (exc.errno == errno.EPERM and path.is_dir()):
            return False
        raise FilesError(
            f"cannot remove {shown}: {_why(exc)}",
            hint="check the permissions of its folder",
        ) from None
    return True


@dataclass(frozen=True)
class Found:
    """A file as it is on disk."""

    data: bytes
    mode: str


def inspect(path: Path, shown: str) -> Found | None:
    """The file's bytes and mode, ``None`` when there is no file at ``path``."""
    try:
        with path.open("rb") as handle:
            st = os.fstat(handle.fileno())
            data = handle.read()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    except OSError as exc:
        raise FilesError(
            f"cannot read {shown}: {_why(exc)}",
            hint="stackform needs to read the files it manages to detect hand edits",
        ) from None
    return Found(data=data, mode=format_mode(st.st_mode))


def format_mode(st_mode: int) -> str:
    return f"{st_mode & 0o777:04o}"


def _why(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied"
    return os_reason(exc)
