"""Supervised plugin processes and runtime folders, with real processes.

Linux only, like the parent-death signal it tests (stackform's CI runs on Linux). A helper
Python process plays stackform: it makes a runtime folder and starts "plugins" in it
with :func:`stackform.supervise.popen`, then is killed with SIGKILL. Its plugins must die with
it (Linux), and what escapes (a plugin's own child) must be killed by the next sweep, which must
leave alone the folders of live processes and processes that merely reuse a recorded pid.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackform.supervise import PROCESSES_FILE, popen, runtime_folder, sweep

HELPER = textwrap.dedent("""
    import subprocess, sys, time
    from pathlib import Path
    from stackform.supervise import popen, runtime_folder

    root, command = Path(sys.argv[1]), sys.argv[2:]
    with runtime_folder(root, "run") as folder:
        proc = popen(command, runtime=folder, stdout=subprocess.PIPE, text=True)
        print(folder.name, proc.pid, proc.stdout.readline().strip(), flush=True)
        time.sleep(300)
""")


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:].split()[0] not in ("Z", "X")


def _wait_dead(pid: int, timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


class Helper:
    """The stand-in for a stackform process, started with a plugin command."""

    def __init__(self, root: Path, *command: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", HELPER, str(root), *command],
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        folder, plugin, extra = [*self.proc.stdout.readline().split(), "", ""][:3]
        self.folder = root / folder
        self.plugin = int(plugin)
        self.extra = int(extra) if extra.isdigit() else None

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)


@pytest.fixture
def leftovers() -> Iterator[list[int]]:
    """Pids a failing test must not leave running."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_plugin_dies_with_a_killed_stackform(tmp_path: Path, leftovers: list[int]) -> None:
    helper = Helper(tmp_path / ".runtime", "sh", "-c", "echo ready; exec sleep 300")
    leftovers.append(helper.plugin)
    assert _alive(helper.plugin)
    assert oct(helper.folder.stat().st_mode & 0o777) == "0o700"
    assert oct((helper.folder / PROCESSES_FILE).stat().st_mode & 0o777) == "0o600"
    helper.kill9()
    assert _wait_dead(helper.plugin), "the plugin outlived its killed parent"
    assert helper.folder.is_dir(), "a killed process cannot remove its folder"


def test_sweep_kills_what_escaped_and_removes_the_folder(tmp_path: Path,
                                                         leftovers: list[int]) -> None:
    root = tmp_path / ".runtime"
    # The plugin's own child is in its process group but gets no parent-death signal.
    helper = Helper(root, "sh", "-c", "sleep 300 & echo $!; wait")
    assert helper.extra is not None
    leftovers.extend([helper.plugin, helper.extra])
    helper.kill9()
    assert _wait_dead(helper.plugin)
    time.sleep(0.2)
    assert _alive(helper.extra), "the grandchild should have escaped the parent-death signal"

    logged: list[str] = []
    swept = sweep(root, logged.append)
    assert [s.name for s in swept] == [helper.folder.name]
    assert swept[0].killed == 1 and swept[0].owner == helper.proc.pid
    assert _wait_dead(helper.extra), "the sweep left the escaped process running"
    assert not helper.folder.exists()
    assert logged == [f"# {swept[0].note}"] and "killed 1" in logged[0]


def test_sweep_leaves_live_owners_and_reused_pids_alone(tmp_path: Path,
                                                        leftovers: list[int]) -> None:
    root = tmp_path / ".runtime"
    live = Helper(root, "sh", "-c", "echo ready; exec sleep 300")
    leftovers.extend([live.plugin, live.proc.pid])
    # A folder of a dead owner recording a group whose number is now another process's: an
    # unrelated process that started later (another start time), in a group of its own.
    stranger = subprocess.Popen(["sleep", "300"], start_new_session=True)
    leftovers.append(stranger.pid)
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = root / f"run-{dead.pid}-1-abcd1234"
    stale.mkdir()
    (stale / PROCESSES_FILE).write_text(f"{stranger.pid} 1\n")

    swept = sweep(root)
    assert [s.name for s in swept] == [stale.name] and swept[0].killed == 0
    assert _alive(stranger.pid), "a process reusing a recorded pid was killed"
    assert live.folder.is_dir() and _alive(live.plugin), "a live owner's folder was swept"
    stranger.kill()
    stranger.wait()
    live.kill9()


def test_runtime_folder_is_removed_with_whatever_still_runs_in_it(tmp_path: Path,
                                                                  leftovers: list[int]) -> None:
    root = tmp_path / "env" / ".runtime"
    with runtime_folder(root, "discover") as folder:
        assert oct(root.stat().st_mode & 0o777) == "0o700"
        proc = popen(["sh", "-c", "sleep 300 & echo $!; wait"], runtime=folder,
                     stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        child = int(proc.stdout.readline())
        leftovers.extend([proc.pid, child])
        assert os.getpgid(proc.pid) == proc.pid, "a plugin runs in a process group of its own"
        assert os.getpgid(child) == proc.pid
        proc.kill()  # the caller stops its plugin; the plugin's child is still running
        proc.wait()
    assert _wait_dead(child)
    assert not folder.exists()
    assert os.listdir(root) == []


def test_apply_sweeps_what_a_killed_stackform_left(tmp_path: Path, leftovers: list[int]) -> None:
    from stackform.plan.builder import make_context
    from stackform.resource import fingerprinter
    from stackform.session import open_session
    from stackform.supervise import RUNTIME_VAR, runtime_root
    from tests.cli_helpers import Runner, make_env, sleepers_stack, write_stack

    project = tmp_path / "project"
    write_stack(project, sleepers_stack(["one"]))
    stack = open_session(project).stack
    root = runtime_root(make_context(stack, fingerprinter("x")).work_dir)
    # A folder left by a stackform process that is gone: its config, and a plugin's child that
    # outlived it (in the plugin's group, named after the folder in its environment).
    dead = subprocess.Popen(["true"])
    dead.wait()
    folder = root / f"run-{dead.pid}-1-abcd1234"
    folder.mkdir(parents=True)
    (folder / "tap.json").write_text('{"password": "left-behind"}')
    orphan = subprocess.Popen(["sleep", "300"], start_new_session=True,
                              env={**os.environ, RUNTIME_VAR: folder.name})
    leftovers.append(orphan.pid)
    stat = Path(f"/proc/{orphan.pid}/stat").read_text()
    start = stat[stat.rindex(")") + 2:].split()[19]
    (folder / PROCESSES_FILE).write_text(f"{orphan.pid} {start}\n")

    result = Runner(project, make_env(tmp_path))("apply", "--auto-approve")
    assert result.code == 0, result
    assert not folder.exists(), "apply left a killed process's runtime folder"
    assert orphan.wait(timeout=5) == -signal.SIGKILL
