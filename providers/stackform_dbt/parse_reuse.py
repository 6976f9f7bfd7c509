"""A new environment's ``dbt parse``, proved equal to another environment's and not run again.

dbt's parse of a project depends on the environment only through the profile: the target's
name, schema and credentials, and whatever the project's Jinja reads of them. When another
environment of the stack recorded a parse of the same install, the same files, the same block
settings but for its target, and the same adapter type, and no file of the project or of its
installed packages reads ``target`` (beyond ``target.type``) or calls ``env_var``, the two parses
differ only in schema and database names, which the recorded summary does not hold: that
summary is reused.

What dbt's parse also checks of the environment is still checked: that the profile is valid
for the adapter. dbt's own credentials contract does it, in dbt's venv, without dbt's parse
(about 1 s against about 5 s): the checker reads the profile as written for dbt and its secrets
from its environment, as dbt does, so no secret is on disk or on a command line. An invalid
profile fails the apply as the parse would have.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackform.plugins.kit import plugin_dir, write_private
from stackform.provider import Context
from stackform.redact import Redactor
from stackform.resource import Resource
from stackform.supervise import popen
from stackform_dbt.profile import ENV_PREFIX, default_target, render_target
from stackform_dbt.relocate import relocate, target_names
from stackform_dbt.run import DbtError, Invocation

CHECK_TIMEOUT = 120.0
MEMO_FILE = "parsed.json"
# Jinja reading the environment: any use of `target` but its adapter type, and env_var().
JINJA = re.compile(r"\{[{%].*?[%}]\}", re.DOTALL)
READS_ENV = re.compile(r"\btarget\b(?!\s*\.\s*type\b)|\benv_var\s*\(")
SCANNED = (".sql", ".yml", ".yaml", ".jinja", ".j2")

# Runs in dbt's venv: the adapter's credentials contract, as dbt's profile loading applies it.
CHECKER = r"""
import json, os, re, sys
SECRET = re.compile(r"^\{\{ env_var\('([A-Z0-9_]+)'\)( \| as_(number|bool))? \}\}$")

def render(value):
    if isinstance(value, dict):
        return {k: render(v) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v) for v in value]
    found = SECRET.match(value) if isinstance(value, str) else None
    if found is None:
        return value
    raw = os.environ.get(found.group(1), "")
    if found.group(3) == "number":
        return json.loads(raw)
    return raw.lower() == "true" if found.group(3) == "bool" else raw

try:
    data = render(json.load(sys.stdin))
    threads = data.pop("threads", 1)
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise ValueError(f"threads must be a positive integer, not {threads!r}")
    from dbt.adapters.factory import load_plugin
    cls = load_plugin(str(data.get("type")))
    data = cls.translate_aliases(data)
    cls.validate(data)
    credentials = cls.from_dict(data)
except BaseException as exc:
    where = ".".join(str(p) for p in getattr(exc, "path", None) or ())
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    print(f"{first} (at target.{where})" if where else " ".join(first.split()))
    sys.exit(1)
print(json.dumps({"database": credentials.database, "schema": credentials.schema}))
"""


def portable_key(ctx: Context, desired: Resource, inv: Invocation,
                 files: Mapping[str, str], files_digest: str) -> str | None:
    """What a parse depends on but the environment; ``None`` when the project's Jinja reads the
    environment, or its packages are still to be installed (``dbt deps`` must run)."""
    if reads_environment(inv.project_dir, files) is not None:
        return None
    attributes = {k: v for k, v in desired.masked(ctx.fingerprint).items() if k != "target"}
    target = desired.attributes.get("target") or default_target(ctx.env)
    doc = {"venv": inv.executable.parent.parent.name, "files": files_digest,
           "attributes": attributes, "adapter": target.get("type"),
           "project": str(inv.project_dir)}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


def reads_environment(project: Path, files: Mapping[str, str]) -> str | None:
    """The first file of the project (or of its installed packages) whose Jinja reads the
    target or the process environment, relative to the project; ``None`` when none does."""
    paths = [project / name for name in sorted(files)]
    packages = project / "dbt_packages"
    if packages.is_dir():
        paths += sorted(p for p in packages.rglob("*") if p.suffix in SCANNED and p.is_file())
    for path in paths:
        if path.suffix not in SCANNED:
            continue
        try:
            text = path.read_text(errors="replace")
        except OSError:
            return str(path.relative_to(project))
        if any(READS_ENV.search(block) for block in JINJA.findall(text)):
            return str(path.relative_to(project))
    return None


@dataclass(frozen=True)
class Sibling:
    """Another environment's recorded parse with the same portable key."""

    env: str
    summary: dict[str, Any]
    compiled: Path | None  # its compiled manifest, kept at its apply


def find_sibling(ctx: Context, address: str, key: str) -> Sibling | None:
    """Another environment of this stack whose recorded parse has this portable key."""
    own = ctx.work_dir.resolve()
    kind, _, name = address.partition(".")
    try:
        siblings = sorted(p for p in own.parent.iterdir() if p.is_dir() and p != own)
    except OSError:
        return None
    for env_dir in siblings:
        folder = env_dir / kind / name
        try:
            entries = json.loads((folder / MEMO_FILE).read_text())
        except (OSError, json.JSONDecodeError):
            continue
        for entry in entries if isinstance(entries, list) else ():
            summary = entry.get("summary") if isinstance(entry, dict) else None
            if entry.get("portable") == key and isinstance(summary, dict):
                compiled = entry.get("compiled")
                kept = folder / compiled if isinstance(compiled, str) and "/" not in compiled \
                    else None
                return Sibling(env_dir.name, summary, kept)
    return None


def keep_compiled(ctx: Context, address: str, key: str, target_path: Path) -> str | None:
    """A copy of this environment's compiled manifest for the next new environment; its file
    name, or ``None`` when dbt left no compiled one."""
    name = f"compiled-{key[:16]}.json"
    try:
        shutil.copyfile(target_path / "manifest.json", plugin_dir(ctx, address) / name)
    except OSError:
        return None
    return name


def reuse(ctx: Context, desired: Resource, inv: Invocation, sibling: Sibling) -> dict[str, Any]:
    """This environment's parse from ``sibling``'s: the profile checked by dbt's adapter, and
    the compiled manifest moved to this target's names for lineage when that is exact."""
    names = check_profile(ctx, desired, inv)
    moved = None
    if names is not None and sibling.compiled is not None:
        try:
            manifest = json.loads(sibling.compiled.read_text())
        except (OSError, json.JSONDecodeError):
            manifest = None
        old = target_names(manifest) if isinstance(manifest, dict) else None
        moved = relocate(manifest, old, names) if manifest and old else None
    if moved is not None:
        write_private(inv.target_path / "manifest.json", moved, sync="deferred")
    ctx.log(f"{desired.address}: same install, files and settings as environment "
            f"{sibling.env}'s parse, and no Jinja reading the target: its parse reused"
            + (" with its compiled SQL moved to this target's names" if moved else "")
            + "; this environment's profile checked by dbt's adapter")
    return sibling.summary


def check_profile(ctx: Context, desired: Resource, inv: Invocation) -> tuple[str, str] | None:
    """dbt's credentials contract over this environment's target; raise DbtError as a failed
    parse would. Returns the target's database and schema as the adapter resolves them."""
    target, _ = render_target(ctx, desired)
    python = inv.executable.parent / "python"
    redact = Redactor(v for k, v in inv.env.items() if k.startswith(ENV_PREFIX))
    try:
        proc = popen([str(python), "-c", CHECKER], env=inv.env, cwd=inv.cwd, text=True,
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    except OSError as exc:
        raise _cannot_check(desired, exc) from exc
    try:
        out, _ = proc.communicate(json.dumps(target), timeout=CHECK_TIMEOUT)
    except BaseException as exc:  # a timeout or Ctrl-C: the checker must not outlive us
        proc.kill()
        proc.wait()
        if not isinstance(exc, subprocess.TimeoutExpired):
            raise
        raise _cannot_check(desired, exc) from exc
    if proc.returncode != 0:
        reason = redact(out.strip().splitlines()[-1] if out.strip() else "no output")
        raise DbtError(f"{desired.address}: the profile of environment {ctx.env} is invalid "
                       f"for dbt: {reason}",
                       hint="fix the block's `target` (see `stackform docs transformers`)")
    try:
        names = json.loads(out.strip().splitlines()[-1])
        return str(names["database"]), str(names["schema"])
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def _cannot_check(desired: Resource, exc: BaseException) -> DbtError:
    return DbtError(f"{desired.address}: cannot check the profile with dbt's adapter: {exc}",
                    hint="dbt's install may be broken: `stackform apply` again reinstalls it "
                    "when its venv is gone")


def memo_path(ctx: Context, address: str) -> Path:
    """The environment's record of its last parses, each with its portable key."""
    return plugin_dir(ctx, address) / MEMO_FILE
