"""Tests of the ``files`` provider: the conformance suite, then what is particular to files."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from stackform.errors import StackformError
from stackform.provider import Context, Provider
from stackform.resource import (
    KeyPath,
    Resource,
    ResourceState,
    fingerprinter,
    is_fingerprint,
)
from stackform.testing.provider_conformance import MakeResource, ProviderConformance, record
from stackform_files import FilesConfig, FilesError, FilesProvider

SECRET = "s3cr3t-value-that-must-not-leak"


def make(name: str, sensitive: frozenset[KeyPath] = frozenset(), **config: Any) -> Resource:
    cfg = FilesConfig.model_validate(config)
    return Resource(
        address=f"files.{name}",
        kind="files",
        name=name,
        config=cfg,
        attributes=cfg.model_dump(mode="json"),
        sensitive=sensitive,
    )


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


class TestFilesConformance(ProviderConformance):
    replace_variant = 2
    sensitive_variant = 3

    @pytest.fixture
    def provider(self) -> Provider:
        return FilesProvider()

    @pytest.fixture
    def make_resource(self) -> MakeResource:
        def make_variant(name: str, variant: int) -> Resource:
            if variant == 0:
                return make(name, path=f"out/{name}.txt", content="hello\n")
            if variant == 1:
                return make(name, path=f"out/{name}.txt", content="hello again\n", mode="0640")
            if variant == 2:
                return make(name, path=f"moved/{name}.txt", content="hello\n")
            return make(
                name,
                frozenset({("content",)}),
                path=f"out/{name}.env",
                content=f"API_KEY={SECRET}\n",
            )

        return make_variant


class TestFilesTemplateConformance(ProviderConformance):
    replace_variant = 2
    sensitive_variant = 3

    @pytest.fixture
    def provider(self) -> Provider:
        return FilesProvider()

    @pytest.fixture
    def make_resource(self, stack_dir: Path) -> MakeResource:
        (stack_dir / "templates").mkdir()
        (stack_dir / "templates" / "greeting.tmpl").write_text("$greeting, ${who}!\n")
        (stack_dir / "templates" / "env.tmpl").write_text("TOKEN=$token\n")

        def make_variant(name: str, variant: int) -> Resource:
            tpl = "templates/greeting.tmpl"
            if variant == 0:
                return make(
                    name, path=f"out/{name}", template=tpl, vars={"greeting": "hi", "who": "you"}
                )
            if variant == 1:
                return make(
                    name, path=f"out/{name}", template=tpl, vars={"greeting": "bye", "who": "you"}
                )
            if variant == 2:
                return make(
                    name, path=f"else/{name}", template=tpl, vars={"greeting": "hi", "who": "you"}
                )
            return make(
                name,
                frozenset({("vars", "token")}),
                path=f"out/{name}.env",
                template="templates/env.tmpl",
                vars={"token": SECRET},
            )

        return make_variant


@pytest.fixture
def stack_dir(tmp_path: Path) -> Path:
    path = tmp_path / "stack"
    path.mkdir()
    return path


@pytest.fixture
def logs() -> list[str]:
    return []


@pytest.fixture
def ctx(stack_dir: Path, logs: list[str]) -> Context:
    return Context(
        env="test",
        stack_name="t",
        stack_dir=stack_dir,
        work_dir=stack_dir / ".stackform" / "envs" / "test",
        fingerprint=fingerprinter("test-lineage"),
        log=logs.append,
    )


@pytest.fixture
def files() -> FilesProvider:
    return FilesProvider()


def apply(files: FilesProvider, ctx: Context, desired: Resource) -> ResourceState:
    return record(ctx, desired, files.create(ctx, desired))


# --- config -----------------------------------------------------------------------------


def test_mode_is_normalised_to_four_octal_digits() -> None:
    assert FilesConfig(path="a", content="", mode="644").mode == "0644"
    assert FilesConfig(path="a", content="").mode is None


@pytest.mark.parametrize("mode", ["0999", "rw-r--r--", "12345", ""])
def test_bad_mode_is_rejected(mode: str) -> None:
    with pytest.raises(ValidationError, match="octal"):
        FilesConfig(path="a", content="", mode=mode)


def test_integer_mode_is_rejected_with_a_quoting_hint() -> None:
    # `mode = 0o644` in TOML arrives as 420.
    with pytest.raises(ValidationError, match="quoted octal string"):
        FilesConfig.model_validate({"path": "a", "content": "", "mode": 0o644})


@pytest.mark.parametrize(
    "config",
    [
        {"path": "a"},
        {"path": "a", "content": "x", "template": "t"},
        {"path": "a", "content": "x", "vars": {"k": "v"}},
        {"path": "a", "content": "x", "contents": "typo"},
        {"path": "", "content": "x"},
    ],
)
def test_invalid_config_is_rejected(config: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        FilesConfig.model_validate(config)


# --- writing ----------------------------------------------------------------------------


def test_writes_relative_to_the_stack_folder(
    files: FilesProvider, ctx: Context, stack_dir: Path, logs: list[str]
) -> None:
    outputs = files.create(ctx, make("a", path="deep/er/a.txt", content="héllo\n"))
    target = stack_dir / "deep" / "er" / "a.txt"
    assert target.read_text(encoding="utf-8") == "héllo\n"
    assert outputs["abs_path"] == str(target)
    assert outputs["size"] == len("héllo\n".encode())
    assert outputs[
        "sha256"
    ] == "5d4b0f1a1dad1d24acd6dcab7a6b39d4b0bd7a3a16e0a1a5c1de6bd6e97e3a94" or (
        len(outputs["sha256"]) == 64
    )
    assert any("deep/er/a.txt" in line for line in logs)


def test_sha256_output_is_the_digest_of_the_bytes(
    files: FilesProvider, ctx: Context, stack_dir: Path
) -> None:
    import hashlib

    outputs = files.create(ctx, make("a", path="a.txt", content="abc"))
    assert outputs["sha256"] == hashlib.sha256(b"abc").hexdigest()


def test_mode_is_applied_regardless_of_umask(
    files: FilesProvider, ctx: Context, stack_dir: Path
) -> None:
    old = os.umask(0o077)
    try:
        files.create(ctx, make("a", path="a.txt", content="x"))
        files.create(ctx, make("b", path="b.txt", content="x", mode="0640"))
    finally:
        os.umask(old)
    assert mode_of(stack_dir / "a.txt") == 0o644
    assert mode_of(stack_dir / "b.txt") == 0o640


def test_update_rewrites_content_and_mode(
    files: FilesProvider, ctx: Context, stack_dir: Path
) -> None:
    state = apply(files, ctx, make("a", path="a.txt", content="one"))
    files.update(ctx, state, make("a", path="a.txt", content="two", mode="0600"))
    assert (stack_dir / "a.txt").read_text() == "two"
    assert mode_of(stack_dir / "a.txt") == 0o600


def test_write_is_atomic_and_leaves_no_temp_files(
    files: FilesProvider, ctx: Context, stack_dir: Path
) -> None:
    state = apply(files, ctx, make("a", path="a.txt", content="one"))
    with (stack_dir / "a.txt").open() as reader:
        files.update(ctx, state, make("a", path="a.txt", content="two"))
        # The rename swapped in a new file: an open reader still sees the whole old one.
        assert reader.read() == "one"
    assert sorted(p.name for p in stack_dir.iterdir()) == ["a.txt"]


def test_create_dirs_false_with_missing_folder_is_a_clear_error(
    files: FilesProvider, ctx: Context
) -> None:
    with pytest.raises(
        FilesError, match=r"cannot write nope/a\.txt: its folder .* does not exist"
    ) as info:
        files.create(ctx, make("a", path="nope/a.txt", content="x", create_dirs=False))
    assert info.value.hint and "create_dirs" in info.value.hint


def test_parent_that_is_a_file_is_a_clear_error(
    files: FilesProvider, ctx: Context, stack_dir: Path
) -> None:
    (stack_dir / "blocker").write_text("")
    with pytest.raises(FilesError, match=r"cannot write blocker/a\.txt"):
        files.create(ctx, make("a", path="blocker/a.txt", content="x"))


def test_path_that_is_a_directory_is_a_clear_error(
    files: FilesProvider, ctx: Context, stack_dir: Path
) -> None:
    (stack_dir / "adir").mkdir()
    with pytest.raises(FilesError, match="is a directory"):
        files.create(ctx, make("a", path="adir", content="x"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through permissions")
def test_unwritable_folder_is_a_clear_error(
    files: FilesProvider, ctx: Context, stack_dir: Path
) -> None:
    locked = stack_dir / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(FilesError, match=r"cannot write locked/a\.txt: permission denied"):
            files.create(ctx, make("a", path="locked/a.txt", content="x"))
    finally:
        locked.chmod(0o700)


def test_files_error_is_a_stackform_error() -> None:
    assert issubclass(FilesError, StackformError)


# --- templates --------------------------------------------------------------------------


def test_template_rendering(files: FilesProvider, ctx: Context, stack_dir: Path) -> None:
    (stack_dir / "t.tmpl").write_text("host=$host port=${port}x debug=$debug cost=$$5\n")
    outputs = files.create(
        ctx,
        make(
            "a", path="a.conf", template="t.tmpl", vars={"host": "db", "port": 5432, "debug": True}
        ),
    )
    assert (stack_dir / "a.conf").read_text() == "host=db port=5432x debug=true cost=$5\n"
    assert len(outputs["template_sha256"]) == 64


def test_template_with_unknown_name_names_it(
    files: FilesProvider, ctx: Context, stack_dir: Path
) -> None:
    (stack_dir / "t.tmpl").write_text("x=${missing}\n")
    with pytest.raises(FilesError, match=r"t\.tmpl uses \$\{missing\} but vars has no 'missing'"):
        files.create(ctx, make("a", path="a", template="t.tmpl"))
    assert not (stack_dir / "a").exists()


def test_template_with_bad_placeholder_gives_position(
    files: FilesProvider, ctx: Context, stack_dir: Path
) -> None:
    (stack_dir / "t.tmpl").write_text("ok\nprice $5\n")
    with pytest.raises(FilesError, match="line 2"):
        files.create(ctx, make("a", path="a", template="t.tmpl"))


def test_missing_template_is_a_clear_error(files: FilesProvider, ctx: Context) -> None:
    with pytest.raises(FilesError, match=r"template nope\.tmpl not found"):
        files.create(ctx, make("a", path="a", template="nope.tmpl"))


def test_edited_template_source_shows_as_drift_until_applied(
    files: FilesProvider, ctx: Context, stack_dir: Path
) -> None:
    (stack_dir / "t.tmpl").write_text("v=$v\n")
    desired = make("a", path="a", template="t.tmpl", vars={"v": "1"})
    state = apply(files, ctx, desired)
    (stack_dir / "t.tmpl").write_text("value=$v\n")

    actual = files.read(ctx, state)
    assert actual is not None
    assert "content_sha256" in actual.attributes
    assert dict(actual.attributes) != desired.masked(ctx.fingerprint)
    assert any("t.tmpl changed" in n for n in files.plan_notes(ctx, state, desired))

    state = record(ctx, desired, files.update(ctx, actual, desired))
    assert (stack_dir / "a").read_text() == "value=1\n"
    actual = files.read(ctx, state)
    assert actual is not None and dict(actual.attributes) == desired.masked(ctx.fingerprint)
    assert files.plan_notes(ctx, state, desired) == []


# --- drift ------------------------------------------------------------------------------


def test_hand_edit_shows_the_content_found(
    files: FilesProvider, ctx: Context, stack_dir: Path
) -> None:
    state = apply(files, ctx, make("a", path="a.txt", content="declared\n"))
    (stack_dir / "a.txt").write_text("edited by hand\n")
    actual = files.read(ctx, state)
    assert actual is not None
    assert actual.attributes["content"] == "edited by hand\n"
    assert actual.attributes["path"] == "a.txt"


def test_hand_chmod_shows_the_mode_found(
    files: FilesProvider, ctx: Context, stack_dir: Path
) -> None:
    desired = make("a", path="a.txt", content="x")
    state = apply(files, ctx, desired)
    actual = files.read(ctx, state)
    assert actual is not None and actual.attributes["mode"] is None  # the default, as declared
    (stack_dir / "a.txt").chmod(0o666)
    actual = files.read(ctx, state)
    assert actual is not None and actual.attributes["mode"] == "0666"


def test_deleted_file_reads_as_gone(files: FilesProvider, ctx: Context, stack_dir: Path) -> None:
    state = apply(files, ctx, make("a", path="a.txt", content="x"))
    (stack_dir / "a.txt").unlink()
    assert files.read(ctx, state) is None


def test_hand_edited_template_file_is_marked(
    files: FilesProvider, ctx: Context, stack_dir: Path
) -> None:
    (stack_dir / "t.tmpl").write_text("v=$v\n")
    state = apply(files, ctx, make("a", path="a", template="t.tmpl", vars={"v": "1"}))
    (stack_dir / "a").write_text("v=2\n")
    actual = files.read(ctx, state)
    assert actual is not None
    assert actual.attributes["content_sha256"] != state.outputs["sha256"]
    assert actual.attributes["template"] == "t.tmpl"


# --- secrets ----------------------------------------------------------------------------


def test_sensitive_content_defaults_to_0600_and_stays_out_of_outputs(
    files: FilesProvider, ctx: Context, stack_dir: Path
) -> None:
    desired = make("env", frozenset({("content",)}), path=".env", content=f"TOKEN={SECRET}\n")
    outputs = files.create(ctx, desired)
    assert mode_of(stack_dir / ".env") == 0o600
    assert outputs["mode"] == "0600"
    assert SECRET not in json.dumps(outputs)
    # A bare sha256 of a short secret is cheap to guess from state; the keyed, slow one is not.
    assert is_fingerprint(outputs["sha256"])
    assert any("0600" in n for n in files.plan_notes(ctx, None, desired))


def test_sensitive_vars_default_to_0600(
    files: FilesProvider, ctx: Context, stack_dir: Path
) -> None:
    (stack_dir / "t.tmpl").write_text("TOKEN=$token\n")
    desired = make(
        "env",
        frozenset({("vars", "token")}),
        path=".env",
        template="t.tmpl",
        vars={"token": SECRET},
    )
    state = apply(files, ctx, desired)
    assert mode_of(stack_dir / ".env") == 0o600
    assert SECRET not in json.dumps(state.to_json())


def test_explicit_mode_wins_over_the_sensitive_default(
    files: FilesProvider, ctx: Context, stack_dir: Path
) -> None:
    files.create(
        ctx, make("env", frozenset({("content",)}), path=".env", content=SECRET, mode="0640")
    )
    assert mode_of(stack_dir / ".env") == 0o640


def test_hand_edit_of_sensitive_content_is_a_fingerprint(
    files: FilesProvider, ctx: Context, stack_dir: Path
) -> None:
    desired = make("env", frozenset({("content",)}), path=".env", content=SECRET)
    state = apply(files, ctx, desired)
    (stack_dir / ".env").write_text("leaked-by-hand-value")
    actual = files.read(ctx, state)
    assert actual is not None
    content = actual.attributes["content"]
    assert is_fingerprint(content) and content != state.attributes["content"]
    assert "leaked-by-hand-value" not in json.dumps(actual.to_json())


def test_secret_in_path_is_refused(files: FilesProvider, ctx: Context) -> None:
    with pytest.raises(FilesError, match=r"files\.a\.path contains a secret"):
        files.create(ctx, make("a", frozenset({("path",)}), path="x", content="y"))


# --- replacement ------------------------------------------------------------------------


def test_path_is_force_new() -> None:
    assert FilesProvider.force_new == frozenset({"path"})


def test_update_with_a_new_path_removes_the_old_file(
    files: FilesProvider, ctx: Context, stack_dir: Path
) -> None:
    state = apply(files, ctx, make("a", path="old.txt", content="x"))
    files.update(ctx, state, make("a", path="new.txt", content="x"))
    assert not (stack_dir / "old.txt").exists()
    assert (stack_dir / "new.txt").read_text() == "x"


def test_delete_leaves_created_folders(
    files: FilesProvider, ctx: Context, stack_dir: Path, logs: list[str]
) -> None:
    state = apply(files, ctx, make("a", path="sub/a.txt", content="x"))
    files.delete(ctx, state)
    assert (stack_dir / "sub").is_dir() and not (stack_dir / "sub" / "a.txt").exists()
    files.delete(ctx, state)
    assert any("already gone" in line for line in logs)


# --- temp files of killed writers -------------------------------------------------------

# Writes through the provider in a child process and stalls in the fsync of the temp file, once
# its data is written and before the rename: where a kill leaves a stray temp file.
_STALLING_WRITER = """
import os, sys, time
from pathlib import Path
from stackform.provider import Context
from stackform.resource import Resource, fingerprinter
from stackform_files import FilesConfig, FilesProvider

stack_dir, marker = Path(sys.argv[1]), Path(sys.argv[2])
real_fchmod = os.fchmod
def fchmod(fd, mode):  # after the data is written, before the rename
    if os.readlink(f"/proc/self/fd/{fd}").endswith(".tmp"):
        marker.touch()
        time.sleep(120)
    real_fchmod(fd, mode)
os.fchmod = fchmod
os.umask(0)
cfg = FilesConfig(path="a.txt", content="new secret\\n", mode="0644")
resource = Resource(address="files.a", kind="files", name="a", config=cfg,
                    attributes=cfg.model_dump(mode="json"))
ctx = Context(env="test", stack_name="t", stack_dir=stack_dir, work_dir=stack_dir,
              fingerprint=fingerprinter("x"))
FilesProvider().create(ctx, resource)
"""


@pytest.fixture
def stalled_writer(stack_dir: Path, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A live writer of ``a.txt``, stalled with its temp file written; killed on exit."""
    import sys
    import time

    marker = tmp_path / "stalled"
    proc = subprocess.Popen([sys.executable, "-c", _STALLING_WRITER, str(stack_dir), str(marker)])
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "the writer did not stall"
            time.sleep(0.01)
        yield proc
    finally:
        proc.kill()
        proc.wait()


def _temps(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.endswith(".tmp"))


def _age(path: Path, seconds: float = 60) -> None:
    """Make ``path`` look ``seconds`` old, as if that time had passed: the folder listings the
    sweep reuses for half the grace expire too (a temp file a listing misses is younger than
    the listing, unless its age is forged like this)."""
    from stackform import fileio
    from stackform.templistings import TempListings

    past = path.stat().st_mtime - seconds
    os.utime(path, (past, past))
    fileio._temp_listings = TempListings(fileio.TEMP_GRACE)


def test_temp_file_is_0600_while_it_holds_the_data(
    stalled_writer: subprocess.Popen[bytes], stack_dir: Path
) -> None:
    [tmp] = _temps(stack_dir)
    assert re.fullmatch(r"\.a\.txt\.[0-9a-f]{32}\.tmp", tmp.name), tmp
    assert tmp.read_text() == "new secret\n"
    assert mode_of(tmp) == 0o600  # the writer's umask is 0 and the file's mode 0644


def test_a_temp_file_being_written_is_left_alone(
    stalled_writer: subprocess.Popen[bytes], files: FilesProvider, ctx: Context, stack_dir: Path
) -> None:
    [tmp] = _temps(stack_dir)
    _age(tmp)  # even an old one: its writer still holds it
    state = apply(files, ctx, make("a", path="a.txt", content="mine\n"))
    files.delete(ctx, state)
    assert _temps(stack_dir) == [tmp]


def test_temp_files_of_a_killed_writer_are_removed_by_the_next_write_or_delete(
    stalled_writer: subprocess.Popen[bytes], files: FilesProvider, ctx: Context, stack_dir: Path
) -> None:
    import tempfile

    state = apply(files, ctx, make("a", path="a.txt", content="mine\n"))
    stalled_writer.kill()
    stalled_writer.wait()
    [killed] = _temps(stack_dir)
    # What the provider's writer before atomic_write (tempfile.mkstemp) left.
    fd, legacy = tempfile.mkstemp(dir=stack_dir, prefix=".a.txt.", suffix=".tmp")
    os.close(fd)
    ours = sorted([killed, Path(legacy)])
    others = [stack_dir / ".b.txt.0123456789abcdef0123456789abcdef.tmp",  # another file's
              stack_dir / ".a.txt.backup.tmp"]  # not a name stackform makes
    for path in others:
        path.write_text("theirs\n")
    for path in (*ours, *others):
        _age(path)

    # Reading (what a plan does) removes nothing and is not confused by them.
    assert files.read(ctx, state) == state
    assert _temps(stack_dir) == sorted([*ours, *others])

    state = apply(files, ctx, make("a", path="a.txt", content="mine again\n"))
    assert _temps(stack_dir) == sorted(others)

    for path in ours:
        path.write_text("new secret\n")
        _age(path)
    files.delete(ctx, state)
    assert _temps(stack_dir) == sorted(others)


def test_a_fresh_unlocked_temp_file_is_left_for_its_writer_to_lock(
    files: FilesProvider, ctx: Context, stack_dir: Path
) -> None:
    # Between creating its temp file and locking it, a writer holds no lock for an instant.
    fresh = stack_dir / ".a.txt.0123456789abcdef0123456789abcdef.tmp"
    fresh.write_text("x")
    apply(files, ctx, make("a", path="a.txt", content="mine\n"))
    assert _temps(stack_dir) == [fresh]
