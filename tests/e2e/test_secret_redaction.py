"""A tap that prints its secrets: none of them may reach anything stackform stores or prints.

``tap-leaky`` (tests/e2e/plugins) is tap-stackform-jsonl behind a tap that logs its whole config
and a DSN with the URL-encoded password on stderr, and can fail quoting the password. The
password comes from ``${secret.source_password}`` (with a quote, a slash and a space, so its
JSON-escaped and URL-encoded forms differ from it); ``api_token`` is written literally under a
secret-looking key. Neither may appear in the run log, the run record, the console output of
apply and run (success and failure), the files under ``.stackform`` or the temp folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest
import tomlkit
from e2e_support import copy_quickstart, write_orders

from tests.cli_helpers import Result

pytestmark = pytest.mark.slow

LEAKY_TAP = Path(__file__).resolve().parent / "plugins" / "tap-leaky"
SECRET = 'pw-"Zq8/x9 k3y'
API_TOKEN = "tok-literal-4d2f9a"
FORMS = (SECRET, json.dumps(SECRET)[1:-1], quote(SECRET, safe=""))


def _set_fail_at(stack: Path, mode: str) -> None:
    path = stack / "stack.toml"
    doc = tomlkit.parse(path.read_text())
    doc["extractors"]["orders"]["config"]["fail_at"] = mode  # type: ignore[index]
    path.write_text(tomlkit.dumps(doc))


def _leaky_stack(tmp_path: Path) -> Path:
    stack = copy_quickstart(tmp_path / "stack", extractor_config={
        "password": "${secret.source_password}",
        "dsn": "postgresql://reader:${secret.source_password}@db.internal/shop",
        "api_token": API_TOKEN,
        "fail_at": "",
    })
    path = stack / "stack.toml"
    doc = tomlkit.parse(path.read_text())
    # tap-leaky hands over to stackform's own JSONL tap, installed beside it.
    doc["extractors"]["orders"]["pip_url"] = f"stackform:tap-jsonl {LEAKY_TAP}"  # type: ignore[index]
    doc["extractors"]["orders"]["executable"] = "tap-leaky"  # type: ignore[index]
    path.write_text(tomlkit.dumps(doc))
    write_orders(stack / "data" / "orders-00.jsonl", range(1, 101))
    return stack


def _assert_clean(text: str, where: str, *, token: bool = True) -> None:
    for form in (*FORMS, *((API_TOKEN,) if token else ())):
        assert form not in text, f"{form!r} in {where}:\n{text}"


def _assert_console_clean(result: Result, what: str) -> None:
    _assert_clean(result.output, f"the console output of {what}")


def test_secrets_a_tap_prints_are_redacted_everywhere(tmp_path: Path, stackform_for) -> None:
    stack = _leaky_stack(tmp_path)
    sf = stackform_for(stack, {"STACKFORM_SECRET_SOURCE_PASSWORD": SECRET})

    _assert_console_clean(sf.apply(), "apply")
    ok = sf.ok("run", "daily")
    _assert_console_clean(ok, "a successful run")
    run = sf.last_run("daily")
    assert run["status"] == "success", run
    _assert_clean(json.dumps(run), "the run record")
    log = Path(run["log"]).read_text()
    _assert_clean(log, "the run log")
    # The tap did print them; the log keeps its lines with the values masked.
    assert "tap-leaky: connecting to postgresql://reader:***@db.internal/shop" in log, log
    assert '"api_token": "***"' in log and '"password": "***"' in log, log

    # A run failing with the password in the tap's error: record, console and log are clean.
    _set_fail_at(stack, "sync")
    _assert_console_clean(sf.apply(), "apply")
    failed = sf("run", "daily")
    assert failed.code == 1, failed
    assert "password authentication failed: ***" in failed.stderr, failed
    _assert_console_clean(failed, "a failed run")
    run = sf.last_run("daily")
    assert run["status"] == "failed" and "password authentication failed: ***" in run["error"]
    _assert_clean(json.dumps(run), "the failed run's record")
    _assert_clean(Path(run["log"]).read_text(), "the failed run's log")
    shown = sf("runs", "--id", run["run_id"])
    _assert_console_clean(shown, "stackform runs --id")

    # Discovery failing at apply with the password in the tap's message.
    _set_fail_at(stack, "discover")
    broken = sf("apply", "--auto-approve")
    assert broken.code == 1, broken
    assert "password authentication failed: ***" in broken.output, broken
    _assert_console_clean(broken, "a failed apply")

    # An uncaught exception: the error is its exception line, not the traceback's first line,
    # and the table keeps one line per resource.
    _set_fail_at(stack, "discover-raise")
    raised = sf("apply", "--auto-approve")
    assert raised.code == 1, raised
    rows = [line for line in raised.stdout.splitlines() if line.startswith("extractors.orders ")]
    assert len(rows) == 1, raised
    [row] = rows
    assert "RuntimeError: password authentication failed: ***" in row, raised
    assert "Traceback" not in row
    _assert_console_clean(raised, "an apply failing with a traceback")

    # Nothing stackform keeps on disk holds the secret (state keeps only fingerprints; the
    # literal api_token is no ${secret}: state and the rendered config show it as written).
    for root in (stack / ".stackform", sf.tmpdir):
        for path in root.rglob("*"):
            if path.is_file():
                _assert_clean(path.read_bytes().decode("utf-8", "replace"), str(path),
                              token=False)
    assert sf.leftover_runtime_dirs() == []
