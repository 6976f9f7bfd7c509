"""Small helpers many modules share: the log tail reader and the wording of filesystem errors."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from stackform.errors import StackformError, StateError, os_error, os_errors, os_reason
from stackform.fileio import TAIL_BYTES, tail_lines


def test_tail_gives_the_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_text("".join(f"line {i}\n" for i in range(1000)))
    assert tail_lines(log, 3) == ["line 997", "line 998", "line 999"]
    assert tail_lines(str(log), 0) == []
    assert tail_lines(tmp_path / "absent.log", 5) == []


def test_tail_reads_only_the_end_of_a_large_file_and_replaces_bad_bytes(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_bytes(b"first\n" + b"x" * (2 * TAIL_BYTES) + b"\nbad \xff byte\nlast\n")
    assert tail_lines(log, 2) == ["bad \ufffd byte", "last"]
    assert "first" not in tail_lines(log, 1000)


def test_tail_of_something_unreadable_raises(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError):
        tail_lines(tmp_path, 5)


def test_os_errors_say_what_failed_where_and_why(tmp_path: Path) -> None:
    exc = OSError(errno.ENOSPC, "No space left on device")
    err = os_error("write", tmp_path / "dev.json", exc)
    assert type(err) is StackformError
    assert err.reason == f"could not write {tmp_path / 'dev.json'}: No space left on device"
    assert err.hint == f"check that {tmp_path} is a folder you can write to, on a disk with room"
    assert os_reason(OSError("bare")) == "bare"
    with pytest.raises(StateError) as raised, os_errors("read state", tmp_path / "x", StateError):
        raise PermissionError(errno.EACCES, "Permission denied")
    assert raised.value.reason == f"could not read state {tmp_path / 'x'}: Permission denied"
    assert isinstance(raised.value.__cause__, PermissionError)
