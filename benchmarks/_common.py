"""Helpers shared by the benchmark scripts: timing commands and printing comparisons."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


def stackform_command() -> list[str]:
    """The installed console script next to this interpreter, else ``python -m stackform``."""
    script = Path(sys.executable).parent / "stackform"
    if script.exists():
        return [str(script)]
    found = shutil.which("stackform")
    return [found] if found else [sys.executable, "-m", "stackform"]


def time_command(cmd: list[str], runs: int, cwd: Path | None = None,
                 expect: tuple[int, ...] = (0,),
                 extra_env: dict[str, str] | None = None) -> list[float]:
    """Wall-clock seconds of each run (output discarded); fails loudly on an unexpected exit."""
    # Measure as an installed tool runs: with bytecode caches (a dev shell may disable them).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["NO_COLOR"] = "1"
    env.update(extra_env or {})
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
        times.append(time.perf_counter() - start)
        if proc.returncode not in expect:
            raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return times


def median_ms(times: list[float]) -> float:
    return statistics.median(times) * 1000


@dataclass(frozen=True)
class Measured:
    """One run of a command: wall seconds, CPU seconds (user + system) and peak RSS in MiB."""

    wall: float
    cpu: float
    rss_mib: float


def measure_command(cmd: list[str], runs: int, cwd: Path | None = None,
                    expect: tuple[int, ...] = (0,),
                    extra_env: dict[str, str] | None = None) -> list[Measured]:
    """Like :func:`time_command`, with each run's CPU time and peak RSS (``wait4``)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["NO_COLOR"] = "1"
    env.update(extra_env or {})
    out = []
    for _ in range(runs):
        with tempfile.TemporaryFile() as err:
            start = time.perf_counter()
            proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=err)
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - start
            proc.returncode = os.waitstatus_to_exitcode(status)
            if proc.returncode not in expect:
                err.seek(0)
                raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: "
                                 f"{err.read()[-2000:].decode(errors='replace')}")
        out.append(Measured(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024))
    return out


def median_of(runs: list[Measured], what: str) -> float:
    return statistics.median(getattr(r, what) for r in runs)


def load_average() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def install_tool(venv: Path, requirement: str, executable: str) -> str:
    """``requirement`` in a new venv made with uv (as stackform installs plugins); the path of
    its ``executable``."""
    uv = Path(sys.executable).parent / "uv"
    uv_cmd = str(uv) if uv.exists() else "uv"
    subprocess.run([uv_cmd, "venv", "-q", "--python", "3.11", str(venv)], check=True)
    subprocess.run([uv_cmd, "pip", "install", "-q", "--python", str(venv / "bin" / "python"),
                    requirement], check=True)
    return str(venv / "bin" / executable)


def sample_record(i: int) -> dict[str, object]:
    """Record ``i`` of the 5-column stream the tap and loader benchmarks move."""
    return {"id": i, "name": f"user {i}", "amount": i * 1.5, "active": i % 2 == 0,
            "created_at": "2024-01-01T00:00:00Z"}
