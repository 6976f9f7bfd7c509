"""Control characters from the stack file or state never reach a terminal or a comment raw
(stackform.textsafe and the console that applies it)."""

from __future__ import annotations

import io
import json
import sys
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stackform.console import CaptureConsole, RichConsole
from stackform.diagnostics import Diagnostic
from stackform.textsafe import safe_text

HOSTILE = "a\x1b[31mb\rc\u202ed"
UNSAFE = ("Cc", "Cf", "Cs", "Zl", "Zp")


@pytest.mark.parametrize(("raw", "shown"), [
    ("\x1b[31m", "\\x1b[31m"),
    ("\r", "\\r"),
    ("\t", "\\t"),
    ("\x00", "\\x00"),
    ("\x7f", "\\u007f"),
    ("\x85", "\\u0085"),
    ("\u202e", "\\u202e"),
    ("\u2066x\u2069", "\\u2066x\\u2069"),
    ("\u200b", "\\u200b"),
    ("\ufeff", "\\ufeff"),
    ("\u2028", "\\u2028"),
    ("\U000e0041", "\\U000e0041"),
    ("\ud800", "\\ud800"),
])
def test_controls_become_visible_escapes(raw: str, shown: str) -> None:
    assert safe_text(f"x{raw}y") == f"x{shown}y"


def test_printable_text_is_left_alone() -> None:
    text = "plain ASCII, café, 東京, → …, a\u00a0no-break space, emoji 🙂\nsecond line"
    assert safe_text(text) == text


def test_newlines_are_kept_only_when_asked() -> None:
    assert safe_text("a\nb") == "a\nb"
    assert safe_text("a\nb", newlines=False) == "a\\nb"


@settings(max_examples=500, derandomize=True)
@given(st.text())
def test_no_unsafe_character_survives(text: str) -> None:
    out = safe_text(text)
    assert all(c == "\n" or unicodedata.category(c) not in UNSAFE for c in out)
    assert safe_text(out) == out  # idempotent: escaping twice changes nothing
    assert "\n" not in safe_text(text, newlines=False)


@settings(max_examples=200, derandomize=True)
@given(st.recursive(st.text() | st.integers() | st.booleans(),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(), inner, max_size=4), max_leaves=8))
def test_json_passed_through_stays_the_same_document(value: object) -> None:
    for ensure_ascii in (True, False):
        text = json.dumps(value, ensure_ascii=ensure_ascii, indent=2)
        assert json.loads(safe_text(text)) == value


def test_a_diagnostic_is_one_line_whatever_its_data() -> None:
    d = Diagnostic("invalid block name 'x\nstack.toml:1:1: error: forged'",
                   path="files.x\n", hint="do\rthis")
    lines = d.format().splitlines()
    assert len(lines) == 2
    assert "\\nstack.toml:1:1: error: forged" in lines[0]
    assert lines[1] == "    hint: do\\rthis"


def test_plain_console_escapes_everything_it_writes() -> None:
    console = CaptureConsole()
    console.line(HOSTILE)
    console.data(HOSTILE)
    console.markup(f"[green]{HOSTILE}[/]")
    console.error(HOSTILE, HOSTILE)
    console.warning(HOSTILE)
    console.table(["name"], [[HOSTILE]])
    out = console.text
    for raw in ("\x1b", "\r", "\u202e"):
        assert raw not in out
    assert out.count("a\\x1b[31mb\\rc\\u202ed") == 7


def test_rich_console_escapes_everything_it_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    buffer = io.StringIO()
    monkeypatch.setattr(sys, "stdin", io.StringIO())
    console = RichConsole()
    # no colour: only what the text itself carries can show up as an escape sequence
    console._out = console._err = Console(file=buffer, color_system=None, width=200)
    console.line(HOSTILE)
    console.data(HOSTILE)
    console.markup(f"[green]{HOSTILE}[/]")
    console.error(HOSTILE, HOSTILE)
    console.warning(HOSTILE)
    console.table(["name"], [[HOSTILE]])
    out = buffer.getvalue()
    for raw in ("\x1b", "\r", "\u202e"):
        assert raw not in out
    assert out.count("a\\x1b[31mb\\rc\\u202ed") == 7
