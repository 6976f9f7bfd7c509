"""The errored-state file: what an apply could not store, kept so that nothing is lost.

When the backend refuses a write (another writer moved the state, S3 is unreachable), the
resources that finished are real but unrecorded. Their state goes to
``<stack dir>/.stackform/errored/<stack>/<env>-<time>.json`` (0600; fingerprints only, never a
secret), for the user to look at and then ``stackform state push`` once they know it is right.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from stackform.fileio import atomic_write
from stackform.state.model import State

ERRORED_FOLDER = Path(".stackform") / "errored"


def save_errored(stack_dir: Path, state: State) -> Path:
    folder = stack_dir / ERRORED_FOLDER / state.stack
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"{state.env}-{stamp}.json"
    atomic_write(path, state.pretty().encode(), 0o600)
    return path
