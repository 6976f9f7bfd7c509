"""``scripts/test``, the README's test command, prepares the database servers itself: it runs
``scripts/ci-services`` after setting up ``.venv`` and before pytest, and stops when they cannot
be prepared (rather than letting the first end-to-end test error).

The script runs for real from a copy of the checkout's ``scripts/`` whose ``bootstrap`` and
``ci-services`` only record that they ran, and whose ``python`` records the pytest call: the
real ones would reinstall the venv this suite runs in, or touch the machine's servers.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _copy(tmp_path: Path, services_exit: int) -> Path:
    root = tmp_path / "clone"
    (root / "scripts").mkdir(parents=True)
    shutil.copy2(ROOT / "scripts" / "test", root / "scripts" / "test")
    (root / "bin").mkdir()
    log = root / "log"
    (root / "scripts" / "bootstrap").write_text(
        f'echo bootstrap >> "{log}"\nexport PATH="{root / "bin"}:$PATH"\n')
    for name, body in ((root / "scripts" / "ci-services", f"echo ci-services >> \"{log}\"\n"
                        f"exit {services_exit}\n"),
                       (root / "bin" / "python", f'echo "python $*" >> "{log}"\n')):
        name.write_text(f"#!/usr/bin/env bash\n{body}")
        name.chmod(0o755)
    return root


def test_scripts_test_prepares_the_servers_before_pytest(tmp_path: Path) -> None:
    root = _copy(tmp_path, services_exit=0)
    done = subprocess.run([str(root / "scripts" / "test"), "-k", "plan"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done
    assert (root / "log").read_text().splitlines() == [
        "bootstrap", "ci-services", "python -m pytest -k plan"]


def test_scripts_test_stops_when_the_servers_cannot_be_prepared(tmp_path: Path) -> None:
    root = _copy(tmp_path, services_exit=1)
    done = subprocess.run([str(root / "scripts" / "test")], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1, done
    assert (root / "log").read_text().splitlines() == ["bootstrap", "ci-services"]
