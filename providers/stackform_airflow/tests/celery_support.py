"""A real distributed Airflow 3 for tests: CeleryExecutor, Redis (127.0.0.1:6379, a database
of its own) as the broker, a PostgreSQL database created for the test (and dropped after) as
the metadata database, and a scheduler, a DAG processor, an API server (the workers' execution
API) and Celery workers as separate processes.

Every process is started in a process group of its own and stopped by that group's id
(SIGTERM, then SIGKILL), also when the test fails: nothing is left running. Each worker has
its own empty working folder and its own stackform cache (so its own bundle cache); what
workers share with the scheduler is Airflow's own: its configuration and the DAG folder.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackform.plugins.installs import ensure_venv
from stackform.plugins.spec import InstallSpec

CELERY_AIRFLOW = ("apache-airflow==3.3.2", "apache-airflow-providers-celery", "celery[redis]<5.7",
                  "psycopg2-binary", "asyncpg")
"""Installed once per session into the plugin cache, like the other Airflow tests' install.
Celery 5.7 removed what the Celery provider 3.26 imports (``celery.backends.database.retry``);
asyncpg is what Airflow's async metadata engine needs on PostgreSQL."""
REDIS_DB = 13
"""The broker's Redis database: this test's alone (flushed when it starts)."""
ADMIN = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "postgres"}


def airflow_bin(cache: Path) -> Path:
    return ensure_venv(InstallSpec(CELERY_AIRFLOW), cache=cache).bin_dir


def admin() -> Any:
    import psycopg

    return psycopg.connect(**ADMIN, autocommit=True, connect_timeout=10)


@contextmanager
def metadata_database() -> Iterator[str]:
    """A PostgreSQL database for Airflow's metadata, dropped afterwards."""
    name = f"sf_airflow_{uuid.uuid4().hex[:10]}"
    with admin() as con:
        con.execute(f'create database "{name}"')
    try:
        yield name
    finally:
        with admin() as con:
            con.execute(f'drop database if exists "{name}" with (force)')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    root: Path
    bin: Path
    database: str
    env: dict[str, str]
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def airflow(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.bin / "airflow"), *args], env=self.env,
                              cwd=self.root, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    def start(self, name: str, args: list[str], cwd: Path | None = None,
              extra: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        folder = cwd or self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        log = open(self.root / f"{name}.log", "ab")  # noqa: SIM115 - the process keeps it
        proc = subprocess.Popen([str(self.bin / "airflow"), *args], cwd=folder,
                                env={**self.env, **(extra or {})}, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        log.close()
        self.procs[name] = proc
        return proc

    def worker(self, name: str, cache: Path) -> subprocess.Popen[bytes]:
        """A Celery worker (one task at a time) in an empty folder of its own, with its own
        stackform cache. Its log server is off: two on one machine would share a port."""
        return self.start(name, ["celery", "worker", "--concurrency", "1", "--skip-serve-logs",
                                 "--celery-hostname", f"{name}@%h", "--without-mingle",
                                 "--without-gossip"],
                          cwd=self.root / "workers" / name,
                          extra={"STACKFORM_CACHE_DIR": str(cache), MARKER: self.marker(name)})

    def marker(self, name: str) -> str:
        return f"{self.root}/{name}"

    def kill_worker(self, name: str) -> None:
        """SIGKILL a worker as if its machine died: its process group, and the task it runs
        (Airflow starts a task's command in a session of its own), found by the marker every
        process the worker started inherits."""
        proc = self.procs[name]
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
        for pid in marked(f"{MARKER}={self.marker(name)}"):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def stop_all(self) -> None:
        for name in self.procs:
            if name.startswith("worker"):
                for pid in marked(f"{MARKER}={self.marker(name)}"):
                    with suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
        for proc in self.procs.values():
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.procs.values():
            with suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.1, deadline - time.monotonic()))
            # The group, not only its leader: Celery's pool children and task processes.
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)

    def alive(self) -> list[str]:
        """Names of the processes whose group still has a member, and the pids of any task
        process a worker started."""
        found: list[str] = [f"task process {pid}" for pid in marked(f"{MARKER}={self.root}/")]
        groups = live_groups()
        found += [name for name, proc in self.procs.items() if proc.pid in groups]
        return found

    def log(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text(errors="replace")

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(**{**ADMIN, "dbname": self.database}, autocommit=True,
                             connect_timeout=10) as con:
            return list(con.execute(sql, params).fetchall())


MARKER = "STACKFORM_TEST_WORKER"


def live_groups() -> set[int]:
    """The process groups with a member that is not a zombie (a zombie is already dead; its
    parent reaps it)."""
    groups = set()
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z":
            groups.add(int(fields[2]))
    return groups


def marked(entry: str) -> list[int]:
    """Pids of the processes whose environment has an entry starting with ``entry``."""
    found = []
    wanted = entry.encode()
    for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if any(item.startswith(wanted) for item in environ.split(b"\0")):
            found.append(pid)
    return found


def cluster_env(root: Path, database: str, dags: Path, api_port: int,
                base: dict[str, str]) -> dict[str, str]:
    pg = f"postgres@127.0.0.1:5432/{database}"
    return {
        **{k: v for k, v in base.items() if not k.startswith("AIRFLOW")},
        "AIRFLOW_HOME": str(root / "airflow-home"),
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://{pg}",
        "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql+psycopg2://{pg}",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(16),
        "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
    }


def flush_broker() -> None:
    subprocess.run(["redis-cli", "-h", "127.0.0.1", "-n", str(REDIS_DB), "flushdb"],
                   check=True, capture_output=True, timeout=30)


@contextmanager
def running_cluster(root: Path, cache: Path, dags: Path, base_env: dict[str, str]
                    ) -> Iterator[Cluster]:
    """Migrate a new metadata database, start scheduler, DAG processor and API server; the
    test starts its workers. Everything is stopped, and the database dropped, on the way
    out."""

    bin_dir = airflow_bin(cache)
    flush_broker()
    with metadata_database() as database:
        env = cluster_env(root, database, dags, free_port(), base_env)
        cluster = Cluster(root, bin_dir, database, env)
        migrated = cluster.airflow("db", "migrate", timeout=600)
        assert migrated.returncode == 0, migrated.stdout[-3000:] + migrated.stderr[-3000:]
        try:
            cluster.start("api-server", ["api-server"])
            cluster.start("scheduler", ["scheduler"])
            cluster.start("dag-processor", ["dag-processor"])
            yield cluster
        finally:
            cluster.stop_all()
            flush_broker()
            left = cluster.alive()
            assert left == [], f"outlived the test: {left}"
