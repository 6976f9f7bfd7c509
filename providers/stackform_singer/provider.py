"""The ``extractors`` and ``loaders`` providers."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from pydantic import BaseModel

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
    ProvidesLineage,
    RunContext,
    RunStep,
    StepRunner,
    TakesOptions,
    WatchesPaths,
)
from stackform.provider_settings import SettingProblem
from stackform.resource import KeyPath, Resource, ResourceState
from stackform_singer.catalog import (
    Selection,
    apply_selection,
    catalog_digest,
    diff_selection,
    selection_of,
)
from stackform_singer.config import ExtractorConfig, LoaderConfig, PluginConfig
from stackform_singer.connector_info import executable_notes, executable_of, learn_at_apply
from stackform_singer.discovery import discover
from stackform_singer.pipe import run_pair
from stackform_singer.plugin import render_config
from stackform_singer.selection import apply_error, diagnostics, findings
from stackform_singer.settings_schema import config_problems, secret_paths, state_problems

if TYPE_CHECKING:
    from collections.abc import Mapping

    from stackform.config.model import ResolvedStack
    from stackform.diagnostics import Diagnostic
    from stackform.lineage.model import LineageFragment, LineageGraph
    from stackform.runs.model import StepOutcome

START_TIMEOUT = 120.0
REFRESH_CATALOG = "refresh_catalog"
"""The provider option (``--refresh-catalog``) asking for discovery again."""


PluginT = TypeVar("PluginT", bound=PluginConfig)


class _PluginProvider(BaseProvider[PluginT], WatchesPaths, DeclaresSettings):
    """Install, check that the executable starts, render the non-secret config."""

    force_new: ClassVar[frozenset[str]] = frozenset({"pip_url", "python"})

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

    def delete(self, ctx: Context, prior: ResourceState) -> None:
        # The venv stays in the shared cache: other environments may use it.
        shutil.rmtree(plugin_dir(ctx, prior.address), ignore_errors=True)


class LoaderProvider(_PluginProvider[LoaderConfig], ProvidesLineage, PlanChecker):
    """``[loaders.NAME]``: a Singer target."""

    kind: ClassVar[str] = "loaders"
    Config: ClassVar[type[BaseModel]] = LoaderConfig

    def plan_diagnostics(self, ctx: Context, prior: ResourceState | None,
                         desired: Resource) -> list[Diagnostic]:
        """Its settings against the schema state recorded, where no local record has it."""
        return state_problems(ctx, prior, desired, self.config_of(desired))

    def lineage(self, ctx: Context, resource: Resource, outputs: Mapping[str, Any],
                upstream: LineageGraph) -> LineageFragment:
        from stackform_singer.lineage import loader_lineage

        return loader_lineage(resource, self.config_of(resource), upstream)

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


class ExtractorProvider(_PluginProvider[ExtractorConfig], PlanChecker, StepRunner, TakesOptions,
                        ProvidesLineage):
    """``[extractors.NAME]``: a Singer tap, its discovered catalog and the stack's selection."""

    kind: ClassVar[str] = "extractors"
    Config: ClassVar[type[BaseModel]] = ExtractorConfig
    provider_options: ClassVar[tuple[ProviderOption, ...]] = (
        ProviderOption(REFRESH_CATALOG, "run every extractor's discovery again at apply (new "
                       "tables or columns): `--refresh-catalog`", needs_refresh=True),)

    def read(self, ctx: Context, prior: ResourceState) -> ResourceState | None:
        found = super().read(ctx, prior)
        if found is not None and ctx.options.get(REFRESH_CATALOG):
            # Asked to discover again: show the extractor as changed so apply does it.
            return replace(prior, attributes={**prior.attributes,
                                              "refresh": "catalog discovery requested"})
        return found

    def create(self, ctx: Context, desired: Resource) -> Outputs:
        outputs, env, help_text = self._prepare(ctx, desired)
        config = self.config_of(desired)
        discovered = discover(ctx, desired, outputs["executable"], env)
        folder = plugin_dir(ctx, desired.address)
        write_private(folder / "catalog.discovered.json", discovered)
        found = diagnostics(ctx, desired, findings(discovered, config))
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
        if prior is None or discovered is None:
            return [*executable_notes(ctx, desired, config),
                    "catalog: discovered at apply, then the select rules are applied"]
        before = prior.outputs.get("selection")
        after = selection_of(apply_selection(discovered, config.select, config.metadata))
        notes = diff_selection(Selection.from_json(before) if before else None, after)
        if ctx.options.get(REFRESH_CATALOG):
            notes.append("catalog: discovered again at apply (--refresh-catalog)")
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


_SELECTION_FIELDS = frozenset({"select", "metadata", "allow_empty_selection"})


def _recorded_catalog(ctx: Context, prior: ResourceState | None, desired: Resource
                      ) -> dict[str, Any] | None:
    """The catalog the last apply discovered on this machine, or None."""
    path = plugin_dir(ctx, desired.address) / "catalog.discovered.json"
    if prior is None or not path.exists():
        return None
    catalog: dict[str, Any] = json.loads(path.read_text())
    return catalog


def _discovers_again(ctx: Context, prior: ResourceState, desired: Resource) -> bool:
    """Whether applying ``desired`` discovers a catalog that may differ from the recorded one:
    asked for, or the tap, its version or its config changed (not only the selection)."""
    if ctx.options.get(REFRESH_CATALOG):
        return True
    after = desired.masked(ctx.fingerprint)
    keys = (set(prior.attributes) | set(after)) - _SELECTION_FIELDS
    return any(prior.attributes.get(k) != after.get(k) for k in keys)
