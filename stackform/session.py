"""One stack and one environment, opened for a command: the layer the CLI calls.

It ties the pieces together (load and resolve the stack, build the graph, pick the state
backend, plan, lock and apply) and returns data; rendering stays in the CLI.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from stackform.config.loader import StackFile, find_stack_file, load_stack_file
from stackform.config.model import ResolvedStack
from stackform.config.resolve import resolve
from stackform.errors import StackformError
from stackform.gitinfo import git_info
from stackform.graph import checked_dependencies
from stackform.registry import Registry
from stackform.runs.factory import run_store_for
from stackform.state.factory import backend_for, legacy_backend_for
from stackform.state.upgrade import legacy_state_error, owned

if TYPE_CHECKING:
    # Apply's machinery is imported when a session applies (`run` and `plan` never do), the
    # plan builder when it plans (`run` does not).
    import threading

    from stackform.plan.apply import ApplyEvent, ApplyResult
    from stackform.plan.builder import PlanOptions
    from stackform.plan.model import Plan
    from stackform.runs.store import RunStore
    from stackform.state.backend import StateBackend
    from stackform.state.model import GitInfo, State


@dataclass
class Session:
    """A resolved stack for one environment, with its state backend."""

    stack_file: StackFile
    stack: ResolvedStack
    registry: Registry
    log: Callable[[str], None] = field(default=lambda _m: None)

    @cached_property
    def dependencies(self) -> dict[str, tuple[str, ...]]:
        """Each resource's direct dependencies; a cycle is a ConfigError located in the file."""
        return checked_dependencies(self.stack_file, self.stack)

    @cached_property
    def backend(self) -> StateBackend:
        return backend_for(self.stack.state, self.stack.dir, self.stack.name)

    @cached_property
    def run_store(self) -> RunStore:
        """Bookmarks, run history and logs, beside the state and scoped like it."""
        return run_store_for(self.stack.state, self.stack.dir, self.stack.name)

    @cached_property
    def git(self) -> GitInfo:
        return git_info(self.stack.dir)

    def read_state(self) -> State | None:
        """This environment's state; a state still under stackform 0.1's unscoped key is an
        error naming ``stackform state upgrade``, never taken for "no state"."""
        state = self.backend.read(self.stack.env)
        if state is None:
            legacy = legacy_backend_for(self.stack.state, self.stack.dir)
            if owned(legacy, self.stack.env, self.stack.name):
                raise legacy_state_error(legacy, self.stack.env)
        return state

    def plan(self, options: PlanOptions | None = None, state: State | None = None,
             state_read: bool = False, with_git: bool = True) -> Plan:
        """Plan against ``state`` (read here unless ``state_read``). ``with_git`` records the
        commit being planned, for saved and rendered plans; apply records git itself when it
        writes state, so a plan it makes for itself skips it (gitpython costs start-up)."""
        from stackform.plan.builder import PlanOptions, build_plan

        if not state_read:
            state = self.read_state()
        git: dict[str, object] = {}
        if with_git:
            git = git_info(self.stack.dir, check_dirty=False).to_json()
        return build_plan(self.stack, state, self.registry, self.dependencies,
                          options or PlanOptions(), log=self.log, git=git)

    def apply(
        self,
        plan: Plan,
        state: State | None,
        *,
        parallelism: int = 4,
        on_event: Callable[[ApplyEvent], None] = lambda _e: None,
        cancel: threading.Event | None = None,
    ) -> ApplyResult:
        """Apply a plan; the caller holds the lock and passes the state it read under it."""
        from stackform.plan.apply import apply_plan
        from stackform.plan.saved import check_fresh
        from stackform.state.errored import save_errored

        check_fresh(plan, self.stack, state)
        result = apply_plan(plan, self.stack, state, self.backend, self.registry,
                            git=self.git, parallelism=parallelism, on_event=on_event,
                            log=self.log, cancel=cancel)
        if result.unsaved is not None:
            from dataclasses import replace

            result = replace(result, errored_path=save_errored(self.stack.dir, result.unsaved))
        return result


def open_session(
    directory: Path | None = None,
    file: Path | None = None,
    env: str | None = None,
    *,
    registry: Registry | None = None,
    strict_secrets: bool = True,
    environ: Mapping[str, str] | None = None,
    log: Callable[[str], None] = lambda _m: None,
    exact_env: bool = False,
    base_env: str | None = None,
) -> Session:
    registry = registry or Registry()
    path = find_stack_file(directory, file)
    stack_file = load_stack_file(path, registry)
    try:
        stack = resolve(stack_file, env, registry, environ=environ,
                        strict_secrets=strict_secrets, exact_env=exact_env, base_env=base_env)
    except StackformError:
        # An undeclared name may be a kept throwaway environment (`stackform test --keep`):
        # its state names the base it was made from, and it resolves as it was made.
        base = _throwaway_base(stack_file, env, registry, environ) if base_env is None else None
        if base is None:
            raise
        stack = resolve(stack_file, env, registry, environ=environ,
                        strict_secrets=strict_secrets, exact_env=True, base_env=base or None)
    session = Session(stack_file, stack, registry, log)
    session.dependencies  # noqa: B018 - a cycle is a stack error: report it up front
    return session


def _throwaway_base(stack_file: StackFile, env: str | None, registry: Registry,
                    environ: Mapping[str, str] | None) -> str | None:
    """The base recorded in ``env``'s state when it is a throwaway environment (``""`` for
    one made without a declared base), else ``None``."""
    if not env or env in stack_file.core.environments:
        return None
    try:
        # The state's location does not depend on the environment: any resolution finds it.
        any_env = resolve(stack_file, None, registry, environ=environ, strict_secrets=False)
        state = backend_for(any_env.state, any_env.dir, any_env.name).read(env)
    except StackformError:
        return None
    if state is None or state.throwaway is None:
        return None
    return str(state.throwaway.get("base") or "")
