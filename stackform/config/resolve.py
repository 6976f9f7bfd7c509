"""Resolve a loaded stack file for one environment into desired resources and pipelines.

Picks the environment (per-developer names included), merges its vars and block overrides over
the base, interpolates every value, validates each block with its provider's ``Config`` and
builds :class:`~stackform.resource.Resource` objects, then resolves pipeline steps and explicit
``depends_on`` references to addresses. Every problem is collected and raised together; the
dependency graph and its cycles are :mod:`stackform.graph`'s business.

Its parts live beside it: the environment and its vars (:mod:`.environments`), references to
blocks (:mod:`.references`), secrets among the values (:mod:`.sensitive`), pipelines
(:mod:`.pipelines`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from stackform.config.computed import with_computed
from stackform.config.environments import pick_environment, stack_vars
from stackform.config.extends import BlockMerger, is_abstract
from stackform.config.filenames import secrets_in_file_names
from stackform.config.interpolate import Interpolator, Locator, Source
from stackform.config.loader import StackFile
from stackform.config.merge import source_fn
from stackform.config.model import EnvironmentSettings, ResolvedStack
from stackform.config.pipelines import resolve_pipelines
from stackform.config.process_env import stack_env, with_stack_env
from stackform.config.references import Addresses, block_depends_on
from stackform.config.schema import DEPENDS_ON, StateSection, env_identifier
from stackform.config.sensitive import map_sensitive, not_from_secrets
from stackform.config.validation import validation_diagnostics
from stackform.diagnostics import Diagnostic, Diagnostics, Location
from stackform.errors import StackformError
from stackform.limits import MAX_NESTING, too_deep
from stackform.ownfiles import LOCK_NAME, OwnFiles
from stackform.plugins.connectors import pip_url_problems
from stackform.provider_steps import TakesProcessEnv
from stackform.registry import Registry
from stackform.resource import KeyPath, Resource, format_path, secret_key_paths
from stackform.secrets import SecretStore


def resolve(
    stack_file: StackFile,
    env: str | None,
    registry: Registry,
    *,
    environ: Mapping[str, str] | None = None,
    secrets: SecretStore | None = None,
    strict_secrets: bool = True,
    developer: str | None = None,
    check_lock: bool = True,
    exact_env: bool = False,
    base_env: str | None = None,
) -> ResolvedStack:
    """The stack as ``env`` wants it. ``strict_secrets=False`` (validate, graph) turns a
    missing secret into the placeholder ``<secret NAME>``, still sensitive. With a
    ``stackform.lock``, plugins get ``locked_requirements`` and a stale lock is an error
    (``check_lock=False``, for ``stackform lock`` itself, skips both). ``exact_env`` takes
    ``env`` as the environment's full name even where ``per_developer`` would make ``dev``
    mean ``dev-<developer>`` (to reach a state recorded before ``per_developer`` was on).
    ``base_env`` resolves ``env`` as a throwaway environment of that declared one."""
    core = stack_file.core
    diags = Diagnostics()
    locate: Locator = stack_file.location
    settings, effective, env_section = pick_environment(stack_file, env, developer, diags,
                                                        exact_env, base_env)
    environ = os.environ if environ is None else environ
    if secrets is None and strict_secrets:
        secrets = SecretStore(core.stack.name, environ)
    interp = _interpolator(stack_file, settings, effective, environ, secrets, strict_secrets,
                           diags)

    state = _resolve_state(stack_file, interp, diags, locate)
    blocks = _Blocks(stack_file, interp, Addresses.of(stack_file), OwnFiles(stack_file.path, state),
                     env_section.override if env_section is not None else {}, settings.name,
                     diags)
    resources = blocks.resolve_all(registry)
    _check_connectors(resources, diags, locate)
    if check_lock and (stack_file.dir / LOCK_NAME).is_file():
        _lock_plugins(stack_file, resources, diags, locate)
    pipelines = resolve_pipelines(stack_file, interp, blocks.addresses, registry, resources,
                                  diags, locate)
    diags.raise_if_errors()
    stack = ResolvedStack(
        name=core.stack.name,
        env=effective,
        file=stack_file.path,
        dir=stack_file.dir,
        environment=settings,
        state=state,
        resources=resources,
        pipelines=pipelines,
        warnings=tuple(diags.warnings),
        locate=blocks.locate_in_block,
    )
    return with_computed(stack, registry, diags, locate)


def _interpolator(stack_file: StackFile, settings: EnvironmentSettings, effective: str,
                  environ: Mapping[str, str], secrets: SecretStore | None,
                  strict_secrets: bool, diags: Diagnostics) -> Interpolator:
    """What resolves ``${...}`` for this environment; cycles between vars are reported now."""
    vars_, var_sources = stack_vars(stack_file, settings)
    interp = Interpolator(
        vars=vars_,
        var_sources=var_sources,
        stack={"env": effective, "env_id": env_identifier(effective),
               "dir": str(stack_file.dir), "name": stack_file.core.stack.name},
        environ=environ,
        locate=stack_file.location,
        secrets=secrets,
        strict_secrets=strict_secrets,
        diagnostics=diags,
    )
    interp.check_cycles()
    return interp


@dataclass
class _Blocks:
    """Resolves the provider blocks of one stack for one environment into resources."""

    stack_file: StackFile
    interp: Interpolator
    addresses: Addresses
    own_files: OwnFiles
    overrides: Mapping[str, Mapping[str, Any]]
    """The environment's ``override`` tables: kind -> name -> fields."""
    env_name: str
    diags: Diagnostics

    def __post_init__(self) -> None:
        self.sources: dict[str, Source] = {}
        """address -> where each of the block's values is written"""
        self.merger = BlockMerger(self.stack_file, self.overrides, self.env_name, self.diags)
        self.stack_env = stack_env(self.stack_file, self.env_name,
                                   self.env_name in self.stack_file.core.environments)

    def locate(self, path: KeyPath, key: bool) -> Location:
        return self.stack_file.location(path, key)

    def locate_in_block(self, address: str, rel: KeyPath, key: bool) -> Location | None:
        """Where the environment's override writes it, if it does; else the block itself."""
        source = self.sources.get(address)
        return None if source is None else self.stack_file.location(source(rel), key)

    def resolve_all(self, registry: Registry) -> dict[str, Resource]:
        resources: dict[str, Resource] = {}
        for kind, named in self.stack_file.blocks.items():
            try:
                provider = registry.get(kind)
            except StackformError as exc:
                self.diags.add(Diagnostic(exc.reason, path=kind,
                                          location=self.locate((kind,), True), hint=exc.hint))
                continue
            env_field = (provider.process_env_field if isinstance(provider, TakesProcessEnv)
                         else None)
            for name, raw in named.items():
                if is_abstract(raw):
                    self.merger.merged(kind, name)  # its own problems, reported once
                    continue
                resource = self.resolve_one(provider, kind, name, env_field)
                if resource is not None:
                    resources[resource.address] = resource
        return resources

    def resolve_one(self, provider: Any, kind: str, name: str, env_field: str | None = None
                    ) -> Resource | None:
        """The block as a resource, or None when it has problems (added to the diagnostics).
        ``env_field``: the field taking the stack's process environment, if the kind has one."""
        address = f"{kind}.{name}"
        block_path: KeyPath = (kind, name)
        found = self._merged(kind, name)
        if found is None:
            return None
        merged, source = found
        if env_field is not None:
            merged, source = with_stack_env(merged, source, env_field, self.stack_env)
        self.sources[address] = source
        deps = block_depends_on(merged.pop(DEPENDS_ON, None), block_path, source,
                                self.addresses, self.diags, self.locate)
        value, sensitive = self.interp.interpolate(merged, block_path, source)
        self.diags.extend(secrets_in_file_names(sensitive, block_path, source, self.locate))
        deep = too_deep(value)
        if deep is not None:
            # State must be able to hold what apply records (stackform.limits).
            self.diags.add(Diagnostic(
                f"tables and arrays nest deeper than {MAX_NESTING} levels",
                path=format_path((*block_path, *deep)),
                location=self.locate(source(deep), False),
                hint="flatten this value; no configuration needs that depth"))
            return None
        config_model: type[BaseModel] = provider.Config
        try:
            config = config_model.model_validate(value)
        except ValidationError as exc:
            self.diags.extend(validation_diagnostics(
                exc, value, config_model, block_path, self.locate, source))
            return None
        self.diags.extend(self.own_files.diagnostics(provider, config, block_path, source,
                                                     self.locate))
        attributes = config.model_dump(mode="json")
        from_secrets = map_sensitive(sensitive, attributes, config_model)
        by_key = tuple(secret_key_paths(attributes))
        self.diags.extend(not_from_secrets(by_key, from_secrets, value, config_model,
                                           block_path, source, self.locate))
        always_sensitive: frozenset[str] = getattr(provider, "sensitive_fields", frozenset())
        always: set[KeyPath] = {(field,) for field in always_sensitive if field in attributes}
        if hasattr(provider, "settings_problems"):  # DeclaresSettings, asked without isinstance
            always.update(self._declared(provider, config, block_path, source))
        return Resource(
            address=address,
            kind=kind,
            name=name,
            config=config,
            attributes=attributes,
            sensitive=from_secrets.union(by_key, always),
            depends_on=deps,
        )

    def _declared(self, provider: Any, config: BaseModel, block_path: KeyPath, source: Source
                  ) -> set[KeyPath]:
        """The tool's own settings schema: its problems reported, its secret paths returned."""
        for path, message, hint, at_key in provider.settings_problems(config):
            self.diags.add(Diagnostic(message, path=format_path((*block_path, *path)),
                                      location=self.locate(source(path), at_key), hint=hint))
        return {tuple(p) for p in provider.sensitive_paths(config)}

    def _merged(self, kind: str, name: str) -> tuple[dict[str, Any], Source] | None:
        """The block with the block it extends under it and the environment's override over
        it, and where each value of it is written; None when its ``extends`` is wrong."""
        found = self.merger.merged(kind, name)
        if found is None:
            return None
        merged, origins = found
        return dict(merged), source_fn((kind, name), origins)


def _check_connectors(resources: dict[str, Resource], diags: Diagnostics,
                      locate: Locator) -> None:
    """A ``stackform:NAME`` in a plugin's pip_url must name a connector stackform ships."""
    for address, resource in resources.items():
        for problem, hint in pip_url_problems(resource.attributes.get("pip_url")):
            diags.add(Diagnostic(problem, path=f"{address}.pip_url", hint=hint,
                                 location=locate((resource.kind, resource.name, "pip_url"), False)))


def _lock_plugins(stack_file: StackFile, resources: dict[str, Resource], diags: Diagnostics,
                  locate: Locator) -> None:
    """Plugins pick up ``locked_requirements`` from ``stackform.lock``; stale entries are errors."""
    # Only for a stack that has a lock: the lock machinery (installs, uv) is no cost of a plan
    # without one.
    from stackform.plugins.lockfile import LOCK_HINT, lock_resources

    try:
        locked, stale = lock_resources(stack_file.dir, resources)
    except StackformError as exc:
        diags.add(Diagnostic(exc.reason, path=LOCK_NAME, hint=exc.hint))
        return
    resources.update(locked)
    for address, reason in stale:
        kind, _, name = address.partition(".")
        diags.add(Diagnostic(reason, path=f"{address}.pip_url",
                             location=locate((kind, name, "pip_url"), False), hint=LOCK_HINT))


# -- state ----------------------------------------------------------------------------------------


def _resolve_state(stack_file: StackFile, interp: Interpolator, diags: Diagnostics,
                   locate: Locator) -> dict[str, Any]:
    raw = stack_file.data.get("state") or {}
    value, sensitive = interp.interpolate(raw, ("state",))
    diags.extend(secrets_in_file_names(sensitive, ("state",), lambda rel: ("state", *rel),
                                       locate))
    try:
        section = StateSection.model_validate(value)
    except ValidationError as exc:
        diags.extend(validation_diagnostics(exc, value, StateSection, ("state",), locate))
        return {"backend": "local"}
    return section.model_dump(exclude_none=True)
