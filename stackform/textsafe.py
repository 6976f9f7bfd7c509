"""Text from a stack file or from state, made safe to show to a person.

A block name, key or value can hold a terminal escape sequence (``\\x1b[2J`` clears the screen),
a carriage return that overwrites what was printed before it, or a bidi control (``\\u202e``)
that makes text read differently from what it is. Whatever stackform shows (a terminal, a CI
log, a merge-request comment) gets such characters as visible escapes instead: ``\\x1b``,
``\\r``, ``\\t``, ``\\u202e``.

Escaped are the Unicode categories Cc (C0 and C1 controls, DEL), Cf (format controls: bidi
embeddings and isolates, zero-width characters, tag characters), Cs (lone surrogates, which
cannot even be encoded) and Zl/Zp (line and paragraph separators). C0 controls are written
``\\xNN``; everything from DEL up ``\\uXXXX``, the form JSON also uses, so a JSON document
passed through keeps its meaning (``json.dumps`` never leaves a C0 control raw).

:func:`safe_text` is applied once, where text leaves stackform: the console for everything it
writes, the markdown renderer for the comment it returns. A newline is kept there, since the
renderer meant it; a renderer that builds lines out of data passes ``newlines=False`` for the
data, so a value cannot start a line of its own.
"""

from __future__ import annotations

import re
import unicodedata

_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_ASCII_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _is_safe(text: str, newlines: bool) -> bool:
    if not newlines and "\n" in text:
        return False
    if text.isascii():
        return _ASCII_CONTROL.search(text) is None
    # isprintable() is False for every unsafe character (and for harmless ones such as a
    # no-break space, which the slow path then leaves alone).
    return all(part.isprintable() for part in text.split("\n"))


def _escape(char: str, newlines: bool) -> str:
    if char == "\n" and newlines:
        return char
    if " " <= char < "\x7f":
        return char
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if code < 0x20:
        return f"\\x{code:02x}"
    if unicodedata.category(char) not in _UNSAFE_CATEGORIES:
        return char
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def safe_text(text: str, newlines: bool = True) -> str:
    """``text`` with every control, format and separator character as a visible escape.

    ``newlines=True`` keeps ``\\n`` (for a whole rendered output); ``False`` escapes it too (for
    a piece of data placed inside a line).
    """
    if _is_safe(text, newlines):
        return text
    return "".join(_escape(char, newlines) for char in text)
