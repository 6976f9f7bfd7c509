"""Running dbt: its command line and environment for one environment, its output streamed line
by line, and what ``run_results.json`` says about the nodes it ran."""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackform.errors import StackformError
from stackform.plugins.kit import install, plugin_dir, plugin_environ
from stackform.provider import Context
from stackform.resource import Resource
from stackform_dbt.profile import project_dir, write_profile

TAKES_PATHS = frozenset({"build", "run", "test", "seed", "snapshot", "compile", "parse", "list",
                         "ls", "show", "docs", "source", "clone", "run-operation", "retry"})
"""Commands that accept ``--target-path`` and ``--vars`` (the others get the paths from
``DBT_*`` variables, which every command reads)."""
FAILED = frozenset({"error", "fail", "runtime error"})
OK = frozenset({"success", "pass"})


class DbtError(StackformError):
    """dbt failed to install, start, parse or run."""


@dataclass(frozen=True)
class Invocation:
    """How dbt runs for one transformer in one environment."""

    executable: Path
    env: dict[str, str]
    cwd: Path
    project_dir: Path
    profiles_dir: Path
    target_path: Path
    log_path: Path
    vars: Mapping[str, Any]

    def args(self, command: Sequence[str]) -> list[str]:
        args = [str(self.executable), *command]
        name = command[0] if command else ""
        args += ["--profiles-dir", str(self.profiles_dir), "--project-dir", str(self.project_dir),
                 "--log-path", str(self.log_path)]
        if name in TAKES_PATHS:
            args += ["--target-path", str(self.target_path)]
            if self.vars:
                args += ["--vars", json.dumps(dict(self.vars), sort_keys=True)]
        return args


def prepare(ctx: Context, resource: Resource) -> Invocation:
    """Install dbt (a cache hit after apply), write the profile, and build the environment."""
    vars_ = dict(resource.attributes.get("vars") or {})
    secret_vars = sorted(str(p[1]) for p in resource.sensitive if len(p) >= 2 and p[0] == "vars")
    if secret_vars or ("vars",) in resource.sensitive:
        raise DbtError(f"{resource.address}: vars {', '.join(secret_vars) or ''} hold a secret; "
                       "--vars is visible on dbt's command line",
                       hint="pass it through `env` and read it with env_var() in the project")
    venv = install(ctx, resource)
    executable = venv.bin_dir / "dbt"
    if not executable.exists():
        raise DbtError(f"{resource.address}: the install of {resource.attributes.get('pip_url')}"
                       " has no `dbt` command", hint="pip_url must name a dbt adapter, e.g. "
                       "'dbt-duckdb==1.11.1 dbt-core<1.12'")
    profiles, secrets = write_profile(ctx, resource)
    folder = plugin_dir(ctx, resource.address)
    project = project_dir(ctx, resource)
    env = plugin_environ(venv, resource)
    env.update(secrets)
    env.update({
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_USE_COLORS": "false",
        "DBT_PROFILES_DIR": str(profiles),
        "DBT_PROJECT_DIR": str(project),
        "DBT_TARGET_PATH": str(folder / "target"),
        "DBT_LOG_PATH": str(folder / "logs"),
    })
    return Invocation(executable, env, ctx.stack_dir, project, profiles, folder / "target",
                      folder / "logs", vars_)


def split_command(command: str | None) -> list[str]:
    """``"build --select staging+"`` -> ``["build", "--select", "staging+"]``; none -> build."""
    parts = shlex.split(command or "")
    return parts or ["build"]


def error_lines(lines: Sequence[str], n: int = 12) -> str:
    """dbt's own message from its output: the lines from the first error on, else the end."""
    kept = [line for line in lines if line.strip()]
    for i, line in enumerate(kept):
        if "Error" in line or "error" in line.split(" ", 2)[-1][:40]:
            return "\n".join(kept[i:i + n])
    return "\n".join(kept[-n:]) if kept else "(no output)"


@dataclass(frozen=True)
class Results:
    """What ``run_results.json`` says: counts, and the failing nodes with dbt's message."""

    counts: dict[str, int]
    failures: list[str]

    @classmethod
    def read(cls, path: Path, manifest_path: Path | None = None) -> Results | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None
        counts = {"success": 0, "error": 0, "skipped": 0, "warn": 0}
        failures: list[str] = []
        for result in data.get("results") or ():
            status = str(result.get("status") or "").lower()
            uid = str(result.get("unique_id") or "?")
            if status in OK:
                counts["success"] += 1
            elif status in FAILED:
                counts["error"] += 1
                kind, _, rest = uid.partition(".")
                name = rest.split(".")[1] if rest.count(".") >= 1 else rest
                message = " ".join(str(result.get("message") or status).split())
                failures.append(f"{kind} {name}: {message[:300]}")
            elif status == "warn":
                counts["warn"] += 1
            elif status == "skipped":
                counts["skipped"] += 1
        return cls(counts, failures)
