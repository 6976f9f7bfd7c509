"""The ``extractors`` and ``loaders`` providers."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel

from stackform.pluginkit import (
    install,
    plugin_dir,
    plugin_environ,
    run_command,
    runtime_dir,
    write_private,
)
from stackform.provider import BaseProvider, Context, Outputs, RunContext, RunStep
from stackform.resource import Resource, ResourceState
from stackform_singer.catalog import (
    Selection,
    apply_selection,
    catalog_digest,
    diff_selection,
    selection_of,
    unmatched_rules,
)
from stackform_singer.config import ExtractorConfig, LoaderConfig, PluginConfig
from stackform_singer.discovery import discover
from stackform_singer.pipe import run_pair
from stackform_singer.plugin import executable_name, render_config

if TYPE_CHECKING:
    from stackform.runs.model import StepOutcome

START_TIMEOUT = 120.0


class _PluginProvider(BaseProvider):
    """Install, check that the executable starts, render the non-secret config."""

    force_new: ClassVar[frozenset[str]] = frozenset({"pip_url", "python"})

    def _prepare(self, ctx: Context, desired: Resource) -> tuple[Outputs, dict[str, str], str]:
        config = desired.config
        assert isinstance(config, PluginConfig)
        venv = install(ctx, desired)
        exe = venv.executable(executable_name(config))
        env = plugin_environ(venv, desired)
        with runtime_dir(ctx, "help") as tmp:
            helped = run_command([str(exe), "--help"], env=env, timeout=START_TIMEOUT,
                                 cancel=ctx.cancel, what=f"{desired.address}: {exe.name} --help",
                                 cwd=ctx.stack_dir, runtime=tmp, log=ctx.log)
        render_config(ctx, desired)
        outputs: Outputs = {"venv": str(venv.path), "executable": str(exe)}
        return outputs, env, helped.stdout + helped.stderr

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


class LoaderProvider(_PluginProvider):
    """``[loaders.NAME]``: a Singer target."""

    kind: ClassVar[str] = "loaders"
    Config: ClassVar[type[BaseModel]] = LoaderConfig


class ExtractorProvider(_PluginProvider):
    """``[extractors.NAME]``: a Singer tap, its discovered catalog and the stack's selection."""

    kind: ClassVar[str] = "extractors"
    Config: ClassVar[type[BaseModel]] = ExtractorConfig

    def read(self, ctx: Context, prior: ResourceState) -> ResourceState | None:
        found = super().read(ctx, prior)
        if found is not None and ctx.options.get("refresh_catalog"):
            # Asked to discover again: show the extractor as changed so apply does it.
            return replace(prior, attributes={**prior.attributes,
                                              "refresh": "catalog discovery requested"})
        return found

    def create(self, ctx: Context, desired: Resource) -> Outputs:
        outputs, env, help_text = self._prepare(ctx, desired)
        config = desired.config
        assert isinstance(config, ExtractorConfig)
        discovered = discover(ctx, desired, outputs["executable"], env)
        folder = plugin_dir(ctx, desired.address)
        write_private(folder / "catalog.discovered.json", discovered)
        selected = apply_selection(discovered, config.select, config.metadata)
        write_private(folder / "catalog.json", selected)
        for rule in unmatched_rules(discovered, config.select):
            ctx.log(f"{desired.address}: select rule {rule!r} matches nothing in the catalog")
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
        config = desired.config
        assert isinstance(config, ExtractorConfig)
        discovered_path = plugin_dir(ctx, desired.address) / "catalog.discovered.json"
        if prior is None or not discovered_path.exists():
            return ["catalog: discovered at apply, then the select rules are applied"]
        discovered = json.loads(discovered_path.read_text())
        before = prior.outputs.get("selection")
        after = selection_of(apply_selection(discovered, config.select, config.metadata))
        notes = diff_selection(Selection.from_json(before) if before else None, after)
        notes += [f"warning: select rule {r!r} matches nothing"
                  for r in unmatched_rules(discovered, config.select)]
        if ctx.options.get("refresh_catalog"):
            notes.append("catalog: discovered again at apply (--refresh-catalog)")
        elif prior.attributes.get("config") != desired.masked(ctx.fingerprint).get("config"):
            notes.append("catalog: discovered again at apply (config changed)")
        return notes

    def run_steps(self, run: RunContext, steps: Sequence[RunStep]) -> tuple[int, StepOutcome]:
        return run_pair(run, steps)
