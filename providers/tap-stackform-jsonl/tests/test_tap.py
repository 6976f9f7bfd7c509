"""Tests for tap-stackform-jsonl: the real console script run in subprocesses on real files.
CLI, discovery and incremental sync here; selection, STATE, errors and the pipe into the DuckDB
target in test_tap_state.py."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tap_support import CMD, Tap, _catalog, _env, rows, write_lines

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


