"""A real Apache Superset for tests and benchmarks: gunicorn on 127.0.0.1, PostgreSQL behind it.

Superset is slow to initialise (``db upgrade``, ``fab create-admin``, ``init``: about 35 s), so
that is done once into a template database, ``sf_superset_template``, and every server is a
``CREATE DATABASE ... TEMPLATE`` copy of it (a fraction of a second) plus a gunicorn start. The
template carries a version marker (its database comment): when the pinned requirements or the
initialisation below change, a stale template is dropped and built again. A PostgreSQL advisory
lock keeps two test sessions from building or copying it at the same time.

Superset's own venv is built once with stackform's install code (uv) in a cache folder that
outlives the test session (``STACKFORM_TEST_CACHE``, default ``~/.cache/stackform-tests``), so a
warm start installs nothing. The default dependency set of ``apache-superset`` is broken (see
/work/shared/COMPONENTS.md): the set below is the tested one.

PostgreSQL is the machine's (127.0.0.1:5432, user ``postgres``, trust authentication), as the
other end-to-end tests use it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

from stackform.plugins.installs import Venv, ensure_venv
from stackform.plugins.spec import InstallSpec

SUPERSET_REQUIREMENTS = (
    "apache-superset[postgres]==6.1.0",
    "flask-caching<2.5",   # 2.5 breaks every superset command
    "rich",                # imported by superset, not declared
    "cachetools",          # imported, not declared ("Could not load database driver")
    "gunicorn",
)
TEMPLATE_DB = "sf_superset_template"
TEMPLATE_RECIPE = 1
"""Bumped when the initialisation below changes: the template is then built again."""
ADMIN_USER = "admin"
ADMIN_PASSWORD = "sf-admin-test-pw"
SECRET_KEY = "stackform-tests-superset-secret-key-not-for-production"
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
PG_URI = "postgresql+psycopg2://postgres@127.0.0.1:5432/{db}"
_LOCK_ID = 0x5F5E7  # the advisory lock of the template (any constant of ours)

_CONFIG = '''
SECRET_KEY = {secret!r}
SQLALCHEMY_DATABASE_URI = {uri!r}
TALISMAN_ENABLED = False
SQLALCHEMY_TRACK_MODIFICATIONS = False
'''


@dataclass(frozen=True)
class SupersetServer:
    url: str
    database: str
    pid: int
    folder: Path
    username: str = ADMIN_USER
    password: str = ADMIN_PASSWORD

    @property
    def log(self) -> str:
        return (self.folder / "gunicorn.log").read_text(errors="replace")


def test_cache_dir() -> Path:
    """A cache that outlives one test session (Superset's venv is 650 MB and 5-8 s to build)."""
    configured = os.environ.get("STACKFORM_TEST_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "stackform-tests"


def superset_venv() -> Venv:
    return ensure_venv(InstallSpec(SUPERSET_REQUIREMENTS), cache=test_cache_dir() / "superset")


def template_marker() -> str:
    """What the template is built from: the requirements and this module's recipe number."""
    digest = hashlib.sha256("\n".join((str(TEMPLATE_RECIPE), *SUPERSET_REQUIREMENTS)).encode())
    return f"stackform superset template {digest.hexdigest()[:16]}"


def _admin() -> psycopg.Connection:
    return psycopg.connect(PG_ADMIN, autocommit=True)


@contextlib.contextmanager
def _template_lock() -> Iterator[psycopg.Connection]:
    with _admin() as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
        try:
            yield conn
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))


def _comment(conn: psycopg.Connection, db: str) -> str | None:
    row = conn.execute(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
        (db,)).fetchone()
    return None if row is None else (row[0] or "")


def _drop(conn: psycopg.Connection, db: str) -> None:
    conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def _env(venv: Venv, config: Path) -> dict[str, str]:
    return {**os.environ, "SUPERSET_CONFIG_PATH": str(config), "FLASK_APP": "superset",
            "PATH": f"{venv.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "SUPERSET_LOAD_EXAMPLES": "no"}


def _write_config(folder: Path, db: str) -> Path:
    path = folder / "superset_config.py"
    path.write_text(_CONFIG.format(secret=SECRET_KEY, uri=PG_URI.format(db=db)))
    return path


def _run(venv: Venv, config: Path, *args: str) -> None:
    done = subprocess.run([str(venv.bin_dir / "superset"), *args], env=_env(venv, config),
                          capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"superset {args[0]} failed ({done.returncode}):\n"
                           f"{(done.stdout + done.stderr)[-3000:]}")


def ensure_template(venv: Venv) -> bool:
    """Build the template database unless a current one exists; True when it was built."""
    marker = template_marker()
    with _template_lock() as conn:
        if _comment(conn, TEMPLATE_DB) == marker:
            return False
        _drop(conn, TEMPLATE_DB)
        conn.execute(f'CREATE DATABASE "{TEMPLATE_DB}"')
        with tempfile.TemporaryDirectory(prefix="sf-superset-init-") as tmp:
            config = _write_config(Path(tmp), TEMPLATE_DB)
            _run(venv, config, "db", "upgrade")
            _run(venv, config, "fab", "create-admin", "--username", ADMIN_USER,
                 "--firstname", "Stack", "--lastname", "Form", "--email", "admin@example.com",
                 "--password", ADMIN_PASSWORD)
            _run(venv, config, "init")
        # The marker last: a template whose initialisation died has none and is built again.
        conn.execute(f"COMMENT ON DATABASE \"{TEMPLATE_DB}\" IS '{marker}'")
        return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_superset(venv: Venv | None = None, timeout: float = 180) -> SupersetServer:
    """A new Superset on a fresh copy of the template; stop it with :func:`stop_superset`."""
    venv = venv or superset_venv()
    ensure_template(venv)
    db = f"sf_superset_{secrets.token_hex(4)}"
    with _template_lock() as conn:
        conn.execute(f'CREATE DATABASE "{db}" TEMPLATE "{TEMPLATE_DB}"')
    folder = Path(tempfile.mkdtemp(prefix="sf-superset-"))
    config = _write_config(folder, db)
    port = _free_port()
    with open(folder / "gunicorn.log", "wb") as log:
        proc = subprocess.Popen(
            [str(venv.bin_dir / "gunicorn"), "-w", "1", "-k", "gthread", "--threads", "4",
             "--timeout", "120", "-b", f"127.0.0.1:{port}", "superset.app:create_app()"],
            env=_env(venv, config), stdout=log, stderr=subprocess.STDOUT, cwd=folder,
            start_new_session=True)
    server = SupersetServer(f"http://127.0.0.1:{port}", db, proc.pid, folder)
    try:
        _wait_ready(server, proc, timeout)
    except BaseException:
        stop_superset(server)
        raise
    return server


def _wait_ready(server: SupersetServer, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"superset exited ({proc.returncode}):\n{server.log[-3000:]}")
        with contextlib.suppress(OSError), \
                urllib.request.urlopen(f"{server.url}/health", timeout=5) as answer:
            if answer.status == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"superset did not answer within {timeout:.0f} s:\n"
                               f"{server.log[-3000:]}")
        time.sleep(0.5)


def stop_superset(server: SupersetServer) -> None:
    """SIGTERM to the server's process group, SIGKILL after 15 s; then drop its database."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and _alive(server.pid):
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(server.pid, 0)
    with _admin() as conn:
        _drop(conn, server.database)
    shutil.rmtree(server.folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return done == 0


@contextlib.contextmanager
def running_superset() -> Iterator[SupersetServer]:
    server = start_superset()
    try:
        yield server
    finally:
        stop_superset(server)


if __name__ == "__main__":  # time a start: python -m tests.superset_server
    started = time.monotonic()
    v = superset_venv()
    print(f"venv ready in {time.monotonic() - started:.1f} s")
    t = time.monotonic()
    built = ensure_template(v)
    print(f"template {'built' if built else 'reused'} in {time.monotonic() - t:.1f} s")
    t = time.monotonic()
    s = start_superset(v)
    print(f"server {s.url} ready in {time.monotonic() - t:.1f} s")
    t = time.monotonic()
    stop_superset(s)
    print(f"stopped in {time.monotonic() - t:.1f} s")
