"""Helpers for the real end-to-end tests: the installed ``stackform`` in a subprocess, the
quickstart copied into a test's folder, JSONL data, process trees, and database queries.

Nothing here fakes anything: plugins are installed from the package index (into a cache shared
by the test session), and the databases are the servers ``scripts/ci-services`` prepares.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit

from tests.cli_helpers import STACKFORM, Result, make_env, runs_dir

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "examples" / "quickstart"
POSTGRES_EXAMPLE = ROOT / "examples" / "postgres"

# The accounts scripts/ci-services creates (same variables, same defaults).
MYSQL_PASSWORD = os.environ.get("STACKFORM_TEST_MYSQL_PASSWORD", "stackform-src-pw")
POSTGRES_PASSWORD = os.environ.get("STACKFORM_TEST_POSTGRES_PASSWORD", "stackform-dw-pw")
MYSQL: dict[str, Any] = {"host": "127.0.0.1", "port": 3306, "user": "stackform",
                         "password": MYSQL_PASSWORD, "database": "stackform_src"}
POSTGRES: dict[str, Any] = {"host": "127.0.0.1", "port": 5432, "user": "stackform",
                            "password": POSTGRES_PASSWORD, "dbname": "stackform_dw"}

INSTALL_TIMEOUT = 900.0  # apply on a cold cache installs plugins from the index
RUN_TIMEOUT = 300.0


@dataclass
class Stackform:
    """The real ``stackform`` console script, run in one stack folder.

    ``tmpdir`` is the process's ``TMPDIR`` (private to the test), so the test can check that
    no runtime folder holding secrets or config outlives a run. ``exe`` is the console script:
    by default the one of this checkout's venv.
    """

    cwd: Path
    env: dict[str, str]
    tmpdir: Path
    exe: str = STACKFORM

    def __call__(self, *args: str, timeout: float = RUN_TIMEOUT,
                 env: Mapping[str, str] | None = None) -> Result:
        started = time.monotonic()
        try:
            proc = subprocess.run([self.exe, *args], cwd=self.cwd,
                                  env={**self.env, **(env or {})}, stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            out, err = (s.decode() if isinstance(s, bytes) else s for s in (exc.stdout, exc.stderr))
            raise AssertionError(f"stackform {' '.join(args)} did not finish in {timeout}s:\n"
                                 f"{out}\n{err}") from None
        return Result(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)

    def ok(self, *args: str, timeout: float = RUN_TIMEOUT) -> Result:
        """Run and require exit code 0."""
        result = self(*args, timeout=timeout)
        assert result.code == 0, result
        return result

    def apply(self, *args: str) -> Result:
        return self.ok("apply", "--auto-approve", *args, timeout=INSTALL_TIMEOUT)

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([self.exe, *args], cwd=self.cwd, env=self.env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def runs(self, pipeline: str | None = None) -> list[dict[str, Any]]:
        """``stackform runs --format json``: newest first."""
        result = self.ok("runs", *([pipeline] if pipeline else []), "--format", "json")
        runs = json.loads(result.stdout)
        assert isinstance(runs, list), result
        return runs

    def last_run(self, pipeline: str | None = None) -> dict[str, Any]:
        runs = self.runs(pipeline)
        assert runs, "no run recorded"
        return runs[0]

    def leftover_runtime_dirs(self) -> list[str]:
        """stackform's private runtime folders (secrets, full config) still on disk: in the
        environments' folders, or (as older versions made them) in the temp folder."""
        return sorted([p.name for p in runtime_dirs(self.cwd)]
                      + [p.name for p in self.tmpdir.glob("stackform-*")])

    def bookmark_file(self, pipeline: str, extractor: str, env: str = "dev") -> Path:
        return runs_dir(self.cwd) / env / "bookmarks" / f"{pipeline}.{extractor}.json"


def runtime_dirs(stack_dir: Path) -> list[Path]:
    """The runtime folders under a stack's ``.stackform`` (whatever the environments' layout)."""
    return sorted(p for root in (stack_dir / ".stackform").rglob(".runtime") for p in
                  root.iterdir())


def state_traces(stack_dir: Path, env: str) -> list[str]:
    """Whatever the local state folder still holds of ``env``: its document, backup, kept
    versions, lock or temp files (a destroyed throwaway environment leaves none)."""
    state = stack_dir / ".stackform" / "state"
    if not state.exists():
        return []
    return [p.relative_to(state).as_posix() for p in state.rglob("*")
            if env in p.relative_to(state).parts or p.name.startswith((f"{env}.", f".{env}."))]


def stackform_in(stack_dir: Path, home: Path, cache_dir: Path,
                 extra_env: Mapping[str, str] | None = None, exe: str = STACKFORM) -> Stackform:
    tmpdir = home / "tmp"
    tmpdir.mkdir(parents=True, exist_ok=True)
    env = make_env(home, {"STACKFORM_CACHE_DIR": str(cache_dir), "TMPDIR": str(tmpdir),
                          **(extra_env or {})})
    return Stackform(stack_dir, env, tmpdir, exe)


def step(run: Mapping[str, Any]) -> dict[str, Any]:
    """The one extract-load step of a run record."""
    steps = run["steps"]
    assert len(steps) == 1, run
    return steps[0]


# -- stacks -----------------------------------------------------------------------------------


def copy_quickstart(dest: Path, *, batch_size_rows: int | None = None,
                    extractor_config: Mapping[str, Any] | None = None,
                    dbt: bool = False) -> Path:
    """examples/quickstart without its data and local state, its tap and loader named as it
    names them (``stackform:tap-jsonl``: the copies this checkout ships); returns the stack
    folder (its ``data/`` is empty).

    Without ``dbt`` the ``[transformers.dbt]`` block and the pipeline's ``dbt:`` steps are
    removed (the Singer-only tests need no dbt start-up); with it they stay as written, the
    adapter installing from the package index into the session's plugin cache."""
    shutil.copytree(QUICKSTART, dest, ignore=shutil.ignore_patterns(
        ".stackform", "out", "warehouse", "data", "*.sfplan", "target", "logs",
        "dbt_packages"))
    (dest / "data").mkdir()
    path = dest / "stack.toml"
    doc = tomlkit.parse(path.read_text())
    if not dbt:
        _without_dbt(doc, dest)
    loader = doc["loaders"]["warehouse"]
    if batch_size_rows is not None:
        loader["config"]["batch_size_rows"] = batch_size_rows
    if extractor_config:
        config = doc["extractors"]["orders"]["config"]
        for key, value in extractor_config.items():
            config[key] = value
    path.write_text(tomlkit.dumps(doc))
    return dest


def _without_dbt(doc: Any, dest: Path) -> None:
    """Remove ``[transformers]`` and every pipeline's ``dbt:`` steps (and the dbt project)."""
    doc.pop("transformers", None)
    for pipeline in doc["pipelines"].values():
        pipeline["steps"] = [s for s in pipeline["steps"] if str(s).split(":", 1)[0] != "dbt"]
    shutil.rmtree(dest / "transform", ignore_errors=True)


def copy_postgres_example(dest: Path, *, dbt: bool = False, **vars: str) -> Path:
    """examples/postgres with some ``[vars]`` replaced; returns the stack folder. Without
    ``dbt`` its dbt block and step are removed (see :func:`copy_quickstart`)."""
    shutil.copytree(POSTGRES_EXAMPLE, dest, ignore=shutil.ignore_patterns(
        ".stackform", "*.sfplan", "target", "logs", "dbt_packages"))
    path = dest / "stack.toml"
    doc = tomlkit.parse(path.read_text())
    if not dbt:
        _without_dbt(doc, dest)
    for key, value in vars.items():
        assert key in doc["vars"], key
        doc["vars"][key] = value
    path.write_text(tomlkit.dumps(doc))
    return dest


def order(i: int) -> dict[str, Any]:
    return {"id": i, "customer": f"customer-{i % 97}", "amount": round(i * 1.25 % 500, 2),
            "status": ("placed", "shipped", "delivered")[i % 3],
            "ordered_at": f"2026-11-{1 + i % 28:02d}T{i % 24:02d}:00:00Z",
            "internal_note": "never exported"}


def write_orders(path: Path, ids: Iterable[int], mtime: float | None = None,
                 append: bool = False) -> int:
    """Write (or with ``append``, extend) a JSONL file of orders; optionally set its time."""
    n = 0
    with path.open("a" if append else "w") as f:
        for i in ids:
            f.write(json.dumps(order(i)) + "\n")
            n += 1
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return n


# -- databases ----------------------------------------------------------------------------------


def duckdb_rows(path: Path, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def duckdb_columns(path: Path, schema: str, table: str) -> list[str]:
    return [r[0] for r in duckdb_rows(
        path, "select column_name from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position", [schema, table])]


def postgres() -> Any:
    import psycopg

    return psycopg.connect(**POSTGRES, autocommit=True, connect_timeout=10)


def mysql() -> Any:
    import pymysql

    return pymysql.connect(**MYSQL, autocommit=True, connect_timeout=10)


@contextmanager
def source_and_schema(prefix: str, columns: str) -> Iterator[tuple[str, str]]:
    """A fresh MariaDB table ``<prefix>_<random>`` of ``columns`` and the name of a PostgreSQL
    schema to load it into; both dropped afterwards."""
    suffix = uuid.uuid4().hex[:10]
    table, schema = f"{prefix}_{suffix}", f"e2e_{prefix}_{suffix}"
    with mysql() as con, con.cursor() as cur:
        cur.execute(f"create table `{table}` ({columns})")
    try:
        yield table, schema
    finally:
        with mysql() as con, con.cursor() as cur:
            cur.execute(f"drop table if exists `{table}`")
        with postgres() as con:
            con.execute(f'drop schema if exists "{schema}" cascade')


def pg_rows(sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    with postgres() as con:
        return con.execute(sql, list(params)).fetchall()


# -- processes ----------------------------------------------------------------------------------


def _ppid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm (field 2) may hold spaces and parentheses: split after its closing parenthesis.
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[1]) if fields[0] != "Z" else None


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            "utf-8", "replace")
    except OSError:
        return ""


def alive(pid: int) -> bool:
    """Running: any of its threads is not yet dead. A zombie waiting to be reaped counts as
    gone, but a leader thread that is a zombie while other threads of the process are still
    being torn down does not: they hold the process's files (a database's lock) until the last
    one exits."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return False
    for task in tasks:
        try:
            stat = Path(f"/proc/{pid}/task/{task}/stat").read_text()
        except OSError:
            continue
        if stat[stat.rindex(")") + 2:].split()[0] not in ("Z", "X"):
            return True
    return False


def descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            ppid = _ppid(int(entry.name))
            if ppid is not None:
                parents[int(entry.name)] = ppid
    found: list[int] = []
    frontier = {root}
    while frontier:
        children = {pid for pid, ppid in parents.items() if ppid in frontier}
        found.extend(sorted(children))
        frontier = children
    return found


def find_descendant(root: int, needle: str) -> int | None:
    for pid in descendants(root):
        if needle in cmdline(pid) and alive(pid):
            return pid
    return None


def wait_until(predicate: Callable[[], Any], timeout: float, what: str,
               proc: subprocess.Popen[str] | None = None, interval: float = 0.005) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"stackform exited ({proc.returncode}) before {what}:\n"
                                 f"{out}\n{err}")
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
