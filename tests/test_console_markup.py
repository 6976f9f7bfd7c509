"""The plain console's markup stripping: the same text rich's own parser gives, rich unimported
where nothing is escaped."""

from __future__ import annotations

import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.errors import MarkupError
from rich.text import Text

from stackform.console import strip_markup
from stackform.textsafe import safe_text

# Brackets, tag-like names, closings, escapes and the odd colon: what markup is made of.
PIECES = st.sampled_from(["[", "]", "[/]", "[green]", "[/green]", "[bold red]", "[/bold red]",
                          "[#ff0000]", "[@click]", "[link=x]", "[1]", "[ x]", "\\", "\\[",
                          ":", "a", "b ", "=", "/", "#", "\n", "\x1b"])


@settings(max_examples=400, deadline=None)
@given(st.lists(PIECES, max_size=12).map("".join))
def test_stripping_matches_rich(text: str) -> None:
    try:
        expected = Text.from_markup(safe_text(text)).plain
    except MarkupError:
        return  # a closing tag that closes nothing: our renderers never write one
    assert strip_markup(text) == expected


def test_a_no_op_plan_line_is_stripped_without_importing_rich() -> None:
    code = ("import sys; from stackform.console import strip_markup; "
            "print(strip_markup('[green]No changes.[/] Environment [bold]dev[/] matches.')); "
            "print('rich' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out == ["No changes. Environment dev matches.", "False"]
