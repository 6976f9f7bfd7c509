"""Tests for tap-stackform-jsonl: the real console script run in subprocesses on real files."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PKG_DIR = Path(__file__).resolve().parents[1]


def _script(name: str, module: str) -> list[str] | None:
    script = Path(sys.executable).parent / name
    if script.exists():
        return [str(script)]
    found = shutil.which(name)
    if found:
        return [found]
    return [sys.executable, "-m", module] if module else None


CMD = _script("tap-stackform-jsonl", "tap_stackform_jsonl")
assert CMD is not None
TARGET_CMD = _script("target-stackform-duckdb", "")


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("TAP_DEBUG", None)
    # Lets `python -m tap_stackform_jsonl` work when the package is not installed.
    env["PYTHONPATH"] = os.pathsep.join([str(PKG_DIR / "src"), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


class Run:
    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        try:
            lines = proc.stdout.splitlines()
            self.messages = [json.loads(line) for line in lines if line.strip()]
        except ValueError:  # --discover prints an indented catalog
            self.messages = []

    @property
    def records(self) -> list[dict[str, Any]]:
        return [m["record"] for m in self.messages if m["type"] == "RECORD"]

    @property
    def states(self) -> list[Any]:
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    @property
    def schemas(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == "SCHEMA"]

    @property
    def metrics(self) -> list[dict[str, Any]]:
        prefix = "INFO METRIC: "
        return [
            json.loads(line[len(prefix) :])
            for line in self.stderr.splitlines()
            if line.startswith(prefix)
        ]


class Tap:
    """Runs the tap in ``cwd`` with a config written there."""

    def __init__(self, cwd: Path, **config: Any) -> None:
        self.cwd = cwd
        self.config = {"path": "data", "stream_name": "events", **config}

    def run(
        self,
        *args: str,
        state: Any = None,
        catalog: Any = None,
        check: bool = True,
        env: dict[str, str] | None = None,
        **config: Any,
    ) -> Run:
        cfg_path = self.cwd / "tap_config.json"
        cfg_path.write_text(json.dumps({**self.config, **config}))
        argv = [*CMD, "--config", str(cfg_path), *args]
        if state is not None:
            (self.cwd / "state.json").write_text(json.dumps(state))
            argv += ["--state", str(self.cwd / "state.json")]
        if catalog is not None:
            (self.cwd / "catalog.json").write_text(json.dumps(catalog))
            argv += ["--catalog", str(self.cwd / "catalog.json")]
        proc = subprocess.run(
            argv,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=120,
            env=_env(**(env or {})),
        )
        run = Run(proc)
        if check:
            assert run.rc == 0, run.stderr
        return run


def write_lines(path: Path, rows: list[Any], mode: str = "w") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, mode) as fh:
        for r in rows:
            fh.write((r if isinstance(r, str) else json.dumps(r)) + "\n")


def rows(start: int, stop: int) -> list[dict[str, Any]]:
    return [{"id": i, "name": f"n{i}"} for i in range(start, stop)]


@pytest.fixture
def tap(tmp_path: Path) -> Tap:
    return Tap(tmp_path, primary_keys=["id"])


# --------------------------------------------------------------------------- CLI


def test_about_and_version(tmp_path: Path) -> None:
    out = subprocess.run([*CMD, "--about"], capture_output=True, text=True, env=_env())
    assert out.returncode == 0
    about = json.loads(out.stdout)
    names = {s["name"] for s in about["settings"]}
    assert names >= {
        "path",
        "stream_name",
        "primary_keys",
        "schema_sample_rows",
        "add_file_metadata",
        "state_every_rows",
    }
    assert "state" in about["capabilities"]
    ver = subprocess.run([*CMD, "--version"], capture_output=True, text=True, env=_env())
    assert ver.returncode == 0
    assert "0.1.0" in ver.stdout


def test_config_errors_are_one_line(tmp_path: Path) -> None:
    run = Tap(tmp_path).run(check=False, stream_name="")
    assert run.rc == 1
    assert run.stderr.strip().splitlines() == [
        "tap-stackform-jsonl: error: config: 'stream_name' is required (a non-empty string)"
    ]
    run = Tap(tmp_path).run(check=False, path="nowhere.jsonl")
    assert run.rc == 1
    assert "path not found: nowhere.jsonl" in run.stderr
    assert "Traceback" not in run.stderr


# --------------------------------------------------------------------------- discovery


def test_discovery_schema_and_metadata(tmp_path: Path) -> None:
    write_lines(
        tmp_path / "data" / "a.jsonl",
        [
            {"id": 1, "name": "a", "ts": "2024-01-02T03:04:05Z", "amount": 1, "ok": True},
            {"id": 2, "name": None, "ts": "2024-01-02 03:04:05.5+01:00", "amount": 2.5},
            {"id": 3, "name": "c", "ts": "2024-01-03T00:00:00Z", "amount": 3, "tags": ["x"]},
        ],
    )
    write_lines(
        tmp_path / "data" / "b.jsonl",
        [
            {"id": 4, "name": "d", "ts": "2024-01-04T00:00:00Z", "amount": 4, "obj": {"k": 1}},
            {"id": 5, "day": "2024-01-05", "mixed": 1},
            {"id": 6, "mixed": "x", "late": 1},
        ],
    )
    run = Tap(tmp_path, primary_keys=["id"], schema_sample_rows=5).run("--discover")
    catalog = json.loads(run.stdout)
    [stream] = catalog["streams"]
    assert stream["tap_stream_id"] == stream["stream"] == "events"
    assert stream["key_properties"] == ["id"]
    props = stream["schema"]["properties"]
    assert props["id"] == {"type": ["integer"]}
    assert props["name"] == {"type": ["null", "string"]}  # null seen, and missing in row 5
    assert props["ts"] == {"type": ["null", "string"], "format": "date-time"}
    assert props["amount"] == {"type": ["null", "number"]}  # integer + number -> number
    assert props["ok"] == {"type": ["null", "boolean"]}
    assert props["tags"] == {"type": ["null", "array"], "items": {}}
    assert props["obj"] == {"type": ["null", "object"]}
    assert props["day"] == {"type": ["null", "string"]}  # a date alone is not a date-time
    assert props["mixed"] == {"type": ["null", "integer"]}  # row 6 is past the sample
    assert "late" not in props
    md = {tuple(m["breadcrumb"]): m["metadata"] for m in stream["metadata"]}
    assert md[()]["table-key-properties"] == ["id"]
    assert md[()]["forced-replication-method"] == "INCREMENTAL"
    assert md[("properties", "id")]["inclusion"] == "automatic"
    assert md[("properties", "name")] == {"inclusion": "available", "selected-by-default": True}
    assert set(props) == {b[1] for b in md if b}

    run = Tap(tmp_path, schema_sample_rows=1000).run("--discover")
    props = json.loads(run.stdout)["streams"][0]["schema"]["properties"]
    assert props["mixed"] == {"type": ["null", "integer", "string"]}
    assert props["late"] == {"type": ["null", "integer"]}

    run = Tap(tmp_path, add_file_metadata=True).run("--discover")
    props = json.loads(run.stdout)["streams"][0]["schema"]["properties"]
    assert props["_sdc_source_file"] == {"type": ["string"]}
    assert props["_sdc_source_lineno"] == {"type": ["integer"]}


def test_discovery_primary_key_must_exist(tmp_path: Path) -> None:
    write_lines(tmp_path / "data" / "a.jsonl", rows(0, 3))
    run = Tap(tmp_path, primary_keys=["nope"]).run("--discover", check=False)
    assert run.rc == 1
    assert "primary_keys not found" in run.stderr


# --------------------------------------------------------------------------- sync


def test_first_run_emits_everything_and_a_state(tap: Tap) -> None:
    f = tap.cwd / "data" / "a.jsonl"
    write_lines(f, rows(0, 5))
    run = tap.run()
    assert run.messages[0]["type"] == "SCHEMA"
    assert run.schemas[0]["key_properties"] == ["id"]
    assert run.records == rows(0, 5)
    assert all("time_extracted" in m for m in run.messages if m["type"] == "RECORD")
    st = os.stat(f)
    bm = run.states[-1]["bookmarks"]["events"]["files"][str(f.resolve())]
    assert bm["offset"] == bm["size"] == st.st_size
    assert bm["inode"] == st.st_ino
    assert bm["mtime_ns"] == st.st_mtime_ns
    assert run.messages[-1]["type"] == "STATE"
    # A second run with that state emits nothing new and the same state.
    again = tap.run(state=run.states[-1])
    assert again.records == []
    assert again.states[-1] == run.states[-1]


def test_appending_lines_emits_exactly_the_new_lines(tap: Tap) -> None:
    f = tap.cwd / "data" / "a.jsonl"
    write_lines(f, rows(0, 4500))
    first = tap.run()
    assert len(first.records) == 4500
    write_lines(f, rows(4500, 5700), mode="a")
    second = tap.run(state=first.states[-1])
    assert second.records == rows(4500, 5700)
    third = tap.run(state=second.states[-1])
    assert third.records == []


def test_other_state_content_is_kept(tap: Tap) -> None:
    write_lines(tap.cwd / "data" / "a.jsonl", rows(0, 2))
    state = {"bookmarks": {"other": {"x": 1}}, "extra": True}
    run = tap.run(state=state)
    assert run.states[-1]["bookmarks"]["other"] == {"x": 1}
    assert run.states[-1]["extra"] is True


def test_a_new_file_emits_only_its_lines(tap: Tap) -> None:
    write_lines(tap.cwd / "data" / "a.jsonl", rows(0, 10))
    first = tap.run()
    write_lines(tap.cwd / "data" / "b.jsonl", rows(10, 13))
    second = tap.run(state=first.states[-1])
    assert second.records == rows(10, 13)
    files = second.states[-1]["bookmarks"]["events"]["files"]
    assert len(files) == 2


def test_a_replaced_file_is_read_again(tap: Tap) -> None:
    f = tap.cwd / "data" / "a.jsonl"
    write_lines(f, rows(0, 10))
    first = tap.run()
    tmp = tap.cwd / "data" / "a.jsonl.tmp"
    write_lines(tmp, rows(100, 120))
    old_inode = os.stat(f).st_ino
    os.replace(tmp, f)
    assert os.stat(f).st_ino != old_inode
    second = tap.run(state=first.states[-1])
    assert second.records == rows(100, 120)
    assert "replaced (inode changed)" in second.stderr


def test_a_truncated_file_is_read_again(tap: Tap) -> None:
    f = tap.cwd / "data" / "a.jsonl"
    write_lines(f, rows(0, 10))
    first = tap.run()
    write_lines(f, rows(200, 203))  # same inode, shorter
    second = tap.run(state=first.states[-1])
    assert second.records == rows(200, 203)
    assert "truncated" in second.stderr


def test_a_file_rewritten_in_place_is_read_again(tap: Tap) -> None:
    f = tap.cwd / "data" / "a.jsonl"
    write_lines(f, [{"id": 1, "name": "x"}])
    first = tap.run()
    # Same inode, longer, and no line ends where the bookmark is.
    write_lines(f, [{"id": 7, "name": "a much longer name"}, {"id": 8}])
    second = tap.run(state=first.states[-1])
    assert second.records == [{"id": 7, "name": "a much longer name"}, {"id": 8}]
    assert "rewritten" in second.stderr


def test_a_partial_trailing_line_is_left_for_the_next_run(tap: Tap) -> None:
    f = tap.cwd / "data" / "a.jsonl"
    write_lines(f, rows(0, 3))
    with open(f, "a") as fh:
        fh.write('{"id": 3, "na')
    first = tap.run()
    assert first.records == rows(0, 3)
    bm = first.states[-1]["bookmarks"]["events"]["files"][str(f.resolve())]
    assert bm["offset"] < bm["size"] == os.stat(f).st_size
    assert bm["offset"] == len("".join(json.dumps(r) + "\n" for r in rows(0, 3)))
    # The writer finishes the line and adds another.
    with open(f, "a") as fh:
        fh.write('me": "n3"}\n' + json.dumps({"id": 4, "name": "n4"}) + "\n")
    second = tap.run(state=first.states[-1])
    assert second.records == rows(3, 5)


def test_blank_lines_bom_and_crlf(tap: Tap) -> None:
    f = tap.cwd / "data" / "a.jsonl"
    f.parent.mkdir()
    f.write_bytes(b'\xef\xbb\xbf{"id": 1}\r\n\n   \n{"id": 2}\r\n')
    run = tap.run()
    assert run.records == [{"id": 1}, {"id": 2}]
    with open(f, "ab") as fh:
        fh.write(b'{"id": 3}\n')
    again = tap.run(state=run.states[-1], add_file_metadata=True)
    assert again.records == [
        {"id": 3, "_sdc_source_file": str(f.resolve()), "_sdc_source_lineno": 5}
    ]


def test_file_metadata_line_numbers_across_runs(tap: Tap) -> None:
    f = tap.cwd / "data" / "a.jsonl"
    write_lines(f, rows(0, 3))
    first = tap.run(add_file_metadata=True)
    assert [r["_sdc_source_lineno"] for r in first.records] == [1, 2, 3]
    assert {r["_sdc_source_file"] for r in first.records} == {str(f.resolve())}
    write_lines(f, rows(3, 5), mode="a")
    second = tap.run(add_file_metadata=True, state=first.states[-1])
    assert [r["_sdc_source_lineno"] for r in second.records] == [4, 5]
    assert second.schemas[0]["schema"]["properties"]["_sdc_source_lineno"] == {"type": ["integer"]}


def test_path_forms(tmp_path: Path) -> None:
    write_lines(tmp_path / "data" / "a.jsonl", rows(0, 2))
    write_lines(tmp_path / "data" / "b.ndjson", rows(2, 3))
    write_lines(tmp_path / "data" / "notes.txt", ["not json"])
    write_lines(tmp_path / "data" / "sub" / "c.jsonl", rows(3, 4))
    tap = Tap(tmp_path)
    assert tap.run(path="data").records == rows(0, 3)  # a folder: its JSONL files
    assert tap.run(path="data/a.jsonl").records == rows(0, 2)
    assert tap.run(path="data/**/*.jsonl").records == rows(0, 2) + rows(3, 4)
    empty = tap.run(path="data/*.none", catalog=_catalog(tap))
    assert empty.records == []
    assert "no files match" in empty.stderr


# --------------------------------------------------------------------------- selection


def _catalog(tap: Tap) -> dict[str, Any]:
    return json.loads(tap.run("--discover").stdout)


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
