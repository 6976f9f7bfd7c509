"""The ``transformers`` provider: apply installs dbt, writes the profile, runs ``dbt deps`` and
``dbt parse``; plan compares the project's files with those of the last apply (they are what
the stack wants, like the block: an edit is an update, see :meth:`TransformerProvider.unapplied`)
and names the nodes they change; pipelines run ``dbt:<command>`` steps."""

from __future__ import annotations

import collections
import hashlib
import json
import os
import shlex
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

from stackform.inspection import Invocation as Invoked
from stackform.inspection import Invokes
from stackform.plugins.kit import local_plugin_paths, plugin_dir, runtime_dir, write_private
from stackform.plugins.streaming import stream
from stackform.provider import (
    BaseProvider,
    ChecksUnapplied,
    Context,
    Exports,
    Outputs,
    RunContext,
    RunStep,
    StepRunner,
    Unapplied,
    WatchesPaths,
)
from stackform.provider_lineage import ProvidesLineage
from stackform.resource import Resource, ResourceState
from stackform.runs.model import StepOutcome
from stackform_dbt.changes import new_project_lines, plan_lines
from stackform_dbt.config import TransformerConfig
from stackform_dbt.parse_reuse import find_sibling, keep_compiled, memo_path, portable_key, reuse
from stackform_dbt.profile import default_schema, default_target, profile_name, project_dir
from stackform_dbt.project import (
    changed_paths,
    files_digest,
    project_files,
    project_paths,
    project_properties,
    properties_digest,
    read_project_file,
    summarise_manifest,
)
from stackform_dbt.run import (
    DbtError,
    Invocation,
    Results,
    error_lines,
    prepare,
    split_command,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from stackform.config.model import ResolvedStack
    from stackform.lineage.model import LineageFragment, LineageGraph
    from stackform.provider_schemas import QueryResult, WarehouseSchema

PARSE_TIMEOUT = 1800.0
MEMO_ENTRIES = 4
PACKAGE_FILES = ("packages.yml", "dependencies.yml")


class TransformerProvider(BaseProvider[TransformerConfig], ChecksUnapplied, StepRunner,
                          WatchesPaths, Exports, ProvidesLineage, Invokes):
    """``[transformers.NAME]``: a dbt project with its adapter and per-environment profile."""

    kind: ClassVar[str] = "transformers"
    Config: ClassVar[type[BaseModel]] = TransformerConfig
    force_new: ClassVar[frozenset[str]] = frozenset({"pip_url", "python"})
    exported_fields: ClassVar[frozenset[str]] = frozenset({"schema"})
    process_env_field: ClassVar[str] = "env"
    """dbt runs as a process: the stack's and the environment's ``env`` reach it."""

    # -- lifecycle ------------------------------------------------------------------------------

    def read(self, ctx: Context, prior: ResourceState) -> ResourceState | None:
        # Cheap on purpose: no dbt process, only the profile's presence. The project's files
        # are what the stack wants, not what is deployed: `unapplied` compares them.
        if not (plugin_dir(ctx, prior.address) / "profiles" / "profiles.yml").is_file():
            return None
        return prior

    def unapplied(self, ctx: Context, prior: ResourceState, desired: Resource
                  ) -> Unapplied | None:
        before = prior.outputs.get("files")
        if not isinstance(before, dict):
            return None
        project = project_dir(ctx, desired)
        paths = changed_paths(before, project_files(project))
        if not paths:
            return None
        return Unapplied("dbt project files", tuple(
            os.path.relpath(project / path, ctx.stack_dir) for path in paths))

    def create(self, ctx: Context, desired: Resource) -> Outputs:
        started = time.monotonic()
        inv = prepare(ctx, desired)
        project = inv.project_dir
        if not (project / "dbt_project.yml").is_file():
            raise DbtError(f"{desired.address}: no dbt project at {project} (no dbt_project.yml)",
                           hint="set project_dir to the folder of dbt_project.yml, relative to "
                           "the stack's folder")
        files = project_files(project)
        key = self._parse_key(ctx, desired, inv, files)
        summary = self._memo(ctx, desired.address, key)
        if summary is None:
            summary = self._parse(ctx, desired, inv, files, key)
        else:
            ctx.log(f"{desired.address}: project, profile and install unchanged since the last "
                    "parse in this environment; not parsing again")
        nodes = summary.get("nodes") or {}
        ctx.log(f"{desired.address}: {len(nodes)} nodes in {project.name} "
                f"({time.monotonic() - started:.1f} s)")
        target = desired.attributes.get("target") or default_target(ctx.env)
        return {
            "venv": str(inv.executable.parent.parent),
            "profiles_dir": str(inv.profiles_dir),
            "target_path": str(inv.target_path),
            "profile": profile_name(ctx, desired),
            "schema": target.get("schema") or default_schema(ctx.env),
            "project_digest": files_digest(files),
            "files": files,
            "properties": project_properties(project, files),
            "manifest": summary,
        }

    def delete(self, ctx: Context, prior: ResourceState) -> None:
        # The profile, dbt's target/ and logs of this environment; the venv is a shared cache
        # entry and the tables dbt built stay in the warehouse.
        shutil.rmtree(plugin_dir(ctx, prior.address), ignore_errors=True)

    # -- stackform test: the schemas it writes, and check queries (provider_schemas) ----------

    def owned_schemas(self, ctx: Context, resource: Resource) -> Sequence[WarehouseSchema]:
        from stackform_dbt.schemas import owned_schemas

        return owned_schemas(ctx, resource)

    def drop_schemas(self, ctx: Context, resource: Resource) -> list[str]:
        from stackform_dbt.schemas import drop_schemas

        return drop_schemas(ctx, resource)

    def run_query(self, ctx: Context, resource: Resource, sql: str) -> QueryResult:
        from stackform_dbt.schemas import run_query

        return run_query(ctx, resource, sql)

    # -- the plan -------------------------------------------------------------------------------

    def exports(self, stack: ResolvedStack, resource: Resource) -> dict[str, Any]:
        """The schema the models build into in this environment (BI follows it there)."""
        target = resource.attributes.get("target")
        schema = target.get("schema") if isinstance(target, Mapping) else None
        return {"schema": str(schema or default_schema(stack.env))}

    def watched_paths(self, stack: ResolvedStack, resource: Resource
                      ) -> list[tuple[str, str | Path]]:
        project = self.config_of(resource).project_dir
        found: list[tuple[str, str | Path]] = [("project_dir", project)] if project else []
        return [*found, *local_plugin_paths(resource, stack.dir)]


    def plan_notes(self, ctx: Context, prior: ResourceState | None,
                   desired: Resource | None) -> list[str]:
        if desired is None:
            return ["removes this environment's dbt profile and target folder; the tables dbt "
                    "built stay in the warehouse"]
        project = project_dir(ctx, desired)
        if not (project / "dbt_project.yml").is_file():
            return [f"warning: no dbt_project.yml in {project}"]
        paths = project_paths(read_project_file(project))
        now = project_files(project)
        summary = prior.outputs.get("manifest") if prior is not None else None
        if prior is None or not isinstance(summary, dict):
            target = desired.attributes.get("target") or default_target(ctx.env)
            where = target.get("path") or f"{target.get('host')}/{target.get('dbname')}"
            schema = target.get("schema") or default_schema(ctx.env)
            return [*new_project_lines(now, paths),
                    f"builds into schema {schema} ({target.get('type')} {where})"]
        before = prior.outputs.get("files") or {}
        recorded = prior.outputs.get("properties")
        return plan_lines(summary, before, now, paths,
                          recorded if isinstance(recorded, dict) else None,
                          lambda path: properties_digest(project / path))

    def lineage(self, ctx: Context, resource: Resource, outputs: Mapping[str, Any],
                upstream: LineageGraph) -> LineageFragment:
        """Sources, models and tests, column by column (docs/lineage.md)."""
        from stackform_dbt.lineage import dbt_lineage

        return dbt_lineage(ctx, resource, outputs, upstream, self._dbt)

    # -- pipeline steps ------------------------------------------------------------------------

    def run_steps(self, run: RunContext, steps: Sequence[RunStep]) -> tuple[int, StepOutcome]:
        step = steps[0]
        resource = step.resource
        command = split_command(step.step.command)
        name = f"{resource.name}:{shlex.join(command)}"
        started = time.monotonic()
        inv = prepare(run.ctx, resource)
        results_path = inv.target_path / "run_results.json"
        results_path.unlink(missing_ok=True)
        tail: collections.deque[str] = collections.deque(maxlen=400)

        def line(text: str) -> None:
            tail.append(text)
            run.log(f"[{resource.name}] {text}")

        run.log(f"# {name}: {shlex.join(inv.args(command))}")
        with runtime_dir(run.ctx, "dbt") as tmp:
            code = stream(inv.args(command), env=inv.env, cwd=inv.cwd, on_line=line,
                          cancel=run.ctx.cancel, what=name, runtime=tmp)
        seconds = round(time.monotonic() - started, 3)
        results = Results.read(results_path)
        counts = results.counts if results else {}
        details: dict[str, Any] = {**counts, "exit_code": code}
        error: str | None = None
        if code != 0:
            if results and results.failures:
                shown = "; ".join(results.failures[:5])
                more = len(results.failures) - 5
                error = (f"{name}: {len(results.failures)} failed: {shown}"
                         + (f" (and {more} more)" if more > 0 else ""))
                details["failed"] = results.failures
            else:
                error = f"{name} failed (exit {code}): {error_lines(list(tail))}"
        summary = (f"{counts.get('success', 0)} ok, {counts.get('error', 0)} failed, "
                   f"{counts.get('skipped', 0)} skipped" if results else
                   ("done" if code == 0 else "failed"))
        run.say(f"{name}: {summary} ({seconds:.1f} s)")
        return 1, StepOutcome(name=name, status="success" if code == 0 else "failed",
                              seconds=seconds, error=error, details=details)

    def invocation(self, ctx: Context, resource: Resource, prior: ResourceState | None,
                   args: Sequence[str], runtime: Path) -> Invoked:
        from stackform_dbt.invoke import dbt_invocation

        return dbt_invocation(ctx, resource, args)

    # -- helpers --------------------------------------------------------------------------------

    def _dbt(self, ctx: Context, desired: Resource, inv: Invocation, command: list[str],
             what: str) -> None:
        lines: list[str] = []
        with runtime_dir(ctx, "dbt") as tmp:
            code = stream(inv.args(command), env=inv.env, cwd=inv.cwd, on_line=lines.append,
                          cancel=ctx.cancel, timeout=PARSE_TIMEOUT,
                          what=f"{desired.address}: {what}", runtime=tmp)
        if code != 0:
            raise DbtError(f"{desired.address}: {what} failed (exit {code}):\n"
                           f"{error_lines(lines)}",
                           hint="dbt's own message is above; its full log is in "
                           f"{inv.log_path / 'dbt.log'}")

    def _parse(self, ctx: Context, desired: Resource, inv: Invocation,
               files: dict[str, str], key: str) -> dict[str, Any]:
        """dbt's parse of the project for this environment, or another environment's proved
        equal (:mod:`stackform_dbt.parse_reuse`); recorded for the next apply."""
        packages = any((inv.project_dir / f).is_file() for f in PACKAGE_FILES)
        portable = (None if packages and not (inv.project_dir / "dbt_packages").is_dir()
                    else portable_key(ctx, desired, inv, files, files_digest(files)))
        sibling = find_sibling(ctx, desired.address, portable) if portable else None
        compiled = None
        if sibling is not None:
            summary = reuse(ctx, desired, inv, sibling)
        else:
            summary = self._compile(ctx, desired, inv, packages)
            if portable:
                compiled = keep_compiled(ctx, desired.address, portable, inv.target_path)
        self._remember(ctx, desired.address, key, summary, portable, compiled)
        return summary

    def _compile(self, ctx: Context, desired: Resource, inv: Invocation,
                 packages: bool) -> dict[str, Any]:
        """``dbt compile``: the parse apply checks the project with, and the compiled SQL the
        lineage reads, in one dbt start-up. Compiling needs the warehouse; when that fails and
        a parse does not, the apply goes on (the lineage compiles again later)."""
        if packages:
            self._dbt(ctx, desired, inv, ["deps"], "dbt deps")
        try:
            self._dbt(ctx, desired, inv, ["compile"], "dbt compile")
        except DbtError as exc:
            self._dbt(ctx, desired, inv, ["parse"], "dbt parse")
            ctx.log(f"{desired.address}: the project parses but does not compile here; "
                    f"lineage will try again: {str(exc).splitlines()[0]}")
        manifest = json.loads((inv.target_path / "manifest.json").read_text())
        return summarise_manifest(manifest)

    def _parse_key(self, ctx: Context, desired: Resource, inv: Invocation,
                   files: dict[str, str]) -> str:
        """Everything a parse depends on, so an unchanged project is not parsed twice."""
        profile = (inv.profiles_dir / "profiles.yml").read_text()
        packages = (any((inv.project_dir / f).is_file() for f in PACKAGE_FILES)
                    and not (inv.project_dir / "dbt_packages").is_dir())
        doc = {"venv": inv.executable.parent.parent.name, "files": files_digest(files),
               "profile": profile, "attributes": desired.masked(ctx.fingerprint),
               "project": str(inv.project_dir), "packages_missing": packages}
        return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()

    def _memo(self, ctx: Context, address: str, key: str) -> dict[str, Any] | None:
        entries = self._memo_entries(ctx, address)
        manifest = plugin_dir(ctx, address) / "target" / "manifest.json"
        for entry in entries:
            if entry.get("key") == key and manifest.is_file():
                found = entry.get("summary")
                return found if isinstance(found, dict) else None
        return None

    def _memo_entries(self, ctx: Context, address: str) -> list[dict[str, Any]]:
        path = memo_path(ctx, address)
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return []
        return [e for e in data if isinstance(e, dict)] if isinstance(data, list) else []

    def _remember(self, ctx: Context, address: str, key: str, summary: dict[str, Any],
                  portable: str | None, compiled: str | None) -> None:
        entries = [e for e in self._memo_entries(ctx, address) if e.get("key") != key]
        entries.insert(0, {"key": key, "summary": summary, "portable": portable,
                           "compiled": compiled})
        kept = entries[:MEMO_ENTRIES]
        write_private(memo_path(ctx, address), kept)
        named = {e.get("compiled") for e in kept}
        for path in plugin_dir(ctx, address).glob("compiled-*.json"):
            if path.name not in named:
                path.unlink(missing_ok=True)
