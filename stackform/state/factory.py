"""Pick the state backend a stack's ``[state]`` table asks for, scoped to the stack.

A state location can be shared: two stack files in one folder, one ``[state] path`` or one
bucket for several stacks. So every key is scoped to the stack's name
(``<folder>/<stack>/<env>.json``, ``s3://BUCKET/PREFIX/<stack>/state/<env>.json``), and a
backend refuses documents of another stack or environment. stackform 0.1 kept keys unscoped;
:func:`legacy_backend_for` reads that layout so ``stackform state upgrade`` can move it.

Kept free of heavy imports: a backend's client library (boto3 for S3) is imported only when that
backend is used, so commands that never touch state stay fast.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stackform.errors import StackformError
from stackform.s3.settings import S3Settings
from stackform.state.backend import StateBackend
from stackform.state.local import LocalBackend

DEFAULT_LOCAL_PATH = Path(".stackform") / "state"
_BACKENDS = ("local", "s3")
_LOCAL_KEYS = frozenset({"backend", "path"})


def backend_for(settings: Mapping[str, Any], stack_dir: Path, stack: str) -> StateBackend:
    """The backend for ``settings`` (the ``[state]`` table, relative to ``stack_dir``), holding
    the states of the stack named ``stack`` under keys of its own."""
    return _backend(settings, stack_dir, stack)


def legacy_backend_for(settings: Mapping[str, Any], stack_dir: Path) -> StateBackend:
    """The same location with the unscoped keys of stackform 0.1 (any stack's documents)."""
    return _backend(settings, stack_dir, None)


def local_state_folder(settings: Mapping[str, Any], stack_dir: Path) -> Path | None:
    """The folder of the local backend (before scoping), ``None`` for another backend."""
    if settings.get("backend", "local") != "local":
        return None
    unknown = sorted(set(settings) - _LOCAL_KEYS)
    if unknown:
        raise StackformError(
            f"the local state backend does not take {', '.join(repr(k) for k in unknown)} "
            "in [state]",
            hint="it takes only `path` (a folder, relative to the stack file); "
            'bucket, prefix and region belong to backend = "s3"',
        )
    path = settings.get("path")
    if path is None:
        return stack_dir / DEFAULT_LOCAL_PATH
    if not isinstance(path, str | Path) or not str(path).strip():
        raise StackformError(
            f"state.path must be a folder path, not {path!r}",
            hint='for example path = ".stackform/state"',
        )
    # An absolute path stays as it is; a relative one is taken from the stack's folder, not
    # from wherever the command was started.
    return stack_dir / Path(path).expanduser()


def _backend(settings: Mapping[str, Any], stack_dir: Path, stack: str | None) -> StateBackend:
    kind = settings.get("backend", "local")
    if kind == "local":
        folder = local_state_folder(settings, stack_dir)
        assert folder is not None
        return LocalBackend(folder / stack if stack else folder, stack=stack)
    if kind == "s3":
        # The S3 backend, with its client, only for a stack that uses it.
        from stackform.state.s3 import S3Backend

        s3 = S3Settings.from_table(settings)
        return S3Backend(s3.with_prefix(s3.key(stack)) if stack else s3, stack=stack)
    raise StackformError(
        f"unknown state backend {kind!r} in [state]",
        hint="backend is one of " + ", ".join(repr(b) for b in _BACKENDS),
    )
