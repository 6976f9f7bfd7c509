"""Tests for target-stackform-duckdb: the real console script fed with real Singer messages."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

duckdb = pytest.importorskip("duckdb")

PKG_DIR = Path(__file__).resolve().parents[1]


def _command() -> list[str]:
    script = Path(sys.executable).parent / "target-stackform-duckdb"
    if script.exists():
        return [str(script)]
    found = shutil.which("target-stackform-duckdb")
    if found:
        return [found]
    return [sys.executable, "-m", "target_stackform_duckdb"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("TARGET_DEBUG", None)
    # Lets `python -m target_stackform_duckdb` work when the package is not installed.
    env["PYTHONPATH"] = os.pathsep.join([str(PKG_DIR / "src"), env.get("PYTHONPATH", "")])
    return env


CMD = _command()


def schema_msg(stream: str, props: dict[str, Any], keys: list[str] | None = None) -> dict:
    return {
        "type": "SCHEMA",
        "stream": stream,
        "schema": {"type": "object", "properties": props},
        "key_properties": keys or [],
    }


def rec(stream: str, record: dict[str, Any], **extra: Any) -> dict:
    return {"type": "RECORD", "stream": stream, "record": record, **extra}


def state(value: Any) -> dict:
    return {"type": "STATE", "value": value}


EVENTS = {"id": {"type": "integer"}, "name": {"type": ["null", "string"]}}


class Run:
    def __init__(self, proc: subprocess.CompletedProcess[str], db: Path) -> None:
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.db = db

    @property
    def states(self) -> list[Any]:
        return [json.loads(line) for line in self.stdout.splitlines()]

    def query(self, sql: str) -> list[tuple]:
        con = duckdb.connect(str(self.db), read_only=True)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()


def run_target(
    tmp_path: Path,
    messages: list[Any],
    config: dict[str, Any] | None = None,
    check: bool = True,
) -> Run:
    db = tmp_path / "sub" / "dir" / "warehouse.duckdb"
    cfg = {"path": str(db), **(config or {})}
    cfg_file = tmp_path / "config.json"
    cfg_file.write_text(json.dumps(cfg))
    stream_file = tmp_path / "messages.jsonl"
    with stream_file.open("w") as fh:
        for m in messages:
            fh.write((m if isinstance(m, str) else json.dumps(m)) + "\n")
    with stream_file.open("rb") as stdin:
        proc = subprocess.run(
            [*CMD, "--config", str(cfg_file)],
            stdin=stdin,
            capture_output=True,
            text=True,
            env=_env(),
            timeout=120,
        )
    run = Run(proc, db)
    if check:
        assert run.rc == 0, run.stderr
        assert "Traceback" not in run.stderr
    return run


# --------------------------------------------------------------------------- every row lands


@pytest.mark.parametrize("load_method", ["upsert", "append"])
def test_every_row_lands_across_batches(tmp_path: Path, load_method: str) -> None:
    n, batch = 100_000, 7_000
    msgs: list[Any] = [schema_msg("events", EVENTS, ["id"])]
    for i in range(1, n + 1):
        msgs.append(rec("events", {"id": i, "name": f"n{i}"}))
        if i % 30_000 == 0:
            msgs.append(state({"at": i}))
    run = run_target(tmp_path, msgs, {"batch_size_rows": batch, "load_method": load_method})
    assert run.query("SELECT count(*), count(DISTINCT id), sum(id) FROM raw.events") == [
        (n, n, n * (n + 1) // 2)
    ]
    # The first row of every batch is there (a CSV header guess would drop exactly these).
    firsts = list(range(1, n + 1, batch))
    got = run.query(f"SELECT count(*) FROM raw.events WHERE id IN ({','.join(map(str, firsts))})")
    assert got == [(len(firsts),)]
    assert run.states == [{"at": 30_000}, {"at": 60_000}, {"at": 90_000}]
    assert "100000 rows loaded into raw.events" in run.stderr


# --------------------------------------------------------------------------- upsert


def test_upsert_keeps_one_row_per_key_across_batches_and_runs(tmp_path: Path) -> None:
    props = {"id": {"type": "integer"}, "v": {"type": "string"}}
    first = [
        schema_msg("things", props, ["id"]),
        rec("things", {"id": 1, "v": "a"}),
        rec("things", {"id": 2, "v": "a"}),
        rec("things", {"id": 1, "v": "b"}),  # same batch: last wins
        rec("things", {"id": 3, "v": "a"}),
        rec("things", {"id": 2, "v": "c"}),  # next batch
        state({"n": 1}),
        rec("things", {"id": 3, "v": "d"}),
    ]
    run = run_target(tmp_path, first, {"batch_size_rows": 4})
    assert run.query("SELECT id, v FROM raw.things ORDER BY id") == [(1, "b"), (2, "c"), (3, "d")]
    assert run.states == [{"n": 1}]

    second = [
        schema_msg("things", props, ["id"]),
        rec("things", {"id": 2, "v": "run2"}),
        rec("things", {"id": 4, "v": "run2"}),
    ]
    run = run_target(tmp_path, second, {"batch_size_rows": 4})
    assert run.query("SELECT id, v FROM raw.things ORDER BY id") == [
        (1, "b"),
        (2, "run2"),
        (3, "d"),
        (4, "run2"),
    ]
    pk = run.query(
        "SELECT constraint_column_names FROM duckdb_constraints() "
        "WHERE table_name = 'things' AND constraint_type = 'PRIMARY KEY'"
    )
    assert pk == [(["id"],)]


def test_composite_key_upsert(tmp_path: Path) -> None:
    props = {"a": {"type": "integer"}, "b": {"type": "string"}, "v": {"type": "integer"}}
    msgs = [
        schema_msg("c", props, ["a", "b"]),
        rec("c", {"a": 1, "b": "x", "v": 1}),
        rec("c", {"a": 1, "b": "y", "v": 2}),
        rec("c", {"a": 1, "b": "x", "v": 3}),
    ]
    run = run_target(tmp_path, msgs)
    assert run.query("SELECT a, b, v FROM raw.c ORDER BY b") == [(1, "x", 3), (1, "y", 2)]


def test_upsert_into_existing_table_without_primary_key(tmp_path: Path) -> None:
    db = tmp_path / "sub" / "dir" / "warehouse.duckdb"
    db.parent.mkdir(parents=True)
    con = duckdb.connect(str(db))
    con.execute("CREATE SCHEMA raw; CREATE TABLE raw.events (id BIGINT, name VARCHAR)")
    con.execute("INSERT INTO raw.events VALUES (1, 'old'), (2, 'old')")
    con.close()
    msgs = [
        schema_msg("events", EVENTS, ["id"]),
        rec("events", {"id": 2, "name": "new"}),
        rec("events", {"id": 3, "name": "new"}),
        rec("events", {"id": 3, "name": "newer"}),
    ]
    run = run_target(tmp_path, msgs)
    assert run.query("SELECT id, name FROM raw.events ORDER BY id") == [
        (1, "old"),
        (2, "new"),
        (3, "newer"),
    ]


def test_append_keeps_duplicates_and_overwrite_replaces(tmp_path: Path) -> None:
    msgs = [
        schema_msg("events", EVENTS, ["id"]),
        rec("events", {"id": 1, "name": "a"}),
        rec("events", {"id": 1, "name": "b"}),
    ]
    run = run_target(tmp_path, msgs, {"load_method": "append"})
    run = run_target(tmp_path, msgs, {"load_method": "append"})
    assert run.query("SELECT count(*) FROM raw.events") == [(4,)]

    over = [
        schema_msg("events", EVENTS, ["id"]),
        rec("events", {"id": 7, "name": "x"}),
        rec("events", {"id": 8, "name": "y"}),
        rec("events", {"id": 9, "name": "z"}),
    ]
    run = run_target(tmp_path, over, {"load_method": "overwrite", "batch_size_rows": 2})
    assert run.query("SELECT id FROM raw.events ORDER BY id") == [(7,), (8,), (9,)]


# --------------------------------------------------------------------------- STATE ordering


@pytest.mark.parametrize(
    "bad",
    [
        "this is not json",
        json.dumps(rec("events", {"id": "not-a-number", "name": "bad"})),
        json.dumps(rec("nostream", {"id": 1})),
        json.dumps({"type": "RECORD", "stream": "events", "record": [1, 2]}),
    ],
    ids=["malformed-json", "unconvertible-value", "record-before-schema", "record-not-object"],
)
def test_state_only_after_commit_and_failure_keeps_committed(tmp_path: Path, bad: str) -> None:
    msgs: list[Any] = [schema_msg("events", EVENTS, ["id"])]
    msgs += [rec("events", {"id": i, "name": "ok"}) for i in range(1, 6)]
    msgs.append(state({"committed": 5}))
    msgs += [rec("events", {"id": i, "name": "after"}) for i in range(6, 9)]
    msgs.append(bad)
    msgs += [rec("events", {"id": i, "name": "after"}) for i in range(9, 11)]
    msgs.append(state({"committed": 10}))
    run = run_target(tmp_path, msgs, check=False)
    assert run.rc != 0
    assert run.states == [{"committed": 5}]
    err = run.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("target-stackform-duckdb: error:"), run.stderr
    assert "Traceback" not in run.stderr
    assert run.query("SELECT count(*), max(id) FROM raw.events") == [(5, 5)]


def test_no_load_after_a_failed_one_and_big_numbers_still_read(tmp_path: Path) -> None:
    """Loads run behind the reader: a failed batch stops every later one and its STATE."""
    msgs: list[Any] = [schema_msg("events", EVENTS, ["id"])]
    msgs += [rec("events", {"id": 1}), rec("events", {"id": 2}), state({"s": 1})]
    msgs += [rec("events", {"id": "not-a-number"}), rec("events", {"id": 4})]  # fails to load
    for i in range(5, 41):  # later full batches, queued behind the failing one
        msgs.append(rec("events", {"id": i}))
        if i % 2 == 0:
            msgs.append(state({"s": i}))
    run = run_target(tmp_path, msgs, {"batch_size_rows": 2, "flush_on_state": False}, check=False)
    assert run.rc != 0 and "Traceback" not in run.stderr
    assert run.states == [{"s": 1}]
    assert run.query("SELECT id FROM raw.events ORDER BY id") == [(1,), (2,)]
    # A number beyond a double's range is valid JSON: read (the fast reader refuses it).
    big = [schema_msg("n", {"id": {"type": "integer"}, "v": {"type": ["null", "string"]}})]
    big.append('{"type": "RECORD", "stream": "n", "record": {"id": 1, "v": null, "x": 1e400}}')
    (tmp_path / "big").mkdir()
    ok = run_target(tmp_path / "big", big)
    assert ok.query("SELECT id FROM raw.n") == [(1,)]


def test_debug_shows_traceback(tmp_path: Path) -> None:
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"path": str(tmp_path / "w.duckdb")}))
    proc = subprocess.run(
        [*CMD, "--config", str(cfg)],
        input="nope\n",
        capture_output=True,
        text=True,
        env={**_env(), "TARGET_DEBUG": "1"},
        timeout=60,
    )
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_state_is_emitted_while_input_is_still_open(tmp_path: Path) -> None:
    """stackform saves each bookmark as the target emits it, so STATE must not wait for EOF."""
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"path": str(tmp_path / "w.duckdb")}))
    proc = subprocess.Popen(
        [*CMD, "--config", str(cfg)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        assert proc.stdin and proc.stdout
        lines = [schema_msg("events", EVENTS, ["id"]), rec("events", {"id": 1}), state({"s": 1})]
        proc.stdin.write("".join(json.dumps(m) + "\n" for m in lines))
        proc.stdin.flush()
        assert json.loads(proc.stdout.readline()) == {"s": 1}
        proc.stdin.write(json.dumps(rec("events", {"id": 2})) + "\n")
        proc.stdin.close()
        assert proc.stdout.read() == ""  # no new STATE: the last one was already emitted
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM raw.events").fetchall() == [(2,)]
    con.close()


def test_last_state_emitted_at_end_and_held_states(tmp_path: Path) -> None:
    msgs = [
        schema_msg("events", EVENTS, ["id"]),
        rec("events", {"id": 1}),
        state({"s": 1}),
        rec("events", {"id": 2}),
        state({"s": 2}),
        rec("events", {"id": 3}),  # batch full: commit, then the newest held STATE
        rec("events", {"id": 4}),
        state({"s": 3}),  # held until the end of input
    ]
    run = run_target(tmp_path, msgs, {"flush_on_state": False, "batch_size_rows": 3})
    # Held STATEs come out after a commit that covers every row before them, newest only.
    assert run.states == [{"s": 2}, {"s": 3}]
    assert run.query("SELECT count(*) FROM raw.events") == [(4,)]


# --------------------------------------------------------------------------- schema and types


def test_schema_evolution_adds_column(tmp_path: Path) -> None:
    v1 = {"id": {"type": "integer"}, "a": {"type": "string"}}
    v2 = {**v1, "newField": {"type": ["null", "integer"]}}
    run = run_target(tmp_path, [schema_msg("s", v1, ["id"]), rec("s", {"id": 1, "a": "x"})])
    msgs = [
        schema_msg("s", v1, ["id"]),
        rec("s", {"id": 2, "a": "y"}),
        schema_msg("s", v2, ["id"]),  # mid-stream: buffered rows load with the old schema
        rec("s", {"id": 3, "a": "z", "newField": 42}),
    ]
    run = run_target(tmp_path, msgs)
    assert run.query("SELECT id, a, new_field FROM raw.s ORDER BY id") == [
        (1, "x", None),
        (2, "y", None),
        (3, "z", 42),
    ]


def test_types_map_as_documented(tmp_path: Path) -> None:
    props = {
        "id": {"type": "integer"},
        "n": {"type": ["null", "number"]},
        "i_or_n": {"type": ["integer", "number", "null"]},
        "flag": {"type": ["boolean", "null"]},
        "s": {"type": "string"},
        "ts": {"type": ["null", "string"], "format": "date-time"},
        "d": {"type": "string", "format": "date"},
        "obj": {"type": "object", "properties": {"x": {"type": "integer"}}},
        "arr": {"type": ["null", "array"], "items": {"type": "integer"}},
        "any_ts": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
        "any_mixed": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
        "untyped": {},
        "camelCaseName": {"type": "string"},
    }
    record = {
        "id": 1,
        "n": 1.5,
        "i_or_n": 2,
        "flag": True,
        "s": "hello",
        "ts": "2024-03-04T05:06:07.123+02:00",
        "d": "2024-03-04",
        "obj": {"x": 1, "y": [1, 2]},
        "arr": [1, 2, 3],
        "any_ts": "2024-01-01T00:00:00Z",
        "any_mixed": 5,
        "untyped": {"k": "v"},
        "camelCaseName": "c",
    }
    run = run_target(
        tmp_path, [schema_msg("Typed-Stream", props, ["id"]), rec("Typed-Stream", record)]
    )
    types = dict(
        run.query(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'raw' AND table_name = 'typed_stream'"
        )
    )
    assert types == {
        "id": "BIGINT",
        "n": "DOUBLE",
        "i_or_n": "DOUBLE",
        "flag": "BOOLEAN",
        "s": "VARCHAR",
        "ts": "TIMESTAMP WITH TIME ZONE",
        "d": "DATE",
        "obj": "JSON",
        "arr": "JSON",
        "any_ts": "TIMESTAMP WITH TIME ZONE",
        "any_mixed": "VARCHAR",
        "untyped": "JSON",
        "camel_case_name": "VARCHAR",
    }
    row = run.query(
        "SELECT n, i_or_n, flag, s, ts::VARCHAR, d::VARCHAR, obj::VARCHAR, arr::VARCHAR, "
        "any_ts::VARCHAR, any_mixed, untyped::VARCHAR, camel_case_name FROM raw.typed_stream"
    )
    assert row == [
        (
            1.5,
            2.0,
            True,
            "hello",
            "2024-03-04 03:06:07.123+00",
            "2024-03-04",
            '{"x":1,"y":[1,2]}',
            "[1,2,3]",
            "2024-01-01 00:00:00+00",
            "5",
            '{"k":"v"}',
            "c",
        )
    ]


def test_nulls_missing_and_extra_fields(tmp_path: Path) -> None:
    props = {
        "id": {"type": "integer"},
        "name": {"type": ["null", "string"]},
        "when": {"type": ["null", "string"], "format": "date-time"},
        "obj": {"type": ["null", "object"]},
    }
    msgs = [
        schema_msg("e", props, ["id"]),
        rec("e", {"id": 1, "name": None, "when": None, "obj": None}),
        rec("e", {"id": 2}),
        rec("e", {"id": 3, "name": "x", "surprise": 1}),
        rec("e", {"id": 4, "name": "y", "surprise": 2, "other": 3}),
    ]
    run = run_target(tmp_path, msgs)
    assert run.query('SELECT id, name, "when", obj FROM raw.e ORDER BY id') == [
        (1, None, None, None),
        (2, None, None, None),
        (3, "x", None, None),
        (4, "y", None, None),
    ]
    assert run.stderr.count("fields not in the schema are ignored") == 1
    assert [
        c
        for (c,) in run.query(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'e'"
        )
    ] == ["id", "name", "when", "obj"]


def test_record_metadata_and_other_messages(tmp_path: Path) -> None:
    msgs = [
        schema_msg("events", EVENTS, ["id"]),
        {"type": "ACTIVATE_VERSION", "stream": "events", "version": 1},
        {"type": "BATCH", "stream": "events"},
        rec("events", {"id": 1}, time_extracted="2024-05-06T07:08:09Z"),
        rec("events", {"id": 2, "_sdc_deleted_at": "2024-01-01T00:00:00Z"}),
    ]
    run = run_target(tmp_path, msgs, {"add_record_metadata": True, "default_target_schema": "land"})
    rows = run.query(
        "SELECT id, _sdc_extracted_at::VARCHAR, _sdc_received_at IS NOT NULL, "
        "_sdc_deleted_at::VARCHAR FROM land.events ORDER BY id"
    )
    assert rows == [
        (1, "2024-05-06 07:08:09+00", True, None),
        (2, None, True, "2024-01-01 00:00:00+00"),
    ]
    assert "unknown type 'BATCH'" in run.stderr
    assert "ACTIVATE_VERSION" not in run.stderr


# --------------------------------------------------------------------------- CLI


def test_about_and_version() -> None:
    out = subprocess.run([*CMD, "--about"], capture_output=True, text=True, env=_env(), check=True)
    about = json.loads(out.stdout)
    assert about["name"] == "target-stackform-duckdb"
    assert about["version"] == "0.1.0"
    names = {s["name"]: s for s in about["settings"]}
    assert {
        "path",
        "default_target_schema",
        "batch_size_rows",
        "load_method",
        "add_record_metadata",
    } <= set(names)
    assert all(s["description"] for s in about["settings"])
    ver = subprocess.run([*CMD, "--version"], capture_output=True, text=True, env=_env())
    assert ver.returncode == 0 and "0.1.0" in ver.stdout


def test_bad_config_is_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"path": str(tmp_path / "w.duckdb"), "load_method": "merge"}))
    proc = subprocess.run(
        [*CMD, "--config", str(cfg)], input="", capture_output=True, text=True, env=_env()
    )
    assert proc.returncode != 0
    assert proc.stderr.strip().count("\n") == 0 and "load_method" in proc.stderr


# --------------------------------------------------------------------------- end to end


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
        offline = (
            "connect" in text
            or "network" in text
            or "dns" in text
            or "timed out" in text
            or "offline" in text
        )
        if offline:
            pytest.skip(f"package index unreachable: {proc.stderr.strip()[-300:]}")
        raise AssertionError(proc.stderr)
    return venv / "bin" / "tap-jsonl"


def test_end_to_end_tap_jsonl_through_os_pipe(tmp_path: Path, tap_jsonl: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    n = 25_000
    with (data / "events.jsonl").open("w") as fh:
        for i in range(1, n + 1):
            fh.write(json.dumps({"id": i, "name": f"user {i}", "amount": i / 4}) + "\n")
    tap_cfg = tmp_path / "tap.json"
    tap_cfg.write_text(
        json.dumps({"path": str(data / "*.jsonl"), "stream_name": "events", "primary_keys": ["id"]})
    )
    db = tmp_path / "wh.duckdb"
    target_cfg = tmp_path / "target.json"
    target_cfg.write_text(json.dumps({"path": str(db), "batch_size_rows": 10_000}))

    tap = subprocess.Popen(
        [str(tap_jsonl), "--config", str(tap_cfg)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert tap.stdout is not None
    target = subprocess.Popen(
        [*CMD, "--config", str(target_cfg)],
        stdin=tap.stdout,  # an OS pipe from the tap straight into the target
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    tap.stdout.close()
    out, err = target.communicate(timeout=120)
    assert tap.wait(timeout=60) == 0
    assert target.returncode == 0, err
    states = [json.loads(line) for line in out.splitlines()]
    assert states and "bookmarks" in states[-1]
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute(
            "SELECT count(*), count(DISTINCT id), min(id), max(id) FROM raw.events"
        ).fetchall() == [(n, n, 1, n)]
        pk = con.execute(
            "SELECT constraint_column_names FROM duckdb_constraints() "
            "WHERE table_name = 'events' AND constraint_type = 'PRIMARY KEY'"
        )
        assert pk.fetchall() == [(["id"],)]
    finally:
        con.close()

