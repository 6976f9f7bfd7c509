"""A source map for TOML text: key path -> (line, column) of the key and of its value.

Neither ``tomllib`` nor ``tomlkit`` records where a value was written, yet every stack-file
diagnostic must name a line and column. :class:`SourceMap` is a small, lenient scanner that walks
text already known to be valid TOML and records, for every key path (``("loaders", "warehouse",
"config", "path")``, with ``int`` indices for array elements and array-of-tables entries), where
its key and its value start. It never raises: on text it does not understand it skips ahead, so a
location may be missing but lookups still answer with the nearest known ancestor.

It also notes every key or table written twice (:meth:`SourceMap.duplicates`): the parser
reports a duplicate without a usable position, and text is valid TOML up to its first duplicate.
"""

from __future__ import annotations

import bisect
import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

PathKey = str | int
KeyPath = tuple[PathKey, ...]


@dataclass(frozen=True)
class Duplicate:
    """A key or table defined a second time: where it was first, where again (line, column)."""

    path: KeyPath
    first: tuple[int, int]
    again: tuple[int, int]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_WS = " \t"
_SCALAR_END = frozenset(",]}\n\r#")
_ESCAPES = {
    "b": "\b",
    "t": "\t",
    "n": "\n",
    "f": "\f",
    "r": "\r",
    "e": "\x1b",
    '"': '"',
    "\\": "\\",
}


def _decode_basic(raw: str) -> str:
    """The value of a basic (double-quoted) string's body, escapes resolved."""
    if "\\" not in raw:
        return raw
    out: list[str] = []
    i, n = 0, len(raw)
    while i < n:
        c = raw[i]
        if c != "\\" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        e = raw[i + 1]
        if e in _ESCAPES:
            out.append(_ESCAPES[e])
            i += 2
        elif e in "uUx":
            width = {"u": 4, "U": 8, "x": 2}[e]
            try:
                out.append(chr(int(raw[i + 2 : i + 2 + width], 16)))
            except ValueError:
                out.append(raw[i : i + 2 + width])
            i += 2 + width
        else:
            out.append(raw[i : i + 2])
            i += 2
    return "".join(out)


class SourceMap:
    """Where each key and value of a TOML document starts (1-based line and column)."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._n = len(text)
        self._line_starts = [0] + [m.end() for m in re.finditer(r"\n", text)]
        self._key: dict[KeyPath, int] = {}
        self._value: dict[KeyPath, int] = {}
        self._tables: set[KeyPath] = set()
        # Tables only created implicitly (by ``[a.b]`` or ``a.b = 1``) give way to an explicit
        # ``[a]`` header met later: that header is where a user looks for ``a``'s keys.
        self._implicit: set[KeyPath] = set()
        # Tables made by dotted keys (``a.b = 1``) can never be opened by a header later.
        self._dotted: set[KeyPath] = set()
        self._aot_count: dict[KeyPath, int] = {}
        self._duplicates: list[tuple[KeyPath, int, int]] = []
        # Lenient by design: on text it cannot follow it keeps what was recorded so far.
        with contextlib.suppress(IndexError, ValueError):
            self._scan()

    # -- public ------------------------------------------------------------------------------

    def locate(self, path: tuple[PathKey, ...]) -> tuple[int, int] | None:
        """The value's location for a leaf, the key or header for a table.

        A path that does not exist answers with its nearest existing ancestor, so "missing key"
        problems point at the enclosing table; the empty path is the top of the file.
        """
        path = tuple(path)
        while path:
            if path in self._tables and path in self._key:
                return self._pos(self._key[path])
            if path in self._value:
                return self._pos(self._value[path])
            if path in self._key:
                return self._pos(self._key[path])
            path = path[:-1]
        return (1, 1)

    def locate_key(self, path: tuple[PathKey, ...]) -> tuple[int, int] | None:
        """The key's own location (an unknown key is reported there), else as :meth:`locate`."""
        path = tuple(path)
        if path in self._key:
            return self._pos(self._key[path])
        return self.locate(path)

    def __contains__(self, path: object) -> bool:
        return path in self._key or path in self._value

    def paths(self) -> Iterator[KeyPath]:
        """Every path recorded, in no particular order."""
        yield from {*self._key, *self._value}

    def duplicates(self) -> list[Duplicate]:
        """Keys and tables defined more than once, in the order of their second definition."""
        found = sorted(self._duplicates, key=lambda d: d[2])
        return [Duplicate(path, self._pos(first), self._pos(again))
                for path, first, again in found]

    # -- positions ---------------------------------------------------------------------------

    def _pos(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self._line_starts, offset) - 1
        return line + 1, offset - self._line_starts[line] + 1

    def _record_key(self, path: KeyPath, offset: int, *, table: bool, implicit: bool,
                    dotted: bool = False) -> None:
        if table:
            self._tables.add(path)
        if path not in self._key:
            self._key[path] = offset
            if implicit:
                self._implicit.add(path)
                if dotted:
                    self._dotted.add(path)
        elif path not in self._implicit:
            # Defined before; a dotted key may not pass through it either (``[a.b]`` then
            # ``b.c = 1`` under ``[a]``).
            if not implicit or dotted:
                self._duplicates.append((path, self._key[path], offset))
        elif not implicit:
            if path in self._dotted:
                self._duplicates.append((path, self._key[path], offset))
                return
            self._key[path] = offset
            self._implicit.discard(path)

    # -- lexing ------------------------------------------------------------------------------

    def _skip_ws(self, i: int) -> int:
        t, n = self._text, self._n
        while i < n and t[i] in _WS:
            i += 1
        return i

    def _skip_blank(self, i: int) -> int:
        """Whitespace, newlines and comments (inside arrays and inline tables)."""
        t, n = self._text, self._n
        while i < n:
            c = t[i]
            if c in " \t\r\n":
                i += 1
            elif c == "#":
                j = t.find("\n", i)
                i = n if j < 0 else j + 1
            else:
                break
        return i

    def _skip_line(self, i: int) -> int:
        j = self._text.find("\n", i)
        return self._n if j < 0 else j + 1

    def _key_segments(self, i: int) -> tuple[list[tuple[str, int]], int]:
        """A dotted key: its decoded segments with their offsets, and the offset after it."""
        t, n = self._text, self._n
        segments: list[tuple[str, int]] = []
        while True:
            i = self._skip_ws(i)
            if i >= n:
                break
            c = t[i]
            if c == '"':
                j = self._end_basic(i + 1)
                segments.append((_decode_basic(t[i + 1 : j - 1]), i))
                i = j
            elif c == "'":
                j = t.find("'", i + 1)
                j = n if j < 0 else j + 1
                segments.append((t[i + 1 : j - 1], i))
                i = j
            else:
                m = _BARE_KEY.match(t, i)
                if not m:
                    break
                segments.append((m.group(), i))
                i = m.end()
            i = self._skip_ws(i)
            if i < n and t[i] == ".":
                i += 1
                continue
            break
        return segments, i

    def _end_basic(self, i: int) -> int:
        """Offset after the closing quote of a one-line basic string whose body starts at i."""
        t, n = self._text, self._n
        while i < n:
            c = t[i]
            if c == "\\":
                i += 2
            elif c == '"' or c == "\n":
                return i + 1
            else:
                i += 1
        return n

    def _end_multiline(self, i: int, quote: str) -> int:
        """Offset after a multi-line string whose body starts at i (after the opening quotes)."""
        t, n = self._text, self._n
        triple = quote * 3
        escapes = quote == '"'
        while i < n:
            c = t[i]
            if escapes and c == "\\":
                i += 2
                continue
            if c == quote and t.startswith(triple, i):
                j = i + 3
                # Up to two quotes of content may sit right before the closing three.
                while j < n and j < i + 5 and t[j] == quote:
                    j += 1
                return j
            i += 1
        return n

    # -- parsing -----------------------------------------------------------------------------

    def _scan(self) -> None:
        t, n = self._text, self._n
        current: KeyPath = ()
        i = 0
        while i < n:
            i = self._skip_blank(i)
            if i >= n:
                break
            if t[i] == "[":
                start = i
                aot = t.startswith("[[", i)
                segments, i = self._key_segments(i + (2 if aot else 1))
                if segments:
                    current = self._header(segments, start, aot)
                i = self._skip_line(i)
                continue
            segments, j = self._key_segments(i)
            j = self._skip_ws(j)
            if not segments or j >= n or t[j] != "=":
                i = self._skip_line(max(j, i + 1))
                continue
            j = self._skip_ws(j + 1)
            i = self._keyval_value(current, segments, j)
            i = self._skip_ws(i)
            if i < n and t[i] == "#":
                i = self._skip_line(i)

    def _header(self, segments: list[tuple[str, int]], start: int, aot: bool) -> KeyPath:
        path: KeyPath = ()
        last = len(segments) - 1
        for k, (name, offset) in enumerate(segments):
            path = (*path, name)
            if k < last:
                self._record_key(path, offset if k else start, table=True, implicit=True)
                if path in self._aot_count:
                    path = (*path, self._aot_count[path] - 1)
            elif aot:
                count = self._aot_count.get(path, 0)
                self._aot_count[path] = count + 1
                if not count:  # every further [[path]] adds an element: not a duplicate
                    self._record_key(path, start, table=False, implicit=False)
                self._value.setdefault(path, start)
                path = (*path, count)
                self._record_key(path, start, table=True, implicit=False)
                self._value[path] = start
            else:
                self._record_key(path, start, table=True, implicit=False)
        return path

    def _keyval_value(self, base: KeyPath, segments: list[tuple[str, int]], i: int) -> int:
        path = base
        for name, offset in segments[:-1]:
            path = (*path, name)
            self._record_key(path, offset, table=True, implicit=True, dotted=True)
        name, offset = segments[-1]
        path = (*path, name)
        self._record_key(path, offset, table=False, implicit=False)
        return self._parse_value(path, i)

    def _parse_value(self, path: KeyPath, i: int) -> int:
        t, n = self._text, self._n
        self._value[path] = i
        if i >= n:
            return n
        c = t[i]
        if c == '"':
            if t.startswith('"""', i):
                return self._end_multiline(i + 3, '"')
            return self._end_basic(i + 1)
        if c == "'":
            if t.startswith("'''", i):
                return self._end_multiline(i + 3, "'")
            j = t.find("'", i + 1)
            return n if j < 0 else j + 1
        if c == "[":
            return self._parse_array(path, i + 1)
        if c == "{":
            self._tables.add(path)
            return self._parse_inline_table(path, i + 1)
        while i < n and t[i] not in _SCALAR_END:
            i += 1
        return i

    def _parse_array(self, path: KeyPath, i: int) -> int:
        t, n = self._text, self._n
        index = 0
        while i < n:
            i = self._skip_blank(i)
            if i >= n:
                break
            if t[i] == "]":
                return i + 1
            if t[i] == ",":
                i += 1
                continue
            before = i
            i = self._parse_value((*path, index), i)
            index += 1
            if i <= before:
                i = before + 1
        return n

    def _parse_inline_table(self, path: KeyPath, i: int) -> int:
        t, n = self._text, self._n
        while i < n:
            i = self._skip_blank(i)
            if i >= n:
                break
            if t[i] == "}":
                return i + 1
            if t[i] == ",":
                i += 1
                continue
            segments, j = self._key_segments(i)
            j = self._skip_ws(j)
            if not segments or j >= n or t[j] != "=":
                return self._skip_line(max(j, i + 1))
            i = self._keyval_value(path, segments, self._skip_ws(j + 1))
        return n
