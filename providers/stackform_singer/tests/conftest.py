"""Session fixtures for the catalog tests: the real tap-jsonl, installed once with uv, and the
catalog it discovers (skipped only when the package index cannot be reached)."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from catalog_support import _tap_config


@pytest.fixture(scope="session")
def tap_jsonl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed")
    venv = tmp_path_factory.mktemp("tap-jsonl") / "venv"
    subprocess.run([uv, "venv", "-q", str(venv)], check=True, capture_output=True)
    proc = subprocess.run(
        [uv, "pip", "install", "-q", "tap-jsonl==0.3.1"],
        capture_output=True,
        text=True,
        env={**os.environ, "VIRTUAL_ENV": str(venv)},
        timeout=600,
    )
    if proc.returncode != 0:
        text = proc.stderr.lower()
        if any(w in text for w in ("connect", "network", "dns", "timed out", "offline")):
            pytest.skip(f"package index unreachable: {proc.stderr.strip()[-300:]}")
        raise AssertionError(proc.stderr)
    return venv / "bin" / "tap-jsonl"


ORDERS = [
    {
        "id": 1,
        "name": "first",
        "note": "leave at the door",
        "internal_note": "vip",
        "address": {"city": "Paris", "zip": "75001"},
        "tags": ["a"],
        "updated_at": "2024-01-01T00:00:00Z",
    },
    {
        "id": 2,
        "name": "second",
        "note": None,
        "internal_note": "",
        "address": {"city": "Oslo", "zip": "0150"},
        "tags": [],
        "updated_at": "2024-01-02T00:00:00Z",
    },
]
CUSTOMERS = [{"id": 7, "email": "a@example.com", "created_at": "2024-01-01T00:00:00Z"}]



@pytest.fixture(scope="session")
def jsonl_env(tap_jsonl: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The real tap's catalog: ``orders`` and ``customers`` discovered and merged."""
    base = tmp_path_factory.mktemp("jsonl-data")
    configs = {
        "orders": _tap_config(base, "orders", ORDERS),
        "customers": _tap_config(base, "customers", CUSTOMERS),
    }
    streams = []
    for config in configs.values():
        proc = subprocess.run(
            [str(tap_jsonl), "--config", str(config), "--discover"],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        streams += json.loads(proc.stdout)["streams"]
    return {"catalog": {"streams": streams}, "configs": configs, "tap": tap_jsonl}


@pytest.fixture()
def real(jsonl_env: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(jsonl_env["catalog"])


