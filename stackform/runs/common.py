"""What every run-state store shares: name rules, record fields, bookmark documents, errors."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime

from stackform.errors import RunLockedError, StackformError
from stackform.runs.model import Bookmark, RunRecord
from stackform.state.backend import LockInfo

PIPELINE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,199}$")
"""Pipeline names as the stack file allows them."""
KEY = re.compile(r"^(?=.{1,200}$)[A-Za-z0-9_][A-Za-z0-9_@+-]*(\.[A-Za-z0-9_][A-Za-z0-9_@+-]*)*$")
"""Dot-separated names (``daily.orders``): no '/', no empty or dot-leading part."""
RUN_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:+-]{0,127}$")

LOCK_ID_FIELD = "_lock_id"
"""Extra field of a stored run record: the id of the run lock its process held at start."""
STARTED_NS_FIELD = "_started_ns"
"""Extra field of a stored run record: a fine-grained start time, to order runs of one second."""


def check_name(value: str, pattern: re.Pattern[str], what: str, hint: str) -> None:
    if not isinstance(value, str) or not pattern.match(value):
        raise StackformError(f"{value!r} is not a valid {what} for run state", hint=hint)


def dump_bookmark(bookmark: Bookmark) -> bytes:
    return json.dumps(
        {"key": bookmark.key, "value": bookmark.value, "updated_at": bookmark.updated_at,
         "run_id": bookmark.run_id},
        separators=(",", ":"),
    ).encode()


def parse_bookmark(data: bytes, where: str) -> Bookmark:
    try:
        doc = json.loads(data)
        if not isinstance(doc, dict) or not isinstance(doc.get("value"), dict):
            raise ValueError("not a bookmark document")
        run_id = doc.get("run_id")
        return Bookmark(key=str(doc["key"]), value=doc["value"],
                        updated_at=str(doc.get("updated_at") or ""),
                        run_id=run_id if isinstance(run_id, str) else None)
    except (ValueError, KeyError) as exc:
        raise StackformError(
            f"bookmark {where} is unreadable: {exc}",
            hint="restore it from bookmarks/.cleared or fix it by hand; or clear it with "
            "`stackform bookmarks clear` for a full re-sync",
        ) from exc


def timestamp(text: str) -> float:
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return 0.0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def locked_error(env: str, pipeline: str, holder: LockInfo | None,
                  timeout: float) -> RunLockedError:
    if holder is not None:
        who = (f"{holder.operation or 'a run'} by {holder.user}@{holder.host} "
               f"(pid {holder.pid}) since {holder.created_at}")
    else:
        who = "a process that left no holder record"
    waited = f" (waited {timeout:g}s)" if timeout > 0 else ""
    return RunLockedError(
        f"pipeline {pipeline!r} is already running in {env!r}{waited}: {who}",
        hint=f"wait for it to finish; `stackform runs {pipeline} --env {env}` shows it",
    )




def interrupted(record: RunRecord) -> RunRecord:
    """A ``running`` record whose process is known to be gone."""
    return replace(
        record, status="interrupted",
        error=record.error or "the process running it stopped before it finished "
        "(killed, or the machine went down)",
    )
