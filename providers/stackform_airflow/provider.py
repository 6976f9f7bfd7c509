"""The ``orchestrators`` provider: one Airflow DAG file per scheduled pipeline.

Resolving the stack computes the ``dags`` attribute (id -> pipeline, schedule, command and the
digest of the file), so the plan shows which DAG files are added, rewritten or removed. Apply
renders the files, validates them (:mod:`.validate`) and only then writes and deletes through
the DAG store (:mod:`.store`); refresh reads the deployed files back and reports a hand edit
or a deleted file as drift.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

from stackform.bundles.publish import bundle_of
from stackform.bundles.store import location_args
from stackform.diagnostics import Diagnostic
from stackform.plugins.kit import local_plugin_paths
from stackform.provider import (
    BaseProvider,
    ComputesAttributes,
    Context,
    DeepValidator,
    DependsOnPipelines,
    Outputs,
    WatchesPaths,
)
from stackform.resource import Resource, ResourceState, format_path
from stackform_airflow.config import AirflowConfig
from stackform_airflow.dags import (
    DagError,
    desired_dags,
    digest,
    file_name,
    file_prefix,
    owner_of,
    render_entry,
)
from stackform_airflow.pools import desired_pools, pool_notes, pool_of_pipeline
from stackform_airflow.store import DagStore, store_for
from stackform_airflow.validate import check_dags

if TYPE_CHECKING:
    from stackform.config.model import ResolvedStack

MAY_BE_SECRET = frozenset({"pip_url", "python"})
"""Fields that never reach a DAG file or the store's address: a private index token is fine."""
SHOWN_PROBLEMS = 5


class AirflowProvider(BaseProvider[AirflowConfig], ComputesAttributes, DependsOnPipelines,
                      DeepValidator, WatchesPaths):
    """``[orchestrators.NAME]``: Airflow DAGs running ``stackform run`` on the workers."""

    kind: ClassVar[str] = "orchestrators"
    Config: ClassVar[type[BaseModel]] = AirflowConfig
    force_new: ClassVar[frozenset[str]] = frozenset({"dags_path", "endpoint_url"})
    computed_fields: ClassVar[frozenset[str]] = frozenset({"dags", "airflow_pools"})

    # -- the desired DAGs -----------------------------------------------------------------------

    def computed_attributes(self, stack: ResolvedStack, resource: Resource) -> Mapping[str, Any]:
        config = self.config_of(resource)
        refuse_secrets(resource)
        schedules = {p.name: p.schedule for p in stack.pipelines.values() if p.schedule}
        bundle = None
        if config.workdir is None and schedules:
            bundle = (location_args(stack.state, stack.dir), bundle_of(stack).digest)
        pools = desired_pools(stack.name, stack.env, config, schedules, stack.pipelines)
        pooled = {p: pool for p in schedules
                  if (pool := pool_of_pipeline(stack.name, stack.env, config, p)) is not None}
        return {"dags": desired_dags(stack.name, stack.env, stack.dir, stack.file.name, config,
                                     schedules, bundle, pooled),
                # Only with pools: a stack without them plans no change on upgrade.
                **({"airflow_pools": pools} if pools else {})}

    def pipeline_dependencies(self, stack: ResolvedStack, resource: Resource) -> list[str]:
        # A DAG runs its pipeline's steps: they are applied before the DAG is deployed.
        return [p.name for p in stack.pipelines.values() if p.schedule]

    def watched_paths(self, stack: ResolvedStack, resource: Resource
                      ) -> list[tuple[str, Path]]:
        return local_plugin_paths(resource, stack.dir)

    def _files(self, ctx: Context, desired: Resource) -> dict[str, bytes]:
        config = self.config_of(desired)
        refuse_secrets(desired)
        dags = desired.attributes.get("dags")
        if not isinstance(dags, Mapping):
            raise DagError(f"{desired.address}: the DAGs were not computed",
                           hint="resolve the stack through stackform (a bug if you did)")
        return {file_name(dag): render_entry(ctx.stack_name, ctx.env, config, dag, entry)
                for dag, entry in sorted(dags.items())}

    # -- lifecycle ------------------------------------------------------------------------------

    def read(self, ctx: Context, prior: ResourceState) -> ResourceState | None:
        store = _store(ctx, prior.attributes)
        recorded: Mapping[str, Any] = prior.attributes.get("dags") or {}
        found: dict[str, Any] = {}
        for dag, entry in recorded.items():
            data = store.read(file_name(dag))
            if data is not None:
                found[dag] = {**entry, "sha256": digest(data)}
        for name, data in self._owned(ctx, store).items():
            dag = name.removesuffix(".py")
            if dag not in recorded:  # left by an apply that died before recording it
                owner = owner_of(data)
                found[dag] = {"pipeline": owner.pipeline if owner else "?",
                              "sha256": digest(data)}
        if (recorded and not found) or (not recorded and not store.exists()):
            return None
        if found == dict(recorded):
            return prior
        return replace(prior, attributes={**prior.attributes, "dags": found})

    def create(self, ctx: Context, desired: Resource) -> Outputs:
        return self._deploy(ctx, desired, None)

    def update(self, ctx: Context, prior: ResourceState, desired: Resource) -> Outputs:
        return self._deploy(ctx, desired, prior)

    def delete(self, ctx: Context, prior: ResourceState) -> None:
        store = _store(ctx, prior.attributes)
        names = {file_name(dag) for dag in prior.attributes.get("dags") or {}}
        for name in sorted(names | set(self._owned(ctx, store))):
            self._remove(ctx, store, name)

    def _deploy(self, ctx: Context, desired: Resource, prior: ResourceState | None) -> Outputs:
        store = _store(ctx, desired.attributes)
        files = self._files(ctx, desired)
        checked = check_dags(ctx, desired, files)
        if checked.problems:
            raise import_error(desired.address, checked.tool, checked.problems, store.location)
        store.ensure()
        current = {name: store.read(name) for name in files}
        for name, data in current.items():
            owner = owner_of(data) if data is not None else None
            if owner is not None and (owner.stack, owner.env) != (ctx.stack_name, ctx.env):
                raise DagError(
                    f"{desired.address}: {store.location}/{name} belongs to stack "
                    f"{owner.stack}, environment {owner.env}; not overwriting it",
                    hint="two stacks or environments map to one DAG id: rename a pipeline, or "
                    "give each its own dags_path")
        for name, data in files.items():
            if current[name] != data:
                store.write(name, data)
                ctx.log(f"{desired.address}: wrote {store.location}/{name}")
        recorded = prior.attributes.get("dags") if prior is not None else None
        stale = {file_name(dag) for dag in recorded or {}} | set(self._owned(ctx, store))
        for name in sorted(stale - set(files)):
            self._remove(ctx, store, name)
        return {"location": store.location, "files": sorted(files),
                "validated_with": checked.tool,
                "pools": sorted(desired.attributes.get("airflow_pools") or {})}

    def _owned(self, ctx: Context, store: DagStore) -> dict[str, bytes]:
        """The files of this stack and environment found in the store, by their header."""
        owned: dict[str, bytes] = {}
        for name in store.list(file_prefix(ctx.stack_name, ctx.env)):
            data = store.read(name)
            owner = owner_of(data) if data is not None else None
            if data is not None and owner is not None and (owner.stack, owner.env) == (
                    ctx.stack_name, ctx.env):
                owned[name] = data
        return owned

    def _remove(self, ctx: Context, store: DagStore, name: str) -> None:
        data = store.read(name)
        if data is None:
            return
        owner = owner_of(data)
        if owner is not None and (owner.stack, owner.env) != (ctx.stack_name, ctx.env):
            ctx.log(f"not deleting {store.location}/{name}: it belongs to {owner.stack}/"
                    f"{owner.env}")
            return
        store.delete(name)
        ctx.log(f"deleted {store.location}/{name}")

    # -- the plan and deep validation -----------------------------------------------------------

    def plan_notes(self, ctx: Context, prior: ResourceState | None,
                   desired: Resource | None) -> list[str]:
        before: Mapping[str, Any] = (prior.attributes.get("dags") or {}) if prior else {}
        pools = pool_notes((prior.attributes.get("airflow_pools") or {}) if prior else {},
                           desired.attributes.get("airflow_pools") if desired else None)
        if desired is None:
            where = prior.attributes.get("dags_path") if prior else "?"
            return [f"deletes the DAG file of {dag} from {where}" for dag in sorted(before)
                    ] + pools
        after: Mapping[str, Any] = desired.attributes.get("dags") or {}
        notes = []
        for dag in sorted({*before, *after}):
            if dag not in before:
                entry = after[dag]
                notes.append(f"deploys DAG {dag} (pipeline {entry['pipeline']}, schedule "
                             f"{entry['schedule']}): {entry['command']}")
            elif dag not in after:
                notes.append(f"deletes DAG {dag} (its pipeline is no longer scheduled)")
            elif before[dag].get("sha256") != after[dag].get("sha256"):
                notes.append(f"rewrites DAG {dag}")
        if not after:
            notes.append("no pipeline has a schedule: no DAG is deployed")
        elif desired.attributes.get("pip_url"):
            notes.append("the DAGs are imported with the Airflow of pip_url before anything is "
                         "written; an import error deploys nothing")
        else:
            notes.append("no pip_url: the DAGs are only syntax-checked before they are written")
        return notes + pools

    def validate_deep(self, ctx: Context, resource: Resource) -> list[Diagnostic] | None:
        _store(ctx, resource.attributes)
        files = self._files(ctx, resource)
        checked = check_dags(ctx, resource, files)
        entries = {file_name(dag): e for dag, e in (resource.attributes.get("dags") or {}).items()}
        found = []
        for name, error in sorted(checked.problems.items()):
            entry = entries.get(name) or {}
            what = (f"the DAG of pipeline {entry['pipeline']} (schedule {entry['schedule']!r}, "
                    f"file {name})" if entry else f"DAG file {name}")
            found.append(Diagnostic(f"{what} does not import with {checked.tool}: {error}",
                                    path=f"{resource.address}.dags"))
        if files and not resource.attributes.get("pip_url"):
            found.append(Diagnostic(
                "the DAGs were only syntax-checked: no Airflow to import them with",
                path=f"{resource.address}.pip_url", severity="warning",
                hint='set pip_url = "apache-airflow==3.3.2" (the Airflow your workers run)'))
        return found


def refuse_secrets(resource: Resource) -> None:
    """No secret may reach a DAG file (world-readable, shown in Airflow's UI)."""
    for path in sorted(resource.sensitive, key=format_path):
        if path and path[0] not in MAY_BE_SECRET:
            raise DagError(
                f"{resource.address}.{format_path(path)} holds a secret, and a generated DAG "
                "file must never hold one",
                hint="stackform resolves ${secret.NAME} on the workers itself: set "
                "STACKFORM_SECRET_<NAME> in the workers' environment (or their keyring) and "
                "keep the value out of this block")


def import_error(address: str, tool: str, problems: Mapping[str, str],
                 location: str) -> DagError:
    shown = [f"  {name}: {error}" for name, error in sorted(problems.items())[:SHOWN_PROBLEMS]]
    more = len(problems) - SHOWN_PROBLEMS
    if more > 0:
        shown.append(f"  (and {more} more)")
    return DagError(f"{address}: {len(problems)} DAG file(s) do not import with {tool}; "
                    f"nothing was written to {location}:\n" + "\n".join(shown),
                    hint="fix the pipeline's schedule or the block's settings; "
                    "`stackform validate --deep` runs the same check without applying")


def _store(ctx: Context, attributes: Mapping[str, Any]) -> DagStore:
    def opt(key: str) -> str | None:
        value = attributes.get(key)
        return str(value) if value else None

    return store_for(ctx, str(attributes["dags_path"]), opt("region"), opt("endpoint_url"),
                     opt("profile"))
