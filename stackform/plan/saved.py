"""Save a plan to a file, read it back, and refuse one that went stale.

A saved plan holds masked values only (secrets as fingerprints), the lineage and serial of the
state it was made against, and a digest of the resolved stack. ``apply FILE`` re-resolves the
stack and re-reads state; any difference makes the plan stale.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from stackform.config.model import ResolvedStack
from stackform.errors import StackformError, StalePlanError
from stackform.plan.model import Action, AttributeChange, Drift, Plan, ResourceChange
from stackform.resource import fingerprinter
from stackform.state.model import State

FORMAT = "stackform-plan"
VERSION = 1


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    data = asdict(plan)
    data["changes"] = [{**asdict(c), "action": c.action.value} for c in plan.changes]
    return {"format": FORMAT, "version": VERSION, "plan": data}


def _changes(items: list[dict[str, Any]]) -> tuple[AttributeChange, ...]:
    return tuple(AttributeChange(**a) for a in items)


def plan_from_dict(data: dict[str, Any]) -> Plan:
    p = dict(data["plan"])
    p["changes"] = tuple(
        ResourceChange(
            **{**c, "action": Action(c["action"]), "changes": _changes(c["changes"]),
               "dependencies": tuple(c["dependencies"]), "notes": tuple(c["notes"])}
        )
        for c in p["changes"]
    )
    p["drift"] = tuple(Drift(**{**d, "changes": _changes(d["changes"])}) for d in p["drift"])
    p["targets"] = tuple(p["targets"])
    p["warnings"] = tuple(p["warnings"])
    return Plan(**p)


def save_plan(plan: Plan, path: Path) -> None:
    """Write atomically with owner-only permissions."""
    path = path.resolve()
    text = json.dumps(plan_to_dict(plan), indent=1, default=str)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_plan(path: Path) -> Plan:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise StackformError(f"no saved plan at {path}") from exc
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StackformError(f"{path} is not a stackform plan file ({exc})") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise StackformError(f"{path} is not a stackform plan file",
                             hint="make one with `stackform plan -o FILE`")
    if data.get("version") != VERSION:
        raise StackformError(f"{path} has plan format version {data.get('version')!r}; "
                             f"this stackform reads version {VERSION}")
    try:
        return plan_from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise StackformError(f"{path} is a damaged plan file ({exc})") from exc


def check_fresh(plan: Plan, stack: ResolvedStack, state: State | None) -> None:
    """Refuse a plan made against another stack, environment or state."""
    hint = "run `stackform plan` again and review the new plan"
    if plan.stack != stack.name or plan.env != stack.env:
        raise StalePlanError(
            f"the plan is for {plan.stack}/{plan.env}, not {stack.name}/{stack.env}",
            hint="pass the environment the plan was made for with --env")
    if state is None and plan.serial is not None:
        raise StalePlanError("the plan was made against existing state, but the environment "
                             "now has none", hint=hint)
    if state is not None:
        if plan.serial is None:
            raise StalePlanError(
                f"the plan was made when {stack.env} had no state, but it has state now "
                f"(serial {state.serial}): someone applied since", hint=hint)
        if state.lineage != plan.lineage:
            raise StalePlanError(
                f"state of {stack.env} was replaced since the plan was made (lineage "
                f"{state.lineage} now, {plan.lineage} when planned)", hint=hint)
        if state.serial != plan.serial:
            raise StalePlanError(
                f"state of {stack.env} changed since the plan was made "
                f"(serial {state.serial} now, {plan.serial} when planned)", hint=hint)
    digest = stack.digest(fingerprinter(plan.lineage))
    if digest != plan.stack_digest:
        raise StalePlanError(
            "the stack file, its variables or its secrets changed since the plan was made",
            hint=hint)
