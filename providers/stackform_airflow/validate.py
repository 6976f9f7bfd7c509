"""Validation of generated DAGs before anything is deployed.

With ``pip_url``, the Airflow it names is installed into stackform's shared venv cache (the
same :func:`stackform.plugins.kit.install` the Singer and dbt providers use) and every DAG is
imported by that Airflow's own Python, as its DAG processor would: a DagBag over a private
folder, with a private ``AIRFLOW_HOME`` and no inherited ``AIRFLOW_*`` settings, so the check
never touches a real Airflow installation or database. Importing Airflow costs about 4 s; the
DAGs themselves milliseconds each, so all of a block's DAGs are checked in one process, and a
set of files already checked with the same install is not checked again (a memo in the
environment's folder). Without ``pip_url`` the files are only compiled (a syntax check).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from stackform.plugins.kit import install, plugin_dir, run_command, runtime_dir, write_private
from stackform.provider import Context
from stackform.resource import Resource

CHECK_SCRIPT = Path(__file__).with_name("dagbag_check.py")
CHECK_TIMEOUT = 600.0
MEMO_ENTRIES = 16


@dataclass(frozen=True)
class Checked:
    """What a validation found: the tool that checked, and the problems by file name."""

    tool: str
    problems: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    cached: bool = False


def check_dags(ctx: Context, resource: Resource, files: Mapping[str, bytes]) -> Checked:
    """Import ``files`` (name -> bytes) with the block's Airflow, or compile them without one."""
    started = time.monotonic()
    if not resource.attributes.get("pip_url"):
        problems: dict[str, str] = {}
        for name, data in sorted(files.items()):
            try:
                compile(data, name, "exec", dont_inherit=True)
            except SyntaxError as exc:
                problems[name] = f"SyntaxError: {exc.msg} (line {exc.lineno})"
        return Checked("a Python syntax check (no pip_url: Airflow not installed)", problems,
                       time.monotonic() - started)
    if not files:
        return Checked("Airflow", {}, 0.0)
    venv = install(ctx, resource)
    key = _memo_key(venv.key, files)
    remembered = _memo(ctx, resource.address, key)
    if remembered is not None:
        ctx.log(f"{resource.address}: these {len(files)} DAG files were already imported "
                f"with {remembered}; not importing them again")
        return Checked(remembered, {}, time.monotonic() - started, cached=True)
    with runtime_dir(ctx, "airflow-check") as tmp:
        dags = tmp / "dags"
        dags.mkdir()
        for name, data in files.items():
            (dags / name).write_bytes(data)
        result = tmp / "result.json"
        env = _airflow_environ(venv.environ(), tmp / "home", dags)
        run_command([str(venv.python), str(CHECK_SCRIPT), str(dags), str(result)], env=env,
                    timeout=CHECK_TIMEOUT, cancel=ctx.cancel, cwd=tmp, runtime=tmp, log=ctx.log,
                    what=f"{resource.address}: importing the DAGs with Airflow")
        found = json.loads(result.read_text())
    tool = f"Airflow {found.get('airflow', '?')}"
    problems = {str(k): str(v) for k, v in (found.get("errors") or {}).items()}
    loaded = set((found.get("dags") or {}).values())
    for name in files:
        if name not in problems and name not in loaded:
            problems[name] = "Airflow found no DAG in it"
    seconds = time.monotonic() - started
    ctx.log(f"{resource.address}: imported {len(files)} DAG files with {tool} in "
            f"{seconds:.1f} s: {len(problems)} problem(s)")
    if not problems:
        _remember(ctx, resource.address, key, tool)
    return Checked(tool, problems, seconds)


def _airflow_environ(base: Mapping[str, str], home: Path, dags: Path) -> dict[str, str]:
    """The venv's environment without any inherited Airflow setting, on a private home."""
    env = {k: v for k, v in base.items() if not k.startswith("AIRFLOW")}
    home.mkdir(parents=True, exist_ok=True)
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGBAG_IMPORT_ERROR_TRACEBACKS": "False",
    })
    return env


def _memo_key(venv_key: str, files: Mapping[str, bytes]) -> str:
    doc = {"venv": venv_key,
           "files": {n: hashlib.sha256(d).hexdigest() for n, d in sorted(files.items())}}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def _memo_path(ctx: Context, address: str) -> Path:
    return plugin_dir(ctx, address) / "validated.json"


def _memo_entries(ctx: Context, address: str) -> list[dict[str, str]]:
    try:
        data = json.loads(_memo_path(ctx, address).read_text())
    except (OSError, ValueError):
        return []
    if not isinstance(data, list):
        return []
    return [e for e in data if isinstance(e, dict) and isinstance(e.get("key"), str)]


def _memo(ctx: Context, address: str, key: str) -> str | None:
    for entry in _memo_entries(ctx, address):
        if entry.get("key") == key:
            return str(entry.get("tool") or "Airflow")
    return None


def _remember(ctx: Context, address: str, key: str, tool: str) -> None:
    entries = [e for e in _memo_entries(ctx, address) if e.get("key") != key]
    entries.insert(0, {"key": key, "tool": tool})
    try:
        write_private(_memo_path(ctx, address), entries[:MEMO_ENTRIES])
    except OSError as exc:  # a memo is an optimisation: never fail a deploy over it
        ctx.log(f"{address}: cannot remember the DAG check ({os.strerror(exc.errno or 0)})")
