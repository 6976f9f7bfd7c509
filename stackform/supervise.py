"""Plugin processes that die with stackform, and the private folders their secrets live in.

Every process stackform starts for a plugin (a tap and its target, discovery, dbt, an Airflow
import check, uv) goes through :func:`popen`:

* it runs in a process group (a session) of its own, so a terminal's Ctrl-C reaches stackform
  only (which stops the tap first), and the whole group can be killed, grandchildren included;
* on Linux the kernel kills it (``PR_SET_PDEATHSIG``, SIGKILL) as soon as the thread that
  started it ends, so ``kill -9`` of stackform takes its plugins down with it. The signal
  follows the *thread*: a plugin must be started from a thread that waits for it, never from a
  short-lived helper thread (every caller in stackform waits for its processes before it
  returns, in the thread that started them);
* started with a runtime folder, its group is recorded there (leader pid and start time).

A runtime folder (:func:`runtime_folder`) holds the files a plugin needs that must not be left
anywhere: its full config with secrets, a state file. It lives under
``<environment's private folder>/.runtime/`` (0700, files 0600), named
``<kind>-<pid>-<start time>-<random>`` after the stackform process that made it, and is removed
when the work ends (after killing anything still running in the groups recorded in it). A
process killed with ``kill -9`` cannot remove it: every ``stackform run`` before its first step,
every apply before it changes anything, and the first runtime folder any command makes in the
environment sweep first (:func:`sweep`): for each folder whose owner is gone, kill what is left
of the process groups recorded there, then delete the folder. So a retry never runs beside the
plugins of a killed run, and no secret stays on disk past the next run or apply.

The start time (from ``/proc``) makes a pid safe to act on: a pid reused by an unrelated process
has another start time. A group whose leader is gone is killed only when one of its live
members carries the folder's name in ``STACKFORM_RUNTIME`` (set in every recorded plugin's
environment), which a reused number cannot.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

RUNTIME_FOLDER = ".runtime"
RUNTIME_VAR = "STACKFORM_RUNTIME"
"""Set in a recorded plugin's environment to its runtime folder's name (see the sweep)."""
PROCESSES_FILE = ".processes"
PR_SET_PDEATHSIG = 1
_PROC = Path("/proc")
_UNKNOWN = "x"


def runtime_root(work_dir: Path) -> Path:
    """Where an environment's runtime folders live (inside its private folder)."""
    return work_dir / RUNTIME_FOLDER


# -- processes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Stat:
    zombie: bool
    pgrp: int
    start: str


def _stat(pid: int) -> _Stat | None:
    """A process's state, group and start time; ``None`` when there is no such process."""
    if _PROC.is_dir():
        try:
            text = (_PROC / str(pid) / "stat").read_text()
        except (OSError, ValueError):
            return None
        # comm (field 2) may hold spaces and parentheses: split after its closing parenthesis.
        fields = text[text.rindex(")") + 2:].split()
        return _Stat(fields[0] in ("Z", "X"), int(fields[2]), fields[19])
    try:  # no /proc (macOS, BSD): ask ps
        out = subprocess.run(["ps", "-o", "stat=,pgid=,lstart=", "-p", str(pid)],
                             capture_output=True, text=True, timeout=10).stdout.split(None, 2)
    except (OSError, subprocess.SubprocessError):
        return None
    if len(out) < 3:
        return None
    start = hashlib.sha256(out[2].strip().encode()).hexdigest()[:16]
    return _Stat(out[0].startswith("Z"), int(out[1]), start)


@cache
def _own_start() -> str:
    stat = _stat(os.getpid())
    return stat.start if stat else _UNKNOWN


def _alive(pid: int, start: str) -> bool:
    """Whether the process ``pid`` that started at ``start`` still runs (not a zombie)."""
    stat = _stat(pid)
    if stat is None or stat.zombie:
        return False
    return start == _UNKNOWN or stat.start == start


@cache
def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        fn = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    fn.restype = ctypes.c_int
    return fn


def _die_with_parent() -> Callable[[], None] | None:
    """What the child runs between fork and exec (Linux): ask for SIGKILL when the thread that
    started it ends.

    ``preexec_fn`` is documented as unsafe with threads because code run there may need a lock
    another thread held at the fork. This one takes none: ``prctl`` is resolved before the fork,
    and the child only makes two system calls (``prctl``, ``getppid``) with small integers.
    """
    prctl = _prctl()
    if prctl is None:
        return None
    parent = os.getpid()
    sigkill = int(signal.SIGKILL)

    def die_with_parent() -> None:
        prctl(PR_SET_PDEATHSIG, sigkill, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl: nobody would signal us
            os.kill(os.getpid(), sigkill)

    return die_with_parent


def popen(args: Sequence[str], *, runtime: Path | None = None,
          env: Mapping[str, str] | None = None, **kwargs: Any) -> subprocess.Popen[Any]:
    """Start a plugin process supervised: its own process group, killed with stackform (Linux),
    and recorded in ``runtime`` (a :func:`runtime_folder`) when given.

    The caller must wait for the process (or stop it) in the thread that started it, before
    leaving the runtime folder. Other arguments are :class:`subprocess.Popen`'s.
    """
    environ = dict(os.environ if env is None else env)
    if runtime is not None:
        environ[RUNTIME_VAR] = runtime.name
    proc: subprocess.Popen[Any] = subprocess.Popen(
        list(args), env=environ, start_new_session=True, preexec_fn=_die_with_parent(),
        **kwargs)
    if runtime is not None:
        stat = _stat(proc.pid)
        line = f"{proc.pid} {stat.start if stat else _UNKNOWN}\n"
        fd = os.open(runtime / PROCESSES_FILE,
                     os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
    return proc


def stop_group(proc: subprocess.Popen[Any], grace: float = 5.0) -> None:
    """Stop a :func:`popen` process as a terminal's Ctrl-C would: SIGINT to its process group
    (dbt cancels its queries then), and SIGKILL after ``grace`` seconds."""
    for sig, wait in ((signal.SIGINT, grace), (signal.SIGKILL, None)):
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
        except ProcessLookupError:
            return


def _members(pgrp: int, tag: str | None) -> list[int]:
    """Live processes of group ``pgrp`` (with ``tag``: only those whose environment names that
    runtime folder). Empty without ``/proc``."""
    if not _PROC.is_dir():
        return []
    wanted = f"{RUNTIME_VAR}={tag}".encode()
    found = []
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        stat = _stat(int(entry.name))
        if stat is None or stat.zombie or stat.pgrp != pgrp:
            continue
        if tag is not None:
            try:
                if wanted not in (entry / "environ").read_bytes().split(b"\0"):
                    continue
            except OSError:
                continue
        found.append(int(entry.name))
    return found


def _kill_group(pid: int, start: str, tag: str) -> int:
    """SIGKILL what is left of the process group ``pid`` led; how many processes were alive."""
    leader = _stat(pid)
    if leader is not None and start in (leader.start, _UNKNOWN):
        # The leader (running, or a zombie) still holds its number: the group is ours.
        alive = (_members(pid, None) if _PROC.is_dir()
                 else [] if leader.zombie else [pid])
    else:
        try:
            os.killpg(pid, 0)
        except (ProcessLookupError, PermissionError):
            return 0  # no such group left (or one that is not ours): the usual case
        # The leader is gone but a group of that number is not. A live member carrying this
        # folder's name proves it ours: a number is not reused while a member of its group lives.
        alive = _members(pid, tag)
    if alive:
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
    return len(alive)


def _kill_recorded(folder: Path) -> int:
    """Kill what is left of every process group recorded in a runtime folder."""
    try:
        lines = (folder / PROCESSES_FILE).read_text().splitlines()
    except OSError:
        return 0
    killed = 0
    for line in lines:
        pid, _, start = line.partition(" ")
        if pid.isdigit() and start:
            killed += _kill_group(int(pid), start.strip(), folder.name)
    return killed


# -- runtime folders ---------------------------------------------------------------------------

_swept: set[Path] = set()
_sweep_lock = threading.Lock()


def _owner(name: str) -> tuple[int, str] | None:
    """``discover-4242-81234-1a2b3c4d`` -> (4242, "81234")."""
    parts = name.rsplit("-", 3)
    if len(parts) != 4 or not parts[1].isdigit():
        return None
    return int(parts[1]), parts[2]


@dataclass(frozen=True)
class Swept:
    """A runtime folder removed by :func:`sweep`."""

    name: str
    owner: int
    killed: int
    """How many of its plugin processes were still running (and were killed)."""

    @property
    def note(self) -> str:
        text = (f"removed runtime folder {self.name} left by stackform process {self.owner}, "
                "which is gone")
        if self.killed:
            text += f"; killed {self.killed} of its plugin processes still running"
        return text


def sweep(root: Path, log: Callable[[str], None] = lambda _m: None) -> list[Swept]:
    """Remove the runtime folders under ``root`` whose stackform process is gone, first killing
    the plugin processes still running from them; each is also logged."""
    with _sweep_lock:
        _swept.add(root)
        try:
            entries = sorted(os.listdir(root))
        except OSError:
            return []
        done = []
        for name in entries:
            owner = _owner(name)
            if owner is None or _alive(*owner):
                continue
            folder = root / name
            swept = Swept(name, owner[0], _kill_recorded(folder))
            shutil.rmtree(folder, ignore_errors=True)
            log(f"# {swept.note}")
            done.append(swept)
        return done


@contextmanager
def runtime_folder(root: Path, kind: str,
                   log: Callable[[str], None] = lambda _m: None) -> Iterator[Path]:
    """A private folder (0700) under ``root`` for files holding secrets, and for recording the
    processes started with it; removed afterwards, with anything still running from it.

    The first folder made under a ``root`` by this process sweeps ``root`` first."""
    if root not in _swept:
        sweep(root, log)
    if not root.is_dir():
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(root, 0o700)
    path = root / f"{kind}-{os.getpid()}-{_own_start()}-{secrets.token_hex(4)}"
    path.mkdir(mode=0o700)
    os.chmod(path, 0o700)
    try:
        yield path
    finally:
        try:
            _kill_recorded(path)
        finally:
            shutil.rmtree(path, ignore_errors=True)
