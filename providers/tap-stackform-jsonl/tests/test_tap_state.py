"""Tests for tap-stackform-jsonl: selection, STATE and METRIC messages, errors, and the pipe
into the real target-stackform-duckdb."""

from __future__ import annotations

import json
import os
import random
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tap_support import CMD, TARGET_CMD, Run, Tap, _catalog, _env, rows, write_lines

# --------------------------------------------------------------------------- selection


def _set_selected(catalog: dict[str, Any], breadcrumb: list[str], value: bool) -> None:
    for m in catalog["streams"][0]["metadata"]:
        if m["breadcrumb"] == breadcrumb:
            m["metadata"]["selected"] = value


def test_selection_is_honoured(tap: Tap) -> None:
    write_lines(
        tap.cwd / "data" / "a.jsonl", [{"id": i, "name": "x", "secret": "s"} for i in range(3)]
    )
    catalog = _catalog(tap)
    _set_selected(catalog, [], True)
    _set_selected(catalog, ["properties", "secret"], False)
    _set_selected(catalog, ["properties", "id"], False)  # automatic: kept anyway
    run = tap.run(catalog=catalog)
    assert set(run.schemas[0]["schema"]["properties"]) == {"id", "name"}
    assert run.records == [{"id": i, "name": "x"} for i in range(3)]
    # --properties is accepted too.
    cfg = tap.cwd / "tap_config.json"
    proc = subprocess.run(
        [*CMD, "--config", str(cfg), "--properties", str(tap.cwd / "catalog.json")],
        cwd=tap.cwd,
        capture_output=True,
        text=True,
        env=_env(),
    )
    assert proc.returncode == 0
    assert Run(proc).records == run.records
    # Deselected metadata columns are dropped as well.
    catalog = json.loads(tap.run("--discover", add_file_metadata=True).stdout)
    _set_selected(catalog, ["properties", "_sdc_source_file"], False)
    run = tap.run(catalog=catalog, add_file_metadata=True)
    assert run.records[0] == {"id": 0, "name": "x", "secret": "s", "_sdc_source_lineno": 1}


def test_a_deselected_stream_emits_nothing(tap: Tap) -> None:
    write_lines(tap.cwd / "data" / "a.jsonl", rows(0, 3))
    catalog = _catalog(tap)
    _set_selected(catalog, [], False)
    run = tap.run(catalog=catalog)
    assert run.stdout == ""
    assert run.metrics == []


# --------------------------------------------------------------------------- STATE and METRIC


def _random_files(root: Path, rng: random.Random) -> int:
    """Write a few files with blank lines and maybe a partial last line; the record count."""
    n = 0
    for name in ("a.jsonl", "b.jsonl", "c.jsonl")[: rng.randint(2, 3)]:
        lines: list[str] = []
        for _ in range(rng.randint(3, 40)):
            if rng.random() < 0.1:
                lines.append("")
            else:
                lines.append(json.dumps({"id": n, "v": rng.random(), "s": "é" * rng.randint(0, 3)}))
                n += 1
        write_lines(root / "data" / name, lines)
        if rng.random() < 0.5:
            with open(root / "data" / name, "a") as fh:
                fh.write('{"id": "partial"')
    return n


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("meta", [False, True])
def test_resuming_from_every_state_reads_exactly_the_rest(
    tmp_path: Path, seed: int, meta: bool
) -> None:
    rng = random.Random(seed)
    total = _random_files(tmp_path, rng)
    tap = Tap(tmp_path, state_every_rows=rng.randint(1, 7), add_file_metadata=meta)
    catalog = json.loads(tap.run("--discover").stdout)
    full = tap.run(catalog=catalog)
    assert len(full.records) == total
    assert len({r["id"] for r in full.records}) == total
    # Every STATE at position i: a run resumed from it emits exactly the records after i.
    seen = 0
    checked = 0
    for msg in full.messages:
        if msg["type"] == "RECORD":
            seen += 1
        elif msg["type"] == "STATE":
            resumed = tap.run(catalog=catalog, state=msg["value"])
            assert resumed.records == full.records[seen:], f"state after {seen} records"
            assert resumed.states[-1] == full.states[-1]
            checked += 1
    assert checked >= 2


def test_state_every_rows_and_metrics(tap: Tap) -> None:
    write_lines(tap.cwd / "data" / "a.jsonl", rows(0, 25))
    write_lines(tap.cwd / "data" / "b.jsonl", rows(25, 32))
    run = tap.run(state_every_rows=10)
    assert len(run.records) == 32
    # STATE after records 10, 20, file a (25), 30, file b (32).
    positions = []
    count = 0
    for m in run.messages:
        if m["type"] == "RECORD":
            count += 1
        elif m["type"] == "STATE":
            positions.append(count)
    assert positions == [10, 20, 25, 30, 32]
    metrics = run.metrics
    assert all(m["type"] == "counter" and m["metric"] == "record_count" for m in metrics)
    assert all(m["tags"] == {"stream": "events"} for m in metrics)
    assert [m["value"] for m in metrics] == [10, 10, 10, 2]
    assert sum(m["value"] for m in metrics) == len(run.records)
    assert 'INFO METRIC: {"type": "counter", "metric": "record_count", "value": 2, ' in run.stderr


# --------------------------------------------------------------------------- errors


def test_a_malformed_line_fails_after_the_state_before_it(tap: Tap) -> None:
    f = tap.cwd / "data" / "a.jsonl"
    write_lines(f, [*map(json.dumps, rows(0, 3)), '{"id": 3, oops}', json.dumps({"id": 4})])
    catalog = _catalog_of_first_lines(tap, f)
    run = tap.run(catalog=catalog, check=False)
    assert run.rc == 1
    err = [line for line in run.stderr.splitlines() if not line.startswith("INFO METRIC")]
    assert err[-1].startswith(f"tap-stackform-jsonl: error: {f.resolve()}:4: malformed JSON")
    assert "Traceback" not in run.stderr
    assert run.records == rows(0, 3)
    assert run.messages[-1]["type"] == "STATE"
    assert sum(m["value"] for m in run.metrics) == 3
    # Fix the line in place (same size, so not a truncation): the resumed run starts at it.
    fixed = '{"id": 3}'.ljust(len('{"id": 3, oops}'))
    write_lines(f, [*map(json.dumps, rows(0, 3)), fixed, json.dumps({"id": 4})])
    again = tap.run(catalog=catalog, state=run.states[-1])
    assert again.records == [{"id": 3}, {"id": 4}]
    # TAP_DEBUG=1 shows the traceback.
    write_lines(f, ["[1, 2]"], mode="a")
    debug = tap.run(catalog=catalog, check=False, env={"TAP_DEBUG": "1"})
    assert debug.rc == 1
    assert "Traceback" in debug.stderr
    assert f"{f.resolve()}:6: a line must hold a JSON object" in debug.stderr


def _catalog_of_first_lines(tap: Tap, f: Path) -> dict[str, Any]:
    """A hand-written catalog (discovery would stop at the malformed line)."""
    return {
        "streams": [
            {
                "tap_stream_id": "events",
                "stream": "events",
                "key_properties": ["id"],
                "schema": {
                    "type": "object",
                    "properties": {
                        "id": {"type": ["integer"]},
                        "name": {"type": ["null", "string"]},
                    },
                },
                "metadata": [{"breadcrumb": [], "metadata": {"selected": True}}],
            }
        ]
    }


def test_invalid_utf8_and_nan_are_malformed(tap: Tap) -> None:
    f = tap.cwd / "data" / "a.jsonl"
    f.parent.mkdir()
    f.write_bytes(b'{"id": 1}\n{"id": NaN}\n')
    run = tap.run(catalog=_catalog_of_first_lines(tap, f), check=False)
    assert run.rc == 1
    assert f"{f.resolve()}:2: malformed JSON" in run.stderr
    f.write_bytes(b'{"id": 1}\n{"id": "\xff"}\n')
    run = tap.run(catalog=_catalog_of_first_lines(tap, f), check=False)
    assert run.rc == 1
    assert f"{f.resolve()}:2: not valid UTF-8" in run.stderr


def test_lines_only_the_strict_reader_accepts_pass_through_unchanged(tap: Tap) -> None:
    """The fast check refuses a lone surrogate escape; the strict reader decides, as before."""
    f = tap.cwd / "data" / "a.jsonl"
    f.parent.mkdir()
    f.write_bytes(b'{"id": 1, "name": "\\ud800"}\n{"id": 2, "name": "ok"}\n')
    run = tap.run(catalog=_catalog_of_first_lines(tap, f))
    assert run.records == [{"id": 1, "name": "\ud800"}, {"id": 2, "name": "ok"}]
    assert '"record":{"id": 1, "name": "\\ud800"}' in run.stdout  # the line as written


# --------------------------------------------------------------------------- end to end


@pytest.mark.skipif(TARGET_CMD is None, reason="target-stackform-duckdb is not installed")
def test_pipe_into_target_stackform_duckdb(tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    assert TARGET_CMD is not None
    f = tmp_path / "data" / "events.jsonl"
    write_lines(
        f,
        [
            {"id": i, "name": f"n{i}", "amount": i * 1.5, "at": "2024-01-02T03:04:05Z"}
            for i in range(4500)
        ],
    )
    tap = Tap(tmp_path, primary_keys=["id"], state_every_rows=1000)
    db = tmp_path / "out.duckdb"
    target_cfg = tmp_path / "target.json"
    # append: a record sent twice would land twice, so the row count catches duplicates.
    target_cfg.write_text(
        json.dumps({"path": str(db), "load_method": "append", "add_record_metadata": True})
    )
    tap_cfg = tmp_path / "tap_config.json"
    tap_cfg.write_text(json.dumps(tap.config))

    def pipe(state: Any) -> tuple[Any, str]:
        argv = [*CMD, "--config", str(tap_cfg)]
        if state is not None:
            (tmp_path / "state.json").write_text(json.dumps(state))
            argv += ["--state", str(tmp_path / "state.json")]
        tap_proc = subprocess.Popen(
            argv, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env()
        )
        assert tap_proc.stdout is not None
        target = subprocess.run(
            [*TARGET_CMD, "--config", str(target_cfg)],
            stdin=tap_proc.stdout,
            capture_output=True,
            text=True,
            timeout=120,
        )
        tap_proc.stdout.close()
        tap_err = tap_proc.stderr.read().decode() if tap_proc.stderr else ""
        assert tap_proc.wait(timeout=60) == 0, tap_err
        assert target.returncode == 0, target.stderr
        states = [json.loads(line) for line in target.stdout.splitlines()]
        return states[-1], tap_err

    def query(sql: str) -> list[tuple[Any, ...]]:
        con = duckdb.connect(str(db), read_only=True)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    state1, _ = pipe(None)
    assert query("SELECT count(*), count(DISTINCT id), min(id), max(id) FROM raw.events") == [
        (4500, 4500, 0, 4499)
    ]
    assert query("SELECT name, amount FROM raw.events WHERE id = 7") == [("n7", 10.5)]
    first_batches = query("SELECT max(_sdc_received_at)::VARCHAR FROM raw.events")[0][0]

    write_lines(
        f,
        [
            {"id": i, "name": f"n{i}", "amount": i * 1.5, "at": "2024-01-02T03:04:05Z"}
            for i in range(4500, 5700)
        ],
        mode="a",
    )
    state2, tap_err = pipe(state1)
    assert (
        sum(
            json.loads(line[len("INFO METRIC: ") :])["value"]
            for line in tap_err.splitlines()
            if line.startswith("INFO METRIC: ")
        )
        == 1200
    )
    assert query("SELECT count(*), count(DISTINCT id), max(id) FROM raw.events") == [
        (5700, 5700, 5699)
    ]
    second = query(
        "SELECT count(*), min(id) FROM raw.events "
        f"WHERE _sdc_received_at > '{first_batches}'::TIMESTAMPTZ"
    )
    assert second == [(1200, 4500)]
    bm = state2["bookmarks"]["events"]["files"][str(f.resolve())]
    assert bm["offset"] == os.stat(f).st_size

    # A third run with nothing new lands nothing.
    pipe(state2)
    assert query("SELECT count(*) FROM raw.events") == [(5700,)]
