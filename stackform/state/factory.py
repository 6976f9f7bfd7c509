"""Pick the state backend a stack's ``[state]`` table asks for.

Kept free of heavy imports: a backend's client library (boto3 for S3) is imported only when that
backend is used, so commands that never touch state stay fast.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stackform.errors import StackformError
from stackform.state.backend import StateBackend

DEFAULT_LOCAL_PATH = Path(".stackform") / "state"
_BACKENDS = ("local", "s3")
_LOCAL_KEYS = frozenset({"backend", "path"})


def backend_for(settings: Mapping[str, Any], stack_dir: Path) -> StateBackend:
    """The backend for ``settings`` (the ``[state]`` table), relative to ``stack_dir``."""
    kind = settings.get("backend", "local")
    if kind == "local":
        return _local(settings, stack_dir)
    if kind == "s3":
        from stackform.s3.settings import S3Settings
        from stackform.state.s3 import S3Backend

        return S3Backend(S3Settings.from_table(settings))
    raise StackformError(
        f"unknown state backend {kind!r} in [state]",
        hint="backend is one of " + ", ".join(repr(b) for b in _BACKENDS),
    )


def _local(settings: Mapping[str, Any], stack_dir: Path) -> StateBackend:
    from stackform.state.local import LocalBackend

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
        return LocalBackend(stack_dir / DEFAULT_LOCAL_PATH)
    if not isinstance(path, str | Path) or not str(path).strip():
        raise StackformError(
            f"state.path must be a folder path, not {path!r}",
            hint='for example path = ".stackform/state"',
        )
    # An absolute path stays as it is; a relative one is taken from the stack's folder, not
    # from wherever the command was started.
    return LocalBackend(stack_dir / Path(path).expanduser())
