"""The temp-file sweep's folder listings (stackform.templistings): reused for half the grace,
whatever changed in the folder, which changes nothing a sweep may remove."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackform import templistings
from stackform.templistings import TempListings

TEMP = ".a.txt.0123456789abcdef0123456789abcdef.tmp"


def test_a_listing_is_reused_for_half_the_grace_then_listed_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(templistings.time, "monotonic", lambda: now[0])
    listings = TempListings(grace=2.0)
    assert listings.get(tmp_path) == {}
    (tmp_path / TEMP).write_text("x")  # made after the listing: younger than it
    now[0] += 0.9
    assert listings.get(tmp_path) == {}, "reused within half the grace"
    now[0] += 0.2
    assert listings.get(tmp_path) == {"a.txt": [TEMP]}, "listed again after it"
    listings.forget(tmp_path / TEMP)
    assert listings.get(tmp_path) == {"a.txt": []}


def test_a_missing_folder_has_no_temp_files(tmp_path: Path) -> None:
    assert TempListings(grace=2.0).get(tmp_path / "absent") == {}
