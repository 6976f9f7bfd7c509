"""Resolve a loaded stack file for one environment into desired resources and pipelines.

Picks the environment (per-developer names included), merges its vars and block overrides over
the base, interpolates every value, validates each block with its provider's ``Config`` and
builds :class:`~stackform.resource.Resource` objects, then resolves pipeline steps and explicit
``depends_on`` references to addresses. Every problem is collected and raised together; the
dependency graph and its cycles are :mod:`stackform.graph`'s business.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from stackform.config.computed import with_computed
from stackform.config.filenames import secrets_in_file_names
from stackform.config.interpolate import Interpolator
from stackform.config.loader import StackFile, describe, validation_diagnostics
from stackform.config.model import EnvironmentSettings, Pipeline, ResolvedStack, Step
from stackform.config.schema import (
    DEPENDS_ON,
    EnvironmentSection,
    StateSection,
    env_identifier,
    schedule_problem,
)
from stackform.diagnostics import Diagnostic, Diagnostics, Location, did_you_mean
from stackform.envnames import ENV_NAME_RE
from stackform.errors import StackformError
from stackform.gitinfo import developer_name
from stackform.limits import MAX_NESTING, too_deep
from stackform.ownfiles import LOCK_NAME, OwnFiles
from stackform.plugins.connectors import pip_url_problems
from stackform.registry import Registry
from stackform.resource import KeyPath, Resource, format_path, secret_key_paths
from stackform.secret_keys import is_secret_key
from stackform.secrets import SecretStore, env_var_name

DEFAULT_ENV = "dev"


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
) -> ResolvedStack:
    """The stack as ``env`` wants it. ``strict_secrets=False`` (validate, graph) turns a
    missing secret into the placeholder ``<secret NAME>``, still sensitive. With a
    ``stackform.lock``, plugins get ``locked_requirements`` and a stale lock is an error
    (``check_lock=False``, for ``stackform lock`` itself, skips both). ``exact_env`` takes
    ``env`` as the environment's full name even where ``per_developer`` would make ``dev``
    mean ``dev-<developer>`` (to reach a state recorded before ``per_developer`` was on)."""
    core = stack_file.core
    diags = Diagnostics()

    def locate(path: KeyPath, key: bool) -> Location:
        return stack_file.location(path, key)

    settings, effective, env_section = _pick_environment(stack_file, env, developer, diags,
                                                         exact_env)
    environ = os.environ if environ is None else environ
    if secrets is None and strict_secrets:
        secrets = SecretStore(core.stack.name, environ)

    vars_: dict[str, Any] = dict(stack_file.data.get("vars") or {})
    var_sources: dict[str, KeyPath] = {name: ("vars", name) for name in vars_}
    raw_env_vars = _env_table(stack_file, settings).get("vars") or {}
    for name, value in raw_env_vars.items():
        vars_[name] = value
        var_sources[name] = ("environments", settings.name, "vars", name)

    interp = Interpolator(
        vars=vars_,
        var_sources=var_sources,
        stack={"env": effective, "env_id": env_identifier(effective),
               "dir": str(stack_file.dir), "name": core.stack.name},
        environ=environ,
        locate=locate,
        secrets=secrets,
        strict_secrets=strict_secrets,
        diagnostics=diags,
    )
    interp.check_cycles()

    state = _resolve_state(stack_file, interp, diags, locate)
    addresses = {
        f"{kind}.{name}": (kind, name)
        for kind, named in stack_file.blocks.items() for name in named
    }
    by_name: dict[str, list[str]] = {}
    for address, (_, name) in addresses.items():
        by_name.setdefault(name, []).append(address)

    overrides = env_section.override if env_section is not None else {}
    own_files = OwnFiles(stack_file.path, state)
    resources: dict[str, Resource] = {}
    sources: dict[str, Any] = {}
    for kind, named in stack_file.blocks.items():
        try:
            provider = registry.get(kind)
        except StackformError as exc:
            diags.add(Diagnostic(exc.reason, path=kind, location=locate((kind,), True),
                                 hint=exc.hint))
            continue
        config_model: type[BaseModel] = provider.Config
        always_sensitive: frozenset[str] = getattr(provider, "sensitive_fields", frozenset())
        for name, raw in named.items():
            block_path: KeyPath = (kind, name)
            override = overrides.get(kind, {}).get(name)
            origins: dict[KeyPath, KeyPath] = {}
            if override:
                merged = _deep_merge(raw, override, (),
                                     ("environments", settings.name, "override", kind, name),
                                     origins)
            else:
                merged = dict(raw)
            source = _source_fn(block_path, origins)
            sources[f"{kind}.{name}"] = source
            deps = _depends_on(merged.pop(DEPENDS_ON, None), block_path, source, addresses,
                               by_name, diags, locate)
            value, sensitive = interp.interpolate(merged, block_path, source)
            diags.extend(secrets_in_file_names(sensitive, block_path, source, locate))
            deep = too_deep(value)
            if deep is not None:
                # State must be able to hold what apply records (stackform.limits).
                diags.add(Diagnostic(
                    f"tables and arrays nest deeper than {MAX_NESTING} levels",
                    path=format_path((*block_path, *deep)),
                    location=locate(source(deep), False),
                    hint="flatten this value; no configuration needs that depth"))
                continue
            try:
                config = config_model.model_validate(value)
            except ValidationError as exc:
                diags.extend(validation_diagnostics(
                    exc, value, config_model, block_path, locate, source))
                continue
            diags.extend(own_files.diagnostics(provider, config, block_path, source, locate))
            attributes = config.model_dump(mode="json")
            address = f"{kind}.{name}"
            from_secrets = _map_sensitive(sensitive, attributes, config_model)
            by_key = tuple(secret_key_paths(attributes))
            diags.extend(_not_from_secrets(by_key, from_secrets, value, config_model,
                                           block_path, source, locate))
            always = {(field,) for field in always_sensitive if field in attributes}
            resources[address] = Resource(
                address=address,
                kind=kind,
                name=name,
                config=config,
                attributes=attributes,
                sensitive=from_secrets.union(by_key, always),
                depends_on=deps,
            )

    _check_connectors(resources, diags, locate)
    if check_lock and (stack_file.dir / LOCK_NAME).is_file():
        _lock_plugins(stack_file, resources, diags, locate)

    pipelines = _resolve_pipelines(stack_file, interp, addresses, by_name, diags, locate)
    diags.raise_if_errors()

    def locate_in_block(address: str, rel: KeyPath, key: bool) -> Location | None:
        # Where the environment's override writes it, if it does; else the block itself.
        source = sources.get(address)
        return None if source is None else stack_file.location(source(rel), key)

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
        locate=locate_in_block,
    )
    return with_computed(stack, registry, diags, locate)


def _check_connectors(resources: dict[str, Resource], diags: Diagnostics, locate: Any) -> None:
    """A ``stackform:NAME`` in a plugin's pip_url must name a connector stackform ships."""
    for address, resource in resources.items():
        for problem, hint in pip_url_problems(resource.attributes.get("pip_url")):
            diags.add(Diagnostic(problem, path=f"{address}.pip_url", hint=hint,
                                 location=locate((resource.kind, resource.name, "pip_url"), False)))


def _lock_plugins(stack_file: StackFile, resources: dict[str, Resource], diags: Diagnostics,
                  locate: Any) -> None:
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


# -- environments ------------------------------------------------------------------------------


def _pick_environment(
    stack_file: StackFile, env: str | None, developer: str | None, diags: Diagnostics,
    exact: bool = False,
) -> tuple[EnvironmentSettings, str, EnvironmentSection | None]:
    declared = stack_file.core.environments
    requested = env or stack_file.core.default_environment or DEFAULT_ENV
    base = requested
    section = declared.get(requested)
    if section is None and declared:
        # dev-alice is dev's per-developer environment, asked for by its full name.
        for name, candidate in declared.items():
            if candidate.per_developer and requested.startswith(f"{name}-"):
                base, section = name, candidate
                break
        else:
            known = ", ".join(declared)
            if env:
                message = f"unknown environment '{requested}'"
                hint = did_you_mean(requested, declared) or f"declared: {known}"
            else:
                message = f"no --env given, no environment is `default = true`, and " \
                    f"'{requested}' is not declared"
                hint = f"pass --env NAME ({known}) or mark one `default = true`"
            diags.add(Diagnostic(message, path="environments",
                                 location=stack_file.location(("environments",), True),
                                 hint=hint))
    effective = requested
    if section is not None and section.per_developer and requested == base and not exact:
        if developer is None:
            developer = developer_name(stack_file.dir)
        effective = f"{base}-{developer}"
    if not ENV_NAME_RE.fullmatch(effective):
        # The name came from the command line (or the developer's name), not the file.
        raise StackformError(f"invalid environment name '{effective}'",
                             hint="use lower-case letters, digits, '-' and '_'")
    if section is None:
        return EnvironmentSettings(name=base), effective, None
    settings = EnvironmentSettings(
        name=base,
        protected=section.protected,
        per_developer=section.per_developer,
        default=section.default,
        declared=True,
        branches=tuple(section.branches),
    )
    return settings, effective, section


def _env_table(stack_file: StackFile, settings: EnvironmentSettings) -> Mapping[str, Any]:
    if not settings.declared:
        return {}
    environments = stack_file.data.get("environments") or {}
    table = environments.get(settings.name)
    return table if isinstance(table, dict) else {}


# -- blocks --------------------------------------------------------------------------------------


def _deep_merge(base: Mapping[str, Any], over: Mapping[str, Any], rel: KeyPath, src: KeyPath,
                origins: dict[KeyPath, KeyPath]) -> dict[str, Any]:
    """``over`` merged into ``base``: tables merge, anything else (arrays too) is replaced.
    ``origins`` records, for each replaced value, where the override wrote it."""
    out = dict(base)
    for key, value in over.items():
        current = out.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            out[key] = _deep_merge(current, value, (*rel, key), (*src, key), origins)
        else:
            out[key] = value
            origins[(*rel, key)] = (*src, key)
    return out


def _source_fn(block_path: KeyPath, origins: Mapping[KeyPath, KeyPath]) -> Any:
    if not origins:
        return lambda rel: (*block_path, *rel)

    def source(rel: KeyPath) -> KeyPath:
        for i in range(len(rel), 0, -1):
            found = origins.get(rel[:i])
            if found is not None:
                return (*found, *rel[i:])
        return (*block_path, *rel)

    return source


def _map_sensitive(paths: set[KeyPath], attributes: Mapping[str, Any],
                   model: type[BaseModel]) -> frozenset[KeyPath]:
    """Sensitive input paths as paths into the dumped attributes.

    A path the dump does not have (an alias, a converted value) falls back to its deepest
    existing ancestor: marking too much is safe, marking too little leaks.
    """
    if not paths:
        return frozenset()
    aliases = {f.alias: n for n, f in model.model_fields.items() if f.alias}
    out: set[KeyPath] = set()
    for path in paths:
        if not path:
            out.update((k,) for k in attributes)
            continue
        head = aliases.get(str(path[0]), str(path[0]))
        if head not in attributes:
            # The field vanished from the dump (excluded or renamed): keep the whole record
            # safe rather than lose track of a secret.
            out.update((k,) for k in attributes)
            continue
        mapped: list[str | int] = [head]
        node: Any = attributes[head]
        for key in path[1:]:
            in_dict = isinstance(node, dict) and key in node
            in_list = isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node)
            if not (in_dict or in_list):
                break
            node = node[key]
            mapped.append(key)
        out.add(tuple(mapped))
    return frozenset(out)


def _not_from_secrets(paths: tuple[KeyPath, ...], from_secrets: frozenset[KeyPath],
                      written: Any, model: type[BaseModel], block_path: KeyPath, source: Any,
                      locate: Any) -> list[Diagnostic]:
    """A warning for each value written under a key that names a secret without coming from a
    ``${secret...}``: a literal (committed with the stack file) or an ``${environ.X}``. It is
    masked all the same; the warning is about where it is written."""
    found: list[Diagnostic] = []
    if not paths:
        return found
    aliases = {n: f.alias for n, f in model.model_fields.items() if f.alias}
    for path in paths:
        if any(path[:i] in from_secrets for i in range(1, len(path) + 1)):
            continue  # from a secret, itself or as part of a table that did
        rel: KeyPath = (aliases.get(str(path[0]), path[0]), *path[1:])
        value = _written_at(written, rel)
        if value is None or value == "":
            continue  # a default of the provider, or nothing to hide
        key = next(str(k) for k in reversed(path) if isinstance(k, str) and is_secret_key(k))
        suggested = re.sub(r"[^a-z0-9]+", "_", f"{block_path[-1]}_{key}".lower()).strip("_")
        found.append(Diagnostic(
            f"'{key}' names a secret, but the value is not a ${{secret.NAME}} reference "
            "(plans and state mask it all the same)",
            path=format_path((*block_path, *rel)), location=locate(source(rel), False),
            hint=f"keep it out of the stack file: `stackform secret set {suggested}`, then write "
            f"\"${{secret.{suggested}}}\" (in CI, set {env_var_name(suggested)})",
            severity="warning",
        ))
    return found


def _written_at(value: Any, path: KeyPath) -> Any:
    """The value at ``path`` in the block as written (interpolated), or None."""
    for key in path:
        in_dict = isinstance(value, dict) and key in value
        in_list = isinstance(value, list) and isinstance(key, int) and 0 <= key < len(value)
        if not (in_dict or in_list):
            return None
        value = value[key]
    return value


def _ref_to_address(ref: str, addresses: Mapping[str, Any], by_name: Mapping[str, list[str]]
                    ) -> tuple[str | None, str | None]:
    """A step or dependency reference -> (address, None) or (None, problem)."""
    if ref in addresses:
        return ref, None
    if "." not in ref and ref in by_name:
        matches = by_name[ref]
        if len(matches) == 1:
            return matches[0], None
        return None, f"'{ref}' is ambiguous: it names {', '.join(sorted(matches))}"
    return None, f"unknown block '{ref}'"


def _depends_on(raw: Any, block_path: KeyPath, source: Any, addresses: Mapping[str, Any],
                by_name: Mapping[str, list[str]], diags: Diagnostics, locate: Any
                ) -> tuple[str, ...]:
    if raw is None:
        return ()
    rel: KeyPath = (DEPENDS_ON,)
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        diags.add(Diagnostic(
            f"expected an array of block addresses, got {describe(raw)}",
            path=format_path((*block_path, *rel)), location=locate(source(rel), False),
            hint='e.g. depends_on = ["loaders.warehouse"]',
        ))
        return ()
    out: list[str] = []
    own = ".".join(str(p) for p in block_path)
    for i, ref in enumerate(raw):
        item: KeyPath = (*rel, i)
        if ref in addresses:
            if ref == own:
                diags.add(Diagnostic("a block cannot depend on itself",
                                     path=format_path((*block_path, *item)),
                                     location=locate(source(item), False)))
            elif ref not in out:
                out.append(ref)
            continue
        address, _ = _ref_to_address(ref, addresses, by_name)
        hint = (f"write the address: did you mean '{address}'?" if address
                else did_you_mean(ref, addresses))
        diags.add(Diagnostic(f"depends_on names unknown block '{ref}'",
                             path=format_path((*block_path, *item)),
                             location=locate(source(item), False), hint=hint))
    return tuple(out)


# -- state and pipelines ---------------------------------------------------------------------


def _resolve_state(stack_file: StackFile, interp: Interpolator, diags: Diagnostics,
                   locate: Any) -> dict[str, Any]:
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


def _resolve_pipelines(
    stack_file: StackFile, interp: Interpolator, addresses: Mapping[str, Any],
    by_name: Mapping[str, list[str]], diags: Diagnostics, locate: Any,
) -> dict[str, Pipeline]:
    core = stack_file.core
    choices = [*addresses, *by_name]
    pipelines: dict[str, Pipeline] = {}
    for pname, section in core.pipelines.items():
        base: KeyPath = ("pipelines", pname)
        steps: list[Step] = []
        for i, raw in enumerate(section.steps):
            path = (*base, "steps", i)
            target, colon, command = raw.partition(":")
            target, command = target.strip(), command.strip()
            if colon and not command:
                diags.add(Diagnostic(f"step '{raw}' has an empty command after ':'",
                                     path=format_path(path), location=locate(path, False),
                                     hint=f"write '{target}' or '{target}:COMMAND'"))
                continue
            address, problem = _ref_to_address(target, addresses, by_name)
            if address is None:
                hint = (f"write it as one of {', '.join(sorted(by_name[target]))}"
                        if target in by_name else did_you_mean(target, choices))
                message = (f"unknown step '{target}'" if target not in by_name
                           else f"step {problem}")
                diags.add(Diagnostic(message, path=format_path(path),
                                     location=locate(path, False), hint=hint))
                continue
            steps.append(Step(raw=raw, address=address, command=command if colon else None))
        depends: list[str] = []
        for i, ref in enumerate(section.depends_on):
            path = (*base, "depends_on", i)
            if ref in core.pipelines or (ref.startswith("pipelines.")
                                         and ref[len("pipelines."):] in core.pipelines):
                address = ref if ref.startswith("pipelines.") else f"pipelines.{ref}"
            else:
                found, problem = _ref_to_address(ref, addresses, by_name)
                if found is None:
                    pipeline_names = list(core.pipelines)
                    diags.add(Diagnostic(
                        f"depends_on names unknown pipeline or block '{ref}'"
                        if problem and problem.startswith("unknown") else f"depends_on {problem}",
                        path=format_path(path), location=locate(path, False),
                        hint=did_you_mean(ref, [*pipeline_names, *choices]),
                    ))
                    continue
                address = found
            if address == f"pipelines.{pname}":
                diags.add(Diagnostic("a pipeline cannot depend on itself",
                                     path=format_path(path), location=locate(path, False)))
            elif address not in depends:
                depends.append(address)
        schedule = section.schedule
        if schedule is not None and "$" in schedule:
            resolved, _ = interp.interpolate(schedule, (*base, "schedule"))
            schedule = str(resolved)
        if schedule is not None:
            problem = schedule_problem(schedule)
            if problem is not None:
                path = (*base, "schedule")
                diags.add(Diagnostic(problem, path=format_path(path),
                                     location=locate(path, False)))
            schedule = schedule.strip() or None
        pipelines[pname] = Pipeline(name=pname, steps=tuple(steps), schedule=schedule,
                                    depends_on=tuple(depends))
    return pipelines

