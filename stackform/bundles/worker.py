"""The worker's side: open the session of a pipeline run from a fetched, checked bundle.

The DAG's task calls ``stackform worker run --state LOCATION --stack NAME --env ENV --bundle
DIGEST PIPELINE``. Nothing of the worker's own disk is used but its plugin cache: the bundle
is fetched by digest (or by the digest the environment's state names, for ``current``),
checked, copied into a folder of this run, and the run reads its state, bookmarks and run
lock at the location the command names, never the one the copied stack file would give
(a relative local folder would point into the copy).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from stackform.bundles.cache import bundles_dir, fetch, run_copy
from stackform.bundles.manifest import BundleError, check_digest
from stackform.bundles.store import store_for
from stackform.session import Session, open_session
from stackform.state.factory import backend_for

CURRENT = "current"


@dataclass(frozen=True)
class Fetched:
    digest: str
    folder: Path
    downloaded: bool


def resolve_digest(table: Mapping[str, Any], stack: str, env: str, wanted: str) -> str:
    """``wanted``, or for ``current`` the digest the environment's state records."""
    if wanted != CURRENT:
        return check_digest(wanted)
    state = backend_for(table, Path("/"), stack).read(env)
    if state is None or state.bundle is None:
        raise BundleError(f"environment {env!r} of stack {stack!r} has no published bundle "
                          "in its state",
                          hint="apply the stack (with a scheduled pipeline) to publish one; "
                          "nothing was run")
    return state.bundle


def fetch_bundle(table: Mapping[str, Any], stack: str, env: str, wanted: str,
                 root: Path | None = None) -> Fetched:
    digest = resolve_digest(table, stack, env, wanted)
    folder, downloaded = fetch(store_for(table, Path("/"), stack), digest, root)
    return Fetched(digest, folder, downloaded)


@contextmanager
def bundle_session(table: Mapping[str, Any], stack: str, env: str, fetched: Fetched,
                   log: Callable[[str], None] = lambda _m: None) -> Iterator[Session]:
    """The session of a run from ``fetched``, in a private copy removed afterwards."""
    run_dir, stack_file = run_copy(fetched.folder, bundles_dir().parent / "bundle-runs")
    try:
        session = open_session(None, Path(stack_file), env, log=log, exact_env=True)
        if session.stack.name != stack:
            raise BundleError(f"bundle {fetched.digest[:12]} holds stack "
                              f"{session.stack.name!r}, not {stack!r}",
                              hint="the DAG and the bundle disagree: apply again")
        yield replace(session, stack=replace(session.stack, state=dict(table)))
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
