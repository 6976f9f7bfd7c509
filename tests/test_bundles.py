"""Bundles (stackform.bundles): what goes in, the digest, the worker's cache, and every way a
bundle from a bucket can be wrong (altered, replaced, missing, hostile members): each fails
with a clear reason and leaves nothing in the cache to run."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from stackform.bundles.cache import fetch, run_copy, unpack
from stackform.bundles.manifest import BundleError, build, parse_manifest, sources_of
from stackform.bundles.publish import bundle_of
from stackform.bundles.store import FolderBundles, location_args, table_from_args
from stackform.errors import CorruptStateError
from stackform.session import open_session
from stackform.state.model import State

STACK = '''
[stack]
name = "demo"

[files.settings]
path = "out/settings.env"
template = "templates/settings.tmpl"
vars = { x = "1" }

[transformers.dbt]
pip_url = "dbt-duckdb==1.11.1"
project_dir = "../shared/transform"
target = { type = "duckdb", path = "/tmp/never.duckdb" }

[pipelines.daily]
steps = ["dbt:build"]
schedule = "@daily"
'''


def make_stack(root: Path) -> Path:
    stack = root / "repo" / "stack"
    (stack / "templates").mkdir(parents=True)
    (stack / "stack.toml").write_text(STACK)
    (stack / "templates" / "settings.tmpl").write_text("x={{ x }}\n")
    (stack / "unrelated.txt").write_text("not a source of any resource\n")
    project = root / "repo" / "shared" / "transform"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text("name: demo\n")
    (project / "models" / "m.sql").write_text("select 1\n")
    (project / "target").mkdir()
    (project / "target" / "manifest.json").write_text("{}")
    return stack


def test_a_bundle_holds_what_the_stack_names_and_its_digest_is_the_manifest_s(
        tmp_path: Path) -> None:
    stack = open_session(make_stack(tmp_path), strict_secrets=False).stack
    sources = sources_of(stack, open_session(stack.dir, strict_secrets=False).registry)
    # Rooted at the common folder, so ../shared/transform keeps its meaning in the bundle.
    assert sorted(sources.files) == [
        "shared/transform/dbt_project.yml", "shared/transform/models/m.sql",
        "stack/stack.toml", "stack/templates/settings.tmpl"]
    assert sources.stack_file == "stack/stack.toml"
    bundle = build(sources)
    assert bundle.digest == hashlib.sha256(bundle.manifest).hexdigest()
    assert build(sources) == bundle, "the same files make the same bytes"
    assert bundle_of(stack).digest == bundle.digest
    (stack.dir / "templates" / "settings.tmpl").write_text("x={{ x }}!\n")
    assert bundle_of(stack).digest != bundle.digest


def test_fetch_checks_unpacks_once_and_a_run_gets_its_own_copy(tmp_path: Path) -> None:
    stack = open_session(make_stack(tmp_path), strict_secrets=False).stack
    bundle = bundle_of(stack)
    store = FolderBundles(tmp_path / "bucket")
    store.put(bundle.digest, bundle.archive)
    cache = tmp_path / "cache"
    folder, downloaded = fetch(store, bundle.digest, cache)
    assert downloaded and folder == cache / bundle.digest
    assert (folder / "files" / "shared/transform/models/m.sql").read_text() == "select 1\n"
    assert sorted(p.name for p in cache.iterdir()) == [bundle.digest], "no temporary left"
    again, downloaded = fetch(store, bundle.digest, cache)
    assert again == folder and not downloaded
    run_dir, stack_file = run_copy(folder, tmp_path / "runs")
    assert Path(stack_file) == run_dir / "stack" / "stack.toml"
    assert Path(stack_file).read_text() == STACK

    # A cache edited on the worker is found out, removed, and fetched afresh next time.
    (folder / "files" / "stack" / "stack.toml").write_text(STACK + "\n# edited\n")
    with pytest.raises(BundleError, match="altered on this worker"):
        fetch(store, bundle.digest, cache)
    assert not folder.exists()
    assert fetch(store, bundle.digest, cache)[1] is True


def tar_gz(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return gzip.compress(buf.getvalue())


def manifest_of(files: dict[str, bytes]) -> bytes:
    entries = {n: {"sha256": hashlib.sha256(d).hexdigest(), "size": len(d),
                   "executable": False} for n, d in files.items()}
    return json.dumps({"format": 1, "stack_file": "stack.toml", "files": entries},
                      sort_keys=True, separators=(",", ":")).encode()


def file_member(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


GOOD = {"stack.toml": b"[stack]\nname = 'x'\n"}


@pytest.mark.parametrize(("case", "expected"), [
    ("content", "stack.toml does not match its manifest"),
    ("manifest", "does not match its digest"),
    ("extra", "which its manifest does not list"),
    ("symlink", "which its manifest does not list"),
    ("dotdot", "which its manifest does not list"),
    ("missing", "it lacks stack.toml"),
    ("not-gzip", "not a gzip archive"),
    ("no-manifest", "does not start with its manifest"),
])
def test_a_hostile_or_broken_archive_is_refused_and_nothing_is_cached(
        tmp_path: Path, case: str, expected: str) -> None:
    manifest = manifest_of(GOOD)
    digest = hashlib.sha256(manifest).hexdigest()
    members = [file_member("MANIFEST.json", manifest),
               file_member("files/stack.toml", GOOD["stack.toml"])]
    if case == "content":
        members[1] = file_member("files/stack.toml", b"[stack]\nname = 'evil'\n")
    elif case == "manifest":
        members[0] = file_member("MANIFEST.json", manifest_of({"stack.toml": b"evil"}))
    elif case == "extra":
        members.append(file_member("files/evil.py", b"import os"))
    elif case == "symlink":
        link = tarfile.TarInfo("files/link")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        members.append((link, None))
    elif case == "dotdot":
        members.append(file_member("files/../../escape.txt", b"x"))
    elif case == "missing":
        members.pop()
    elif case == "no-manifest":
        members.reverse()
    archive = b"not gzip" if case == "not-gzip" else tar_gz(members)
    store = FolderBundles(tmp_path / "bucket")
    store.put(digest, archive)
    cache = tmp_path / "cache"
    with pytest.raises(BundleError) as raised:
        fetch(store, digest, cache)
    assert expected in raised.value.reason
    assert "nothing was run" in (raised.value.hint or "")
    assert list(cache.iterdir()) == [], "nothing half-unpacked is left to run"
    assert not (tmp_path / "escape.txt").exists()


def test_the_good_archive_of_the_hostile_cases_unpacks(tmp_path: Path) -> None:
    manifest = manifest_of(GOOD)
    digest = hashlib.sha256(manifest).hexdigest()
    archive = tar_gz([file_member("MANIFEST.json", manifest),
                      file_member("files/stack.toml", GOOD["stack.toml"])])
    (tmp_path / "out").mkdir()
    assert unpack(archive, digest, tmp_path / "out")["stack_file"] == "stack.toml"


def test_a_missing_bundle_and_a_bad_digest_are_clear(tmp_path: Path) -> None:
    store = FolderBundles(tmp_path / "bucket")
    with pytest.raises(BundleError, match="is missing") as raised:
        fetch(store, "a" * 64, tmp_path / "cache")
    assert "Nothing was run" in (raised.value.hint or "")
    with pytest.raises(BundleError, match="not a bundle digest"):
        fetch(store, "../../etc", tmp_path / "cache")
    with pytest.raises(BundleError, match="cannot use"):
        parse_manifest(b"[]", hashlib.sha256(b"[]").hexdigest())


def test_the_worker_s_state_location_round_trips(tmp_path: Path) -> None:
    s3 = {"backend": "s3", "bucket": "acme-state", "prefix": "team/a",
          "endpoint_url": "http://127.0.0.1:9000", "region": "eu-west-1"}
    words = location_args(s3, tmp_path)
    assert words == ["--state", "s3://acme-state/team/a", "--endpoint-url",
                     "http://127.0.0.1:9000", "--region", "eu-west-1"]
    assert table_from_args("s3://acme-state/team/a", "http://127.0.0.1:9000", "eu-west-1",
                           None) == s3
    local = location_args({"path": "state"}, tmp_path)
    assert local == ["--state", str((tmp_path / "state").resolve())]
    assert table_from_args(local[1], None, None, None) == {"backend": "local",
                                                           "path": local[1]}
    with pytest.raises(BundleError, match="neither"):
        table_from_args("relative/state", None, None, None)


def test_state_records_a_bundle_digest_and_refuses_anything_else() -> None:
    state = State.new("dev", "demo")
    assert "bundle" not in state.to_json(), "a state without a bundle keeps its old shape"
    with_bundle = State.loads(State(**{**state.__dict__, "bundle": "b" * 64}).dumps())
    assert with_bundle.bundle == "b" * 64
    doc = json.loads(with_bundle.dumps())
    doc["bundle"] = "../../x"
    with pytest.raises(CorruptStateError, match="bundle must be a sha256 digest"):
        State.from_json(doc)
