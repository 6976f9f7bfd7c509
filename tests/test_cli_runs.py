"""``stackform runs`` and ``stackform bookmarks``, through the installed console script.

Run history and bookmarks are seeded with :class:`LocalRunStore` directly (what a pipeline run
leaves behind), then read and cleared through the CLI in real processes.
"""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from cli_helpers import Runner, assert_clean_error, make_env, runs_dir, write_stack

from stackform.runs.local import LocalRunStore
from stackform.runs.model import Bookmark, RunRecord, StepOutcome

STACK = """
[stack]
name = "shop"

[files.orders]
path = "out/orders.txt"
content = "o"

[files.warehouse]
path = "out/warehouse.txt"
content = "w"

[pipelines.daily]
steps = ["orders", "warehouse"]

[pipelines.hourly]
steps = ["orders"]
"""

OK_ID = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
FAILED_ID = "ffee0011223344556677889900aabbcc"
HOURLY_ID = "77aa0011223344556677889900aabbcc"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    directory = tmp_path / "project"
    write_stack(directory, STACK)
    return directory


@pytest.fixture
def sf(tmp_path: Path, project: Path) -> Runner:
    return Runner(project, make_env(tmp_path))


@pytest.fixture
def store(project: Path) -> LocalRunStore:
    return LocalRunStore(runs_dir(project))


def step(**changes: object) -> StepOutcome:
    return replace(StepOutcome(name="orders-to-warehouse", status="success", seconds=4.0,
                               records_emitted=1200, rows_landed=1200, bookmark_moved=True),
                   **changes)  # type: ignore[arg-type]


@pytest.fixture
def seeded(store: LocalRunStore) -> LocalRunStore:
    ok = RunRecord(run_id=OK_ID, pipeline="daily", env="dev",
                   started_at="2024-05-02T06:00:00+00:00", log=f"dev/logs/{OK_ID}.log")
    store.start_run(ok)
    store.finish_run(replace(ok, status="success", seconds=4.5,
                             finished_at="2024-05-02T06:00:04+00:00", steps=(step(),)))
    failed = RunRecord(run_id=FAILED_ID, pipeline="daily", env="dev",
                       started_at="2024-05-01T06:00:00+00:00", log=f"dev/logs/{FAILED_ID}.log")
    store.start_run(failed)
    store.finish_run(replace(
        failed, status="failed", seconds=125.0, finished_at="2024-05-01T06:02:05+00:00",
        error="target-postgres exited with 1: connection refused\nat line 3",
        steps=(step(status="failed", rows_landed=None, bookmark_moved=False),)))
    hourly = RunRecord(run_id=HOURLY_ID, pipeline="hourly", env="dev",
                       started_at="2024-05-01T07:00:00+00:00")
    store.start_run(hourly)
    store.finish_run(replace(hourly, status="success", seconds=1.0))
    log = store.log_path("dev", FAILED_ID)
    log.write_text("".join(f"tap: line {i}\n" for i in range(100)) + "target: boom\n")
    for key, n in (("daily.orders", 5), ("daily.users", 9), ("hourly.orders", 1)):
        store.put_bookmark("dev", Bookmark(
            key=key, value={"bookmarks": {key.split(".")[1]: {"replication_key_value": n}}},
            updated_at="2024-05-02T06:00:03+00:00", run_id=OK_ID))
    store.put_bookmark("prod", Bookmark(key="daily.orders", value={"bookmarks": {}},
                                        updated_at="2024-05-02T06:00:03+00:00"))
    return store


def test_runs_table(sf: Runner, seeded: LocalRunStore) -> None:
    result = sf("runs")
    assert result.code == 0, result
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["RUN", "PIPELINE", "STATUS", "STARTED"]
    rows = lines[2:]
    assert [r.split()[0] for r in rows] == [OK_ID[:8], HOURLY_ID[:8], FAILED_ID[:8]]
    ok, _, failed = rows
    assert "success" in ok and "4.5s" in ok and "1,200" in ok and "moved" in ok
    assert "failed" in failed and "2m05s" in failed and "connection refused" in failed
    assert "at line 3" not in failed  # the summary is the error's first line
    assert "moved" not in failed
    only = sf("runs", "daily", "--limit", "1")
    assert only.code == 0, only
    assert [r.split()[0] for r in only.stdout.splitlines()[2:]] == [OK_ID[:8]]


def test_runs_json(sf: Runner, seeded: LocalRunStore) -> None:
    result = sf("runs", "daily", "--format", "json")
    assert result.code == 0, result
    runs = json.loads(result.stdout)
    assert [r["run_id"] for r in runs] == [OK_ID, FAILED_ID]
    assert runs[0]["steps"][0]["records_emitted"] == 1200
    assert runs[1]["error"].startswith("target-postgres")
    assert RunRecord.from_json(runs[0]) == seeded.runs("dev", "daily")[0]


def test_runs_empty_and_other_env(sf: Runner, seeded: LocalRunStore) -> None:
    result = sf("runs", "--env", "prod")
    assert result.code == 0, result
    assert "No runs" in result.stderr
    assert json.loads(sf("runs", "--env", "prod", "--format", "json").stdout) == []


def test_runs_by_id(sf: Runner, seeded: LocalRunStore) -> None:
    result = sf("runs", "--id", FAILED_ID[:6])
    assert result.code == 0, result
    out = result.stdout
    assert FAILED_ID in out and "failed" in out and "connection refused" in out
    assert "at line 3" in out  # the full error
    assert "target: boom" in out and "tap: line 99" in out and "tap: line 61" in out
    assert "tap: line 60\n" not in out  # the last 40 lines only
    doc = json.loads(sf("runs", "--id", FAILED_ID, "--format", "json").stdout)
    assert doc["run_id"] == FAILED_ID and len(doc["log_tail"]) == 40
    assert doc["log_tail"][-1] == "target: boom"
    missing = sf("runs", "--id", "nope")
    assert_clean_error(missing)
    assert "nope" in missing.stderr


def test_runs_interrupted(sf: Runner, store: LocalRunStore) -> None:
    # A record left "running" by a process that is gone (nobody holds the run lock).
    # Ids like the runner's (time and a random suffix) are shown in full.
    run_id = "20240503T060000-a1b2c3"
    store.start_run(RunRecord(run_id=run_id, pipeline="daily", env="dev",
                              started_at="2024-05-03T06:00:00+00:00"))
    result = sf("runs")
    assert result.code == 0, result
    row = result.stdout.splitlines()[2].split()
    assert row[:3] == [run_id, "daily", "interrupted"]


def test_bookmarks_show(sf: Runner, seeded: LocalRunStore) -> None:
    text = sf("bookmarks", "show")
    assert text.code == 0, text
    for key in ("daily.orders", "daily.users", "hourly.orders"):
        assert key in text.stdout
    assert '"replication_key_value": 5' in text.stdout  # pretty-printed
    only = sf("bookmarks", "show", "daily", "--format", "json")
    assert only.code == 0, only
    docs = json.loads(only.stdout)
    assert [d["key"] for d in docs] == ["daily.orders", "daily.users"]
    assert docs[0] == {"key": "daily.orders", "updated_at": "2024-05-02T06:00:03+00:00",
                       "run_id": OK_ID,
                       "value": {"bookmarks": {"orders": {"replication_key_value": 5}}}}
    prod = json.loads(sf("bookmarks", "show", "--env", "prod", "--format", "json").stdout)
    assert [d["key"] for d in prod] == ["daily.orders"]


def test_bookmarks_clear(sf: Runner, seeded: LocalRunStore, project: Path) -> None:
    one = sf("bookmarks", "clear", "daily", "--extractor", "users", "--yes")
    assert one.code == 0, one
    assert [b.key for b in seeded.bookmarks("dev")] == ["daily.orders", "hourly.orders"]
    every = sf("bookmarks", "clear", "daily", "--yes")
    assert every.code == 0, every
    assert "Cleared 1" in every.stderr
    assert [b.key for b in seeded.bookmarks("dev")] == ["hourly.orders"]
    assert [b.key for b in seeded.bookmarks("prod")] == ["daily.orders"]  # other env untouched
    kept = sorted(p.name for p in
                  (runs_dir(project) / "dev/bookmarks/.cleared").iterdir())
    assert [k.split(".")[1] for k in kept] == ["orders", "users"]
    again = sf("bookmarks", "clear", "daily", "--yes")
    assert again.code == 0, again
    assert "nothing to clear" in again.stderr


def test_bookmarks_clear_needs_a_terminal(sf: Runner, seeded: LocalRunStore) -> None:
    result = sf("bookmarks", "clear", "daily")
    assert_clean_error(result)
    assert "--yes" in result.stderr
    assert len(seeded.bookmarks("dev", "daily.")) == 2


def test_bookmarks_clear_waits_for_a_running_pipeline(sf: Runner,
                                                      seeded: LocalRunStore) -> None:
    with seeded.run_lock("dev", "daily"):
        refused = sf("bookmarks", "clear", "daily", "--yes")
    assert_clean_error(refused)
    assert "already running" in refused.stderr and "stackform runs" in refused.stderr
    assert len(seeded.bookmarks("dev", "daily.")) == 2

    held = threading.Event()
    release = threading.Event()

    def run() -> None:
        with seeded.run_lock("dev", "daily"):
            held.set()
            release.wait(30)

    thread = threading.Thread(target=run)
    thread.start()
    assert held.wait(30)
    proc = sf.start("bookmarks", "clear", "daily", "--yes", "--lock-timeout", "30s")
    threading.Timer(1.0, release.set).start()
    _out, err = proc.communicate(timeout=60)
    thread.join(30)
    assert proc.returncode == 0, err
    assert seeded.bookmarks("dev", "daily.") == []


def test_unknown_pipeline_did_you_mean(sf: Runner, seeded: LocalRunStore) -> None:
    for args in (("runs", "daly"), ("bookmarks", "show", "daly"),
                 ("bookmarks", "clear", "daly", "--yes")):
        result = sf(*args)
        assert_clean_error(result)
        assert "daly" in result.stderr and "did you mean 'daily'" in result.stderr
    unknown_extractor = sf("bookmarks", "clear", "daily", "--extractor", "ordrs", "--yes")
    assert_clean_error(unknown_extractor)
    assert "did you mean 'orders'" in unknown_extractor.stderr
    assert len(seeded.bookmarks("dev", "daily.")) == 2


def test_bad_format(sf: Runner, seeded: LocalRunStore) -> None:
    result = sf("runs", "--format", "yaml")
    assert result.code == 1 and "Traceback" not in result.output


def test_runs_by_id_reports_a_log_it_cannot_read(sf: Runner, store: LocalRunStore,
                                                 tmp_path: Path) -> None:
    log = tmp_path / "logs" / "run.log"
    log.mkdir(parents=True)  # not readable as a log, even by root
    record = RunRecord(run_id=OK_ID, pipeline="daily", env="dev",
                       started_at="2024-05-02T06:00:00+00:00", log=str(log))
    store.start_run(record)
    store.finish_run(replace(record, status="failed", seconds=1.0))
    result = sf("runs", "--id", OK_ID)
    assert_clean_error(result)
    assert f"could not read {log}: Is a directory" in result.stderr
