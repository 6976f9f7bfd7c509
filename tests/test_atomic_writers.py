"""Every file stackform keeps is written by the one atomic writer (``stackform.fileio``).

Each writer runs in a real child process that stalls in the chmod of its temp file (the data
written, and fsynced unless the write is deferred, the rename not done) and is then killed with
SIGKILL. What every writer must show, the
traits of :func:`stackform.fileio.atomic_write`: the file keeps its old content (or stays absent)
throughout, the temp file beside it is 0600 whatever the file's mode and the umask, it is
flocked while its writer lives (so a sweeper leaves it), and once the writer is dead the next
sweep (:func:`stackform.fileio.sweep_temps_of`) removes it.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from stackform.fileio import TEMP_GRACE, atomic_write, flock_held, sweep_temps_of, temps_of
from stackform.plugins.installs import find_venv
from stackform.plugins.spec import InstallSpec
from stackform.state.local import LocalBackend
from stackform.testing.state_conformance import ENV, STACK, make_state
from tests.cli_helpers import make_env, write_stack

# Prepended to each writer's code: the writer of ``target`` stalls once its temp file is
# written, in the chmod before the rename (after the fsync, which a deferred write skips), after
# writing the temp file's path to ``marker``.
_STALL = """
import os, sys, time
from pathlib import Path

target, marker = Path(sys.argv[1]), Path(sys.argv[2])
_fchmod = os.fchmod

def _stalling_fchmod(fd, mode):
    written = os.readlink(f"/proc/self/fd/{fd}")
    name = os.path.basename(written)
    if name.startswith(f".{target.name}.") and name.endswith(".tmp"):
        marker.write_text(written)
        time.sleep(120)
    _fchmod(fd, mode)

os.fchmod = _stalling_fchmod
os.umask(0)
"""

SIX = InstallSpec(("six==1.16.0",))


@dataclass(frozen=True)
class Writer:
    code: str
    """Python run after :data:`_STALL`, with ``target`` set; it writes ``target``."""
    target: Callable[[Path], Path]
    """Where the file is, from the test's folder (``None``: known once the writer runs)."""
    before: Callable[[Path], bytes | None]
    """Sets the file's old content up in the test's folder; returns it (``None``: absent)."""


def _old_state(tmp: Path) -> bytes:
    LocalBackend(tmp / "state", stack=STACK).write(ENV, make_state(), None)
    return (tmp / "state" / f"{ENV}.json").read_bytes()


def _old_bytes(name: str) -> Callable[[Path], bytes]:
    def seed(tmp: Path) -> bytes:
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / name).write_bytes(b"old content\n")
        return b"old content\n"
    return seed


def _files_stack(tmp: Path) -> bytes:
    write_stack(tmp / "stack", """
        [stack]
        name = "writers"

        [files.a]
        path = "a.txt"
        content = "hello\\n"
    """)
    (tmp / "stack" / "plan.sfplan").write_bytes(b"old plan\n")
    return b"old plan\n"


WRITERS = {
    "state": Writer(
        """
from stackform.state.local import LocalBackend
from stackform.testing.state_conformance import ENV, STACK, grow
backend = LocalBackend(target.parent, stack=STACK)
current = backend.read(ENV)
backend.write(ENV, grow(current), current)
""",
        lambda tmp: tmp / "state" / f"{ENV}.json", _old_state),
    "saved plan": Writer(
        """
from stackform.cli import run
sys.argv = ["stackform", "-C", str(target.parent), "plan", "-o", str(target)]
run()
""",
        lambda tmp: tmp / "stack" / "plan.sfplan", _files_stack),
    "lock file": Writer(
        """
from stackform.plugins.lockfile import write_lock
write_lock(target.parent, {})
""",
        lambda tmp: tmp / "stack" / "stackform.lock", _old_bytes("stack/stackform.lock")),
    "private plugin config": Writer(
        """
from stackform.plugins.kit import write_private
write_private(target, {"token": "new secret"})
""",
        lambda tmp: tmp / "work" / "config.json", _old_bytes("work/config.json")),
    "bookmark": Writer(
        """
from stackform.runs.local import LocalRunStore
from stackform.runs.model import Bookmark
LocalRunStore(target.parents[2]).put_bookmark(
    "dev", Bookmark(key="daily.tap", value={"new": 1}, updated_at="", run_id=None))
""",
        lambda tmp: tmp / "runs" / "dev" / "bookmarks" / "daily.tap.json",
        _old_bytes("runs/dev/bookmarks/daily.tap.json")),
    "files provider": Writer(
        """
from stackform.provider import Context
from stackform.resource import Resource, fingerprinter
from stackform_files import FilesConfig, FilesProvider
cfg = FilesConfig(path=target.name, content="new secret\\n", mode="0644")
resource = Resource(address="files.a", kind="files", name="a", config=cfg,
                    attributes=cfg.model_dump(mode="json"))
ctx = Context(env="dev", stack_name="t", stack_dir=target.parent, work_dir=target.parent,
              fingerprint=fingerprinter("x"))
FilesProvider().create(ctx, resource)
""",
        lambda tmp: tmp / "out" / "a.txt", _old_bytes("out/a.txt")),
    "venv marker": Writer(
        """
from stackform.plugins.installs import ensure_venv
from stackform.plugins.spec import InstallSpec
ensure_venv(InstallSpec(("six==1.16.0",)))
""",
        # The marker is written into the venv's build folder, whose name is random.
        lambda tmp: Path("stackform-venv.json"), lambda tmp: None),
}


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        proc.kill()
        proc.wait()


def _stall(writer: Writer, target: Path, marker: Path, env: dict[str, str],
           started: list[subprocess.Popen[bytes]]) -> tuple[subprocess.Popen[bytes], Path]:
    code = _STALL + textwrap.dedent(writer.code)
    proc = subprocess.Popen([sys.executable, "-c", code, str(target), str(marker)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    started.append(proc)
    deadline = time.monotonic() + 120
    while not marker.exists() or not marker.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"the writer never stalled in the chmod of a temp file of {target.name} "
                        f"(exit {proc.returncode}): {out.decode()}{err.decode()}")
        time.sleep(0.01)
    return proc, Path(marker.read_text())


def _age(path: Path) -> None:
    past = time.time() - 10 * TEMP_GRACE
    os.utime(path, (past, past))


def _content(path: Path) -> bytes | None:
    return path.read_bytes() if path.exists() else None


@pytest.mark.parametrize("name", list(WRITERS))
def test_a_killed_writer_leaves_the_old_file_and_a_sweepable_temp(
    name: str, tmp_path: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    writer = WRITERS[name]
    old = writer.before(tmp_path)
    env = make_env(tmp_path / "home", {"STACKFORM_CACHE_DIR": str(tmp_path / "cache")})
    proc, tmp = _stall(writer, writer.target(tmp_path), tmp_path / "stalled", env, started)
    target = tmp.parent / writer.target(tmp_path).name

    assert re.fullmatch(rf"\.{re.escape(target.name)}\.[0-9a-f]{{32}}\.tmp", tmp.name), tmp
    assert _content(target) == old, "the file changed before the rename"
    assert stat.S_IMODE(tmp.stat().st_mode) == 0o600, "the temp file is readable by others"
    assert flock_held(tmp), "the temp file is not flocked while it is being written"
    _age(tmp)
    assert sweep_temps_of(target) == [] and tmp.exists(), "a sweep removed a live write"

    proc.kill()
    proc.wait()
    assert _content(target) == old, "a killed writer left a partial file"
    assert sweep_temps_of(target) == [tmp] and temps_of(target) == []
    if name == "venv marker":
        assert find_venv(SIX, tmp_path / "cache") is None, "a half-built venv is in the cache"


# -- the writer's options ------------------------------------------------------------------------


def test_before_replace_runs_once_the_data_is_durable_and_before_the_rename(
    tmp_path: Path
) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"old")
    seen: list[tuple[bytes, list[bytes]]] = []

    def before() -> None:
        seen.append((path.read_bytes(), [t.read_bytes() for t in temps_of(path)]))

    written = atomic_write(path, b"new", 0o640, before_replace=before)
    assert seen == [(b"old", [b"new"])]
    assert path.read_bytes() == b"new" and stat.S_IMODE(path.stat().st_mode) == 0o640
    assert (written.st_ino, written.st_size) == (path.stat().st_ino, 3)


def test_a_failing_before_replace_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"old")

    def before() -> None:
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        atomic_write(path, b"new", before_replace=before)
    assert path.read_bytes() == b"old" and temps_of(path) == []


def test_an_exclusive_write_never_replaces_a_file(tmp_path: Path) -> None:
    path = tmp_path / "log"
    atomic_write(path, b"first", exclusive=True)
    with pytest.raises(FileExistsError):
        atomic_write(path, b"second", exclusive=True)
    assert path.read_bytes() == b"first" and temps_of(path) == []
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
