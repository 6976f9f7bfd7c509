"""The ``extractors``, ``mappers`` and ``loaders`` providers."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from pydantic import BaseModel

from stackform.inspection import (
    CatalogListing,
    DiscoversSource,
    Invocation,
    Invokes,
    ListsCatalog,
)
from stackform.plugins.kit import (
    install,
    local_plugin_paths,
    plugin_dir,
    plugin_environ,
    run_command,
    runtime_dir,
    write_private,
)
from stackform.provider import (
    BaseProvider,
    Context,
    DeclaresSettings,
    Outputs,
    PlanChecker,
    ProviderOption,
    RunContext,
    RunStep,
    StepRunner,
    TakesOptions,
    WatchesPaths,
)
from stackform.provider_lineage import ConfirmsLineage, ProvidesLineage
from stackform.provider_settings import SettingProblem
from stackform.provider_steps import ChainsSteps, TakesProcessEnv
from stackform.resource import KeyPath, Resource, ResourceState
from stackform_singer.catalog import (
    Selection,
    apply_selection,
    catalog_digest,
    diff_selection,
    selection_of,
)
from stackform_singer.catalog.schema import apply_schema
from stackform_singer.config import ExtractorConfig, LoaderConfig, MapperConfig, PluginConfig
from stackform_singer.connector_info import executable_notes, executable_of, learn_at_apply
from stackform_singer.discovery import discover
from stackform_singer.pipe import run_pair
from stackform_singer.plugin import render_config
from stackform_singer.selection import apply_error, diagnostics, findings, schema_warnings
from stackform_singer.settings_schema import config_problems, secret_paths, state_problems
from stackform_singer.source import (
    REFRESH_CATALOG,
    catalog_listing,
    changes_at_source,
    recorded_catalog,
    refreshed,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from stackform.config.model import ResolvedStack
    from stackform.diagnostics import Diagnostic
    from stackform.lineage.model import LineageFragment, LineageGraph
    from stackform.provider_schemas import QueryResult, WarehouseSchema
    from stackform.runs.model import StepOutcome

START_TIMEOUT = 120.0


PluginT = TypeVar("PluginT", bound=PluginConfig)


class _PluginProvider(BaseProvider[PluginT], WatchesPaths, Invokes, ChainsSteps,
                      TakesProcessEnv, DeclaresSettings):
    """Install, check that the executable starts, render the non-secret config."""

    force_new: ClassVar[frozenset[str]] = frozenset({"pip_url", "python"})
    process_env_field: ClassVar[str] = "env"

    def _prepare(self, ctx: Context, desired: Resource) -> tuple[Outputs, dict[str, str], str]:
        config = self.config_of(desired)
        venv = install(ctx, desired)
        exe = venv.executable(executable_of(ctx, desired, config, venv))
        env = plugin_environ(venv, desired)
        with runtime_dir(ctx, "help") as tmp:
            helped = run_command([str(exe), "--help"], env=env, timeout=START_TIMEOUT,
                                 cancel=ctx.cancel, what=f"{desired.address}: {exe.name} --help",
                                 cwd=ctx.stack_dir, runtime=tmp, log=ctx.log)
        help_text = helped.stdout + helped.stderr
        learnt = learn_at_apply(ctx, desired, config, venv, exe.name, help_text, env)
        render_config(ctx, desired)
        outputs: Outputs = {"venv": str(venv.path), "executable": str(exe), **learnt}
        return outputs, env, help_text

    def settings_problems(self, config: BaseModel) -> list[SettingProblem]:
        """The config checked against the connector's own schema (DeclaresSettings)."""
        return config_problems(self.config_of(config))

    def sensitive_paths(self, config: BaseModel) -> list[KeyPath]:
        """Settings the connector's own schema marks secret (DeclaresSettings)."""
        return secret_paths(self.config_of(config))

    def watched_paths(self, stack: ResolvedStack, resource: Resource
                      ) -> list[tuple[str, Path]]:
        return local_plugin_paths(resource, stack.dir)

    def read(self, ctx: Context, prior: ResourceState) -> ResourceState | None:
        # What apply renders into the environment's folder is the resource on this machine;
        # without it the plugin is set up again. The venv itself is a shared cache entry.
        if not (plugin_dir(ctx, prior.address) / "config.json").exists():
            return None
        return prior

    def create(self, ctx: Context, desired: Resource) -> Outputs:
        outputs, _env, _help = self._prepare(ctx, desired)
        return outputs

    def invocation(self, ctx: Context, resource: Resource, prior: ResourceState | None,
                   args: Sequence[str], runtime: Path) -> Invocation:
        from stackform_singer.invoke import plugin_invocation

        return plugin_invocation(ctx, resource, self.config_of(resource), args, runtime)

    def delete(self, ctx: Context, prior: ResourceState) -> None:
        # The venv stays in the shared cache: other environments may use it.
        shutil.rmtree(plugin_dir(ctx, prior.address), ignore_errors=True)


class LoaderProvider(_PluginProvider[LoaderConfig], ProvidesLineage, ConfirmsLineage,
                     PlanChecker):
    """``[loaders.NAME]``: a Singer target."""

    kind: ClassVar[str] = "loaders"
    Config: ClassVar[type[BaseModel]] = LoaderConfig
    chain_role: ClassVar[str] = "end"

    def plan_diagnostics(self, ctx: Context, prior: ResourceState | None,
                         desired: Resource) -> list[Diagnostic]:
        """Its settings against the schema state recorded, where no local record has it."""
        return state_problems(ctx, prior, desired, self.config_of(desired))

    def lineage(self, ctx: Context, resource: Resource, outputs: Mapping[str, Any],
                upstream: LineageGraph) -> LineageFragment:
        from stackform_singer.lineage import loader_lineage
        from stackform_singer.warehouse_columns import confirmed

        return loader_lineage(resource, self.config_of(resource), upstream,
                              confirmed(ctx, resource))

    def confirm_lineage(self, run: RunContext, step: RunStep) -> None:
        from stackform_singer.warehouse_columns import confirm

        confirm(run, step)

    def lineage_confirmed(self, ctx: Context, resource: Resource) -> str:
        from stackform_singer.warehouse_columns import token

        return token(ctx, resource)

    def plan_notes(self, ctx: Context, prior: ResourceState | None,
                   desired: Resource | None) -> list[str]:
        # A reviewer's first question about a changed loader: what happens to my tables?
        if prior is None:
            return [] if desired is None else executable_notes(ctx, desired,
                                                               self.config_of(desired))
        if desired is None:
            return ["the tables it loaded stay in the warehouse: stackform never drops data"]
        return ["the tables it loaded are untouched: this reinstalls and re-renders the loader "
                "only; the next run loads with the new settings"]

    # -- stackform test: the schemas it writes, and check queries (provider_schemas) ----------

    def owned_schemas(self, ctx: Context, resource: Resource) -> Sequence[WarehouseSchema]:
        from stackform_singer.schemas import owned_schemas

        return owned_schemas(ctx, resource)

    def drop_schemas(self, ctx: Context, resource: Resource) -> list[str]:
        from stackform_singer.schemas import drop_schemas

        return drop_schemas(ctx, resource)

    def run_query(self, ctx: Context, resource: Resource, sql: str) -> QueryResult:
        from stackform_singer.schemas import run_query

        return run_query(ctx, resource, sql)


class MapperProvider(_PluginProvider[MapperConfig]):
    """``[mappers.NAME]``: a Singer mapper run between an extractor and a loader
    (:mod:`.chain`); the extractor's step runs it."""

    kind: ClassVar[str] = "mappers"
    Config: ClassVar[type[BaseModel]] = MapperConfig
    chain_role: ClassVar[str] = "link"


class ExtractorProvider(_PluginProvider[ExtractorConfig], PlanChecker, StepRunner, TakesOptions,
                        ProvidesLineage, ListsCatalog, DiscoversSource):
    """``[extractors.NAME]``: a Singer tap, its discovered catalog and the stack's selection."""

    kind: ClassVar[str] = "extractors"
    Config: ClassVar[type[BaseModel]] = ExtractorConfig
    chain_role: ClassVar[str] = "start"
    provider_options: ClassVar[tuple[ProviderOption, ...]] = (
        ProviderOption(REFRESH_CATALOG, "run every extractor's discovery again at plan "
                       "(read-only) and show what changed at the source; apply records it: "
                       "`--refresh-catalog`", needs_refresh=True),)

    def source_changes(self, ctx: Context, prior: ResourceState, desired: Resource
                       ) -> str | None:
        return changes_at_source(ctx, prior, desired, self.config_of(desired))

    def catalog_listing(self, ctx: Context, resource: Resource,
                        prior: ResourceState | None) -> CatalogListing:
        return catalog_listing(ctx, resource, prior, self.config_of(resource))

    def create(self, ctx: Context, desired: Resource) -> Outputs:
        outputs, env, help_text = self._prepare(ctx, desired)
        config = self.config_of(desired)
        raw = discover(ctx, desired, outputs["executable"], env)
        folder = plugin_dir(ctx, desired.address)
        write_private(folder / "catalog.discovered.json", raw)
        discovered = apply_schema(raw, config.schema_overrides)
        found = [*diagnostics(ctx, desired, findings(discovered, config)),
                 *schema_warnings(ctx, desired, raw, config.schema_overrides)]
        errors = [d for d in found if d.severity == "error"]
        if errors:
            # Before the selected catalog is written: a run keeps using the last good one.
            raise apply_error(errors)
        selected = apply_selection(discovered, config.select, config.metadata)
        write_private(folder / "catalog.json", selected)
        for warning in found:
            ctx.log(warning.format())
            ctx.warn(warning)
        outputs.update({
            "catalog_flag": "--catalog" if "--catalog" in help_text else "--properties",
            "catalog_digest": catalog_digest(selected),
            "selection": selection_of(selected).to_json(),
        })
        return outputs

    def plan_notes(self, ctx: Context, prior: ResourceState | None,
                   desired: Resource | None) -> list[str]:
        if desired is None:
            return []
        config = self.config_of(desired)
        discovered = _recorded_catalog(ctx, prior, desired)
        found = refreshed(ctx, desired.address)
        if discovered is None and found is not None:
            discovered = found.catalog
        if prior is None or discovered is None:
            return [*executable_notes(ctx, desired, config),
                    "catalog: discovered at apply, then the select rules are applied"]
        before = prior.outputs.get("selection")
        after = selection_of(apply_selection(discovered, config.select, config.metadata))
        notes = diff_selection(Selection.from_json(before) if before else None, after)
        if found is not None and found.lines:
            # The source's own changes, apart from what the stack file's edits select.
            notes += [*found.lines, "catalog: apply records the catalog discovered now"]
        elif prior.attributes.get("config") != desired.masked(ctx.fingerprint).get("config"):
            notes.append("catalog: discovered again at apply (config changed)")
        return notes

    def plan_diagnostics(self, ctx: Context, prior: ResourceState | None,
                         desired: Resource) -> list[Diagnostic]:
        """The selection checked against the catalog the last apply discovered, at every
        plan for as long as a problem lasts (a rule that matches nothing is otherwise only
        noticed when ``select`` is edited)."""
        config = self.config_of(desired)
        settings = state_problems(ctx, prior, desired, config)
        found = refreshed(ctx, desired.address)
        if prior is not None and found is not None:
            # Discovered at this plan with the block as declared: what apply will find.
            return [*settings, *diagnostics(ctx, desired, findings(found.catalog, config))]
        discovered = _recorded_catalog(ctx, prior, desired)
        if prior is None or discovered is None:
            return settings  # apply discovers the catalog and checks it then
        return [*settings, *diagnostics(ctx, desired, findings(discovered, config),
                                        discovers_again=_discovers_again(ctx, prior, desired))]

    def run_steps(self, run: RunContext, steps: Sequence[RunStep]) -> tuple[int, StepOutcome]:
        return run_pair(run, steps)

    def lineage(self, ctx: Context, resource: Resource, outputs: Mapping[str, Any],
                upstream: LineageGraph) -> LineageFragment:
        from stackform_singer.lineage import extractor_lineage

        return extractor_lineage(ctx, resource, self.config_of(resource), outputs)


_SELECTION_FIELDS = frozenset({"select", "metadata", "allow_empty_selection", "refresh_catalog",
                               "schema"})


def _recorded_catalog(ctx: Context, prior: ResourceState | None, desired: Resource
                      ) -> dict[str, Any] | None:
    """The catalog the last apply discovered on this machine, or None."""
    # As apply shaped it: the stack's schema overrides laid over what the tap discovered.
    return None if prior is None else recorded_catalog(
        ctx, desired.address, ExtractorProvider.config_of(desired))


def _discovers_again(ctx: Context, prior: ResourceState, desired: Resource) -> bool:
    """Whether applying ``desired`` discovers a catalog that may differ from the recorded one:
    asked for, or the tap, its version or its config changed (not only the selection)."""
    if ctx.options.get(REFRESH_CATALOG):
        return True
    after = desired.masked(ctx.fingerprint)
    keys = (set(prior.attributes) | set(after)) - _SELECTION_FIELDS
    return any(prior.attributes.get(k) != after.get(k) for k in keys)
