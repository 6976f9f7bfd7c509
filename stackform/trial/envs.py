"""Throwaway environments: their names, the mark in their state, the refusal of schemas two
environments would share, and their removal with everything they made.

A throwaway environment is resolved like its *base* (a declared environment: its vars and
overrides) under a name of its own, so every ``${stack.env}`` and ``${stack.env_id}`` differs:
its own state, rendered files, bookmarks, schemas and BI objects. Its state carries
``throwaway`` (when it was made, from which base): only such environments have their schemas
dropped, and ``env destroy --older-than`` finds them.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

from stackform.config.environments import DEFAULT_ENV
from stackform.config.loader import StackFile
from stackform.errors import ConfigError, Diagnostic, StackformError
from stackform.gitinfo import developer_name
from stackform.provider import make_context
from stackform.provider_schemas import OwnsSchemas, WarehouseSchema
from stackform.resource import fingerprinter
from stackform.session import Session, open_session
from stackform.state.model import State, utc_now

CI_VARIABLES = ("CI_JOB_ID", "GITHUB_RUN_ID", "BUILD_ID", "CI")
"""Set in CI: the default name is then ``ci-<short id>``, unique per job."""


def default_name(directory: Path, environ: dict[str, str] | None = None) -> str:
    """``ci-<6 hex>`` in CI, ``test-<developer>`` on a laptop."""
    environ = dict(os.environ) if environ is None else environ
    if any(environ.get(name) for name in CI_VARIABLES):
        return "ci-" + uuid.uuid4().hex[:6]
    return f"test-{developer_name(directory)}"


def base_of(stack_file: StackFile, base: str | None) -> str:
    """The declared environment a throwaway one is made from: ``--base``, else the stack's
    default; a protected one is refused (a test never reaches production's settings by
    accident: name it with --base if that is meant)."""
    declared = stack_file.core.environments
    chosen = base or stack_file.core.default_environment or (
        DEFAULT_ENV if DEFAULT_ENV in declared or not declared else next(iter(declared)))
    section = declared.get(chosen)
    if section is not None and section.protected and base is None:
        raise StackformError(f"the default environment {chosen} is protected",
                             hint="name the environment to test from with --base NAME")
    return chosen


def check_new_name(stack_file: StackFile, name: str, existing: State | None) -> None:
    """A throwaway name is neither declared nor an environment with state."""
    if name in stack_file.core.environments:
        raise StackformError(f"{name} is a declared environment, not a throwaway one",
                             hint="pass another --env (the default is ci-<id> or "
                                  "test-<you>)")
    if existing is not None:
        hint = (f"a killed test left it: `stackform env destroy {name}` removes it"
                if existing.throwaway is not None else "choose another --env")
        raise StackformError(f"environment {name} already has state", hint=hint)


def mark(session: Session, base: str) -> State:
    """Write the throwaway environment's first state: empty, marked (under its lock)."""
    state = State.new(session.stack.env, session.stack.name)
    state = State(env=state.env, lineage=state.lineage, serial=0, stack=state.stack,
                  throwaway={"created_at": utc_now(), "base": base})
    session.backend.write(session.stack.env, state, None)
    return state


def owned_schemas(session: Session, only: Iterable[str] | None = None
                  ) -> dict[WarehouseSchema, str]:
    """Each schema the environment's blocks write, and the block writing it."""
    ctx = make_context(session.stack, fingerprinter(""))
    found: dict[WarehouseSchema, str] = {}
    wanted = set(only) if only is not None else None
    for address, resource in session.stack.resources.items():
        provider = session.registry.get(resource.kind)
        if (wanted is None or address in wanted) and isinstance(provider, OwnsSchemas):
            for schema in provider.owned_schemas(ctx, resource):
                found.setdefault(schema, address)
    return found


def _others(session: Session) -> Iterable[tuple[str, Callable[[], Session]]]:
    """Every other environment (declared, or with state), and how to open it."""
    stack = session.stack
    names = dict.fromkeys([*session.stack_file.core.environments,
                           *session.backend.environments()])
    for name in names:
        if name == stack.env:
            continue
        base: str | None = None
        if name not in session.stack_file.core.environments:
            try:
                other = session.backend.read(name)
            except StackformError:
                continue
            base = other.throwaway.get("base") if other and other.throwaway else None

        def opener(name: str = name, base: str | None = base) -> Session:
            return open_session(stack.dir, stack.file, name, strict_secrets=False,
                                exact_env=True, base_env=base)

        yield name, opener


def check_no_shared_schemas(session: Session) -> None:
    """Refuse a throwaway environment writing a schema another environment writes (its
    drop at the end would drop the other's tables), located at the block."""
    mine = owned_schemas(session)
    if not mine:
        return
    diagnostics: list[Diagnostic] = []
    for name, opener in _others(session):
        try:
            theirs = owned_schemas(opener())
        except StackformError:
            continue  # an environment that does not resolve writes nothing we can know
        for schema in sorted(set(mine) & set(theirs)):
            address = mine[schema]
            kind, _, block = address.partition(".")
            diagnostics.append(Diagnostic(
                f"{address} writes schema {schema} in {session.stack.env} and in {name}: "
                "destroying the test environment would drop the other's tables",
                path=address, location=session.stack_file.location((kind, block), True),
                hint="name the schema per environment, e.g. \"raw_${stack.env_id}\""))
    if diagnostics:
        raise ConfigError(diagnostics)


def drop_schemas(session: Session, state: State | None,
                 say: Callable[[str], None]) -> list[str]:
    """Drop the schemas of every block the state records (only for a throwaway state)."""
    if state is None or state.throwaway is None:
        return []
    ctx = make_context(session.stack, fingerprinter(state.lineage))
    dropped: list[str] = []
    for address in sorted(state.resources):
        resource = session.stack.resources.get(address)
        provider = session.registry.get(resource.kind) if resource else None
        if resource is not None and isinstance(provider, OwnsSchemas):
            for line in provider.drop_schemas(ctx, resource):
                say(f"dropped schema {line}")
                dropped.append(line)
    return dropped


def remove_leftovers(session: Session) -> None:
    """The environment's own folder under .stackform/ (rendered plugin configs, runtime
    folders) once its resources are destroyed."""
    work_dir = make_context(session.stack, fingerprinter("")).work_dir
    shutil.rmtree(work_dir, ignore_errors=True)
