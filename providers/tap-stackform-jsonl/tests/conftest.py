"""The ``tap`` fixture: a runner of the real console script over a test folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from tap_support import Tap


@pytest.fixture
def tap(tmp_path: Path) -> Tap:
    return Tap(tmp_path, primary_keys=["id"])
