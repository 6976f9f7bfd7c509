"""What a failed plugin's error says: the exception line of a traceback, else its last lines."""

from __future__ import annotations

from stackform.plugins.kit import failure_summary

CHAINED = """\
2026-11-30 10:00:01 INFO starting
Traceback (most recent call last):
  File "tap.py", line 3, in connect
    raise ConnectionRefusedError("refused")
ConnectionRefusedError: refused

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "tap.py", line 9, in main
    connect()
RuntimeError: password authentication failed
"""


def test_a_traceback_comes_down_to_its_exception_line() -> None:
    assert failure_summary(CHAINED) == "RuntimeError: password authentication failed"


def test_output_without_a_traceback_keeps_its_last_lines() -> None:
    text = "one\n\ntwo\nthree\nfour\n"
    assert failure_summary(text) == "two\nthree\nfour"
    assert failure_summary("") == "(no output)"


def test_a_traceback_cut_before_its_exception_falls_back_to_the_last_lines() -> None:
    text = "Traceback (most recent call last):\n  File \"x.py\", line 1\n    boom()\n"
    assert failure_summary(text) == text.strip()
