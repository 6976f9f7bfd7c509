"""Canonical layout for stack files, keeping every comment and value.

Rules: ``key = value`` with single spaces, no indentation, two spaces before an end-of-line
comment, one blank line before each table header and none at the end of a table, at most one
blank line anywhere, one newline at the end of the file. Values are not rewritten (quotes, number
forms and inline tables stay as written). tomlkit keeps the document's trivia; a few of its
fields have no public setter, hence the private attribute below.
"""

from __future__ import annotations

from typing import Any

import tomlkit
from tomlkit.container import Container
from tomlkit.items import AoT, Comment, Table, Whitespace


def _header_indent(first: list[bool]) -> str:
    """A blank line before a table header, unless it starts the file, a blank line is already
    there, or a comment sits right above it (that comment belongs to the table)."""
    return "" if first[0] or first[1] else "\n"


def _normalise(container: Container, first: list[bool]) -> None:
    """``first`` is shared across the walk: [nothing emitted yet, the last line emitted was
    blank or a comment]."""
    body = container.body
    while body and isinstance(body[-1][1], Whitespace):
        body.pop()
    for i, (key, item) in enumerate(list(body)):
        if isinstance(item, Whitespace):
            # Blank lines inside a table: keep at most one.
            body[i] = (key, Whitespace("\n"))
            first[1] = True
            continue
        if isinstance(item, Comment):
            item.trivia.indent = ""
            first[0] = False
            first[1] = True
            continue
        if key is not None:
            key._original = key.as_string().strip()  # no public setter for the key's text
            key.sep = " = " if not isinstance(item, (Table, AoT)) else key.sep
        if isinstance(item, AoT):
            for table in item.body:
                table.trivia.indent = _header_indent(first)
                first[0] = first[1] = False
                _normalise(table.value, first)
            continue
        if isinstance(item, Table):
            if not item.is_super_table():
                item.trivia.indent = _header_indent(first)
                first[0] = first[1] = False
            if item.trivia.comment:
                item.trivia.comment_ws = "  "
            _normalise(item.value, first)
            continue
        item.trivia.indent = ""
        first[1] = False
        if item.trivia.comment:
            item.trivia.comment_ws = "  "
        first[0] = False


def format_toml(text: str) -> str:
    """The canonical form of a stack file's text (raises tomlkit's ParseError on bad TOML)."""
    doc = tomlkit.parse(text)
    before: Any = doc.unwrap()
    _normalise(doc, [True, False])
    out = doc.as_string().strip("\n") + "\n"
    if tomlkit.parse(out).unwrap() != before:
        # Never change meaning: fall back to the original text.
        return text
    return out
