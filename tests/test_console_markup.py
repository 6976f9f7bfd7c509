"""The plain console's markup stripping reads exactly as rich's own rendering would
(stackform.console.strip_markup: a fast path for the markup stackform's renderers write)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from rich.errors import MarkupError
from rich.text import Text

from stackform.console import _plain_of_simple_markup, strip_markup

TOKENS = ["[", "]", "[/]", "[green]", "[bold red]", "[/green]", "[@click]", "[link=x]",
          "\\", "\\[", ":", ":smile:", ":thumbs_up:", "a", "b c", "\n", "=", "/", "#", "[1]"]


def rich_plain(text: str) -> str:
    return Text.from_markup(text).plain


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=14).map("".join))
@example("\\\\[green]x[/]")
@example("\\[green]x[/] \\\\\\[bold]y")
@example("[green]:smile:[/] a:b:c [dim]x[/]")
@example("[/] closes nothing")
@example("[green]x[/green]")
@example('[green]+[/] content = "a\\n:smile:[1]" \\ [bold]b[/]')
def test_strip_markup_reads_as_rich_renders(text: str) -> None:
    try:
        expected = rich_plain(text)
    except MarkupError:
        with pytest.raises(MarkupError):
            strip_markup(text)
        return
    assert strip_markup(text) == expected


def test_a_plan_like_text_takes_the_fast_path() -> None:
    text = ("  [dim]# files.a will be created[/]\n[green]  +[/] [bold]files.a[/]\n"
            '      [green]+[/] content = "x \\[1] :smile: a:b"\n')
    plain = _plain_of_simple_markup(text)
    assert plain is not None and plain == rich_plain(text)
    assert "[1]" in plain and ":smile:" not in plain


@pytest.mark.parametrize("text", ["[green]x[/green]", "[@click]x[/]", "[/] x"])
def test_other_markup_is_left_to_rich(text: str) -> None:
    assert _plain_of_simple_markup(text) is None


def test_a_no_op_plan_line_is_stripped_without_importing_rich() -> None:
    code = ("import sys; from stackform.console import strip_markup; "
            "print(strip_markup('[green]No changes.[/] Environment [bold]dev[/] matches.')); "
            "print('rich' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out == ["No changes. Environment dev matches.", "False"]
