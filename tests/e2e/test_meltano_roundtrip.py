"""Round trip: a Meltano project imported with ``stackform import meltano`` lands the same rows
with ``stackform apply`` + ``run`` as ``meltano run`` lands for the same job, side by side.

Meltano 4.4.1 is installed from the package index once into a venv of its own, cached like
Superset's (``STACKFORM_TEST_CACHE``, default ``~/.cache/stackform-tests``), with stackform's
install code; it runs with its telemetry off (``send_anonymous_usage_stats: false``,
``MELTANO_DISABLE_TRACKING``) and custom plugins only (``namespace`` + ``pip_url``, no
``variant``), so it never asks Meltano Hub. Its plugins install with its uv backend.

The project uses what both tools run today: a tap and a target declared by ``pip_url``
(``tap-jsonl``, ``target-jsonl``), ``select`` with an exclusion, an environment override, a
``$VAR`` and ``$MELTANO_PROJECT_ROOT`` in config, and a loader in a file of ``include_paths``.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from stackform.plugins.installs import ensure_venv
from stackform.plugins.spec import InstallSpec
from tests import superset_server

pytestmark = pytest.mark.slow

MELTANO = "meltano==4.4.1"

MELTANO_YML = """\
send_anonymous_usage_stats: false
project_id: 6a2d1c0e-0000-4000-8000-000000000001
default_environment: dev
venv:
  backend: uv
include_paths:
- ./loaders/*.meltano.yml
environments:
- name: dev
  config:
    plugins:
      extractors:
      - name: tap-jsonl
        config:
          stream_name: orders
plugins:
  extractors:
  # The shop's orders, exported as JSON lines
  - name: tap-jsonl
    namespace: tap_jsonl
    pip_url: tap-jsonl==0.3.1
    capabilities: [discover, catalog, state]
    config:
      path: $MELTANO_PROJECT_ROOT/data/orders.jsonl
      stream_name: not-this-one
      primary_keys: [id]
    select:
    - orders.*
    - '!orders.note'
jobs:
- name: orders-to-files
  tasks:
  - tap-jsonl target-jsonl
"""

LOADERS_YML = """\
plugins:
  loaders:
  - name: target-jsonl
    namespace: target_jsonl
    pip_url: target-jsonl==0.1.4
    config:
      destination_path: $OUT_DIR
      do_timestamp_file: false
"""


def _project(root: Path) -> None:
    (root / "loaders").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "meltano.yml").write_text(MELTANO_YML)
    (root / "loaders" / "target.meltano.yml").write_text(LOADERS_YML)
    with (root / "data" / "orders.jsonl").open("w") as f:
        for i in range(1, 41):
            f.write(json.dumps({"id": i, "customer": f"c{i % 7}", "amount": i * 2.5,
                                "note": None if i % 4 else "gift", "tags": ["a"] * (i % 3)})
                    + "\n")
    for out in ("meltano-out", "stackform-out"):
        (root / out).mkdir()


def _meltano(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    venv = ensure_venv(InstallSpec((MELTANO,)), cache=superset_server.test_cache_dir() / "meltano")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MELTANO_", "STACKFORM_"))}
    env.update({"MELTANO_DISABLE_TRACKING": "true", "MELTANO_SEND_ANONYMOUS_USAGE_STATS":
                "false", "OUT_DIR": "meltano-out", "HOME": str(root.parent / "meltano-home")})
    proc = subprocess.run([str(venv.path / "bin" / "meltano"), *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _rows(folder: Path) -> list[dict[str, Any]]:
    files = sorted(folder.glob("*.jsonl"))
    assert [f.name for f in files] == ["orders.jsonl"], files
    rows = [json.loads(line) for line in files[0].read_text().splitlines()]
    return sorted(rows, key=lambda r: r["id"])


def test_stackform_lands_what_meltano_lands(tmp_path: Path, stackform_for: Any) -> None:
    root = tmp_path / "project"
    _project(root)
    _meltano(root, "--log-level=warning", "run", "orders-to-files")

    sf = stackform_for(root, {"OUT_DIR": "stackform-out"})
    imported = sf.ok("import", "meltano", ".", "--report", "import-report.json")
    report = json.loads((root / "import-report.json").read_text())
    person = [e for e in report["entries"] if e["category"] == "person"]
    # The one thing left to a person: the variable the loader's config reads.
    assert [e["subject"] for e in person] == ["$OUT_DIR"], person
    assert "loaders/target.meltano.yml merged in" in imported.stderr
    sf.ok("validate")
    sf.apply()
    run = sf.ok("run", "orders-to-files")
    assert "40 records emitted" in run.output

    meltano_rows = _rows(root / "meltano-out")
    stackform_rows = _rows(root / "stackform-out")
    assert len(meltano_rows) == 40
    assert all("note" not in r for r in meltano_rows)  # the exclusion held in both
    assert stackform_rows == meltano_rows
