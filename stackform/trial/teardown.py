"""Removing a throwaway environment with everything it made: its warehouse schemas (through
the providers that own them), its resources (a destroy), every trace of its state (current
document, backup, history, lock: ``StateBackend.purge``), its run state (bookmarks, run
history, logs) and its folder under ``.stackform/``.

Schemas are dropped first: dbt names the schemas it built in its manifest, which the destroy
removes with the rest of its folder. A failure anywhere keeps the state (still marked), so
``stackform env destroy`` (or ``--older-than``) can finish the job.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from stackform.errors import StackformError
from stackform.plan.builder import PlanOptions
from stackform.plan.model import PlanMode
from stackform.session import Session, open_session
from stackform.state.backend import StateBackend
from stackform.trial.envs import drop_schemas, remove_leftovers


def throwaway_base(backend: StateBackend, env: str) -> str | None:
    """The base of ``env`` when its state marks it throwaway, else ``None``."""
    try:
        state = backend.read(env)
    except StackformError:
        return None
    if state is None or state.throwaway is None:
        return None
    return state.throwaway.get("base") or ""


def open_throwaway(directory: Path | None, file: Path | None, env: str, base: str) -> Session:
    """The session of a throwaway environment, secrets included (dropping a schema in
    PostgreSQL needs the password)."""
    return open_session(directory, file, env, exact_env=True, base_env=base or None)


def destroy_throwaway(session: Session, say: Callable[[str], None], *,
                      lock_timeout: float = 0.0, parallelism: int = 4) -> list[str]:
    """Drop, destroy and remove; return the schemas dropped (as ``schema in warehouse``)."""
    env = session.stack.env
    with session.backend.lock(env, "destroy", lock_timeout):
        state = session.read_state()
        if state is not None and state.throwaway is None:
            raise StackformError(f"{env} is not a throwaway environment",
                                 hint=f"`stackform env destroy {env}` destroys it, keeping "
                                      "its schemas")
        dropped = drop_schemas(session, state, say)
        if state is not None and state.resources:
            options = PlanOptions(mode=PlanMode.DESTROY, refresh=False,
                                  parallelism=parallelism)
            plan = session.plan(options, state, state_read=True, with_git=False)
            result = session.apply(plan, state, parallelism=parallelism,
                                   cancel=threading.Event())
            if not result.ok:
                failed = "; ".join(f"{o.address}: {o.error}" for o in result.failed)
                raise StackformError(f"destroy of {env} failed: {failed or 'interrupted'}",
                                     hint=f"`stackform env destroy {env}` tries again")
    # Nothing of a throwaway environment is kept: no history, backup or lock file (a failed
    # purge leaves the marked state for `env destroy` to retry).
    session.backend.purge(env)
    session.run_store.forget(env)
    remove_leftovers(session)
    say(f"removed {env}" + (f" and {len(dropped)} schema(s)" if dropped else ""))
    return dropped
