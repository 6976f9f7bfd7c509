"""Save a plan to a file, read it back, and refuse one that went stale or was edited.

A saved plan holds masked values only (secrets as fingerprints), the lineage and serial of the
state it was made against, a digest of the resolved stack, and the options it was built with.
``apply FILE`` re-resolves the stack and re-reads state (:func:`check_fresh`), then builds the
plan again from them and the recorded options and refuses unless its changes and drift are
exactly the saved ones (:func:`check_unedited`): a plan file edited after review, or a world
that moved since, is never carried out.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from stackform.config.model import ResolvedStack
from stackform.errors import StackformError, StalePlanError
from stackform.fileio import atomic_write
from stackform.plan.builder import PlanOptions, build_plan, diff_attributes
from stackform.plan.model import Action, AttributeChange, Drift, Plan, PlanMode, ResourceChange
from stackform.registry import Registry
from stackform.resource import fingerprinter, redact
from stackform.state.model import State

FORMAT = "stackform-plan"
VERSION = 2
"""2: the options a plan was built with are recorded (``replace``, ``provider_options``), so
apply can build it again; a version 1 plan cannot be checked and is refused."""
STALE_HINT = "run `stackform plan` again and review the new plan"


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
    p["replace"] = tuple(p["replace"])
    if not isinstance(p["provider_options"], dict):
        raise TypeError("provider_options is not a table")
    return Plan(**p)


def save_plan(plan: Plan, path: Path) -> None:
    """Write atomically with owner-only permissions."""
    text = json.dumps(plan_to_dict(plan), indent=1, default=str)
    atomic_write(path.resolve(), text.encode(), 0o600)


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
                             f"this stackform reads version {VERSION}", hint=STALE_HINT)
    _check_mode(path, data)
    try:
        return plan_from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise StackformError(f"{path} is a damaged plan file ({exc})") from exc


def _check_mode(path: Path, data: dict[str, Any]) -> None:
    """Refuse a plan whose mode this stackform does not know: what would apply do with it?"""
    plan = data.get("plan")
    if not isinstance(plan, dict) or "mode" not in plan:
        return  # a damaged file, which plan_from_dict names
    if plan["mode"] not in tuple(PlanMode):
        raise StackformError(
            f"{path} is a plan of mode {plan['mode']!r}, which this stackform does not know "
            f"(it knows {', '.join(m.value for m in PlanMode)})", hint=STALE_HINT)


def check_fresh(plan: Plan, stack: ResolvedStack, state: State | None) -> None:
    """Refuse a plan made against another stack, environment or state."""
    hint = STALE_HINT
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


# -- built again, compared -------------------------------------------------------------------


def options_of(plan: Plan, parallelism: int = 4) -> PlanOptions:
    """The options ``plan`` was built with (``parallelism`` changes how, not what)."""
    return PlanOptions(mode=plan.mode, refresh=plan.refreshed, targets=tuple(plan.targets),
                       replace=tuple(plan.replace), parallelism=parallelism,
                       provider_options=dict(plan.provider_options))


def option_flags(options: PlanOptions) -> list[str]:
    """The command-line flags that give ``options`` (what a reviewer sees in the commands)."""
    flags = {PlanMode.DESTROY: ["--destroy"],
             PlanMode.REFRESH_ONLY: ["--refresh-only"]}.get(options.mode, [])
    flags += [f"--target {t}" for t in sorted(set(options.targets))]
    flags += [f"--replace {r}" for r in sorted(set(options.replace))]
    if not options.refresh:
        flags.append("--refresh=false")
    flags += [f"--provider-option {name}"
              for name, on in sorted(options.provider_options.items()) if on]
    return flags


def check_stated(plan: Plan, stated: PlanOptions) -> None:
    """Refuse a saved plan whose options the apply command does not state itself.

    A plan file records the options it was made with, but anyone who can edit the file can
    change them together with the changes (a normal plan turned into ``--destroy --target X``
    with exactly the delete that gives), and :func:`check_unedited` cannot tell: it rebuilds
    with the file's own options. The apply command is what a team reviews and trusts (the CI
    configuration), so it must say every option that is not the default."""
    recorded, said = option_flags(options_of(plan)), option_flags(stated)
    if recorded != said:
        made = " ".join(recorded) or "no option"
        given = " ".join(said) or "none"
        raise StalePlanError(
            f"the saved plan was made with {made}, but the apply command states {given}",
            hint="a plan's options live in its file, which anyone who can edit the file can "
            "change: apply it with exactly the options you reviewed, `stackform apply "
            + " ".join([*recorded, "PLANFILE"]) + "`")


def rebuild(plan: Plan, stack: ResolvedStack, state: State | None, registry: Registry,
            dependencies: Mapping[str, tuple[str, ...]], *, parallelism: int = 4,
            log: Callable[[str], None] = lambda _m: None) -> Plan:
    """The plan the stack and state (as they are now) give with ``plan``'s options."""
    return build_plan(stack, state, registry, dependencies, options_of(plan, parallelism),
                      log=log, lineage=plan.lineage)


def check_unedited(saved: Plan, rebuilt: Plan) -> None:
    """Refuse ``saved`` unless its changes and drift are exactly ``rebuilt``'s.

    Compared: every change (no-ops too) with its address, kind, action, before and after,
    attribute changes, reason, dependencies and notes, and every drift entry. Not compared:
    what cannot move what apply does (``created_at``, git, warnings); the stack digest, lineage
    and serial are :func:`check_fresh`'s."""
    was, now = _canonical(saved.changes), _canonical(rebuilt.changes)
    problem = (_first_difference("change", _by_address(was), _by_address(now), _CHANGE_FIELDS)
               or _first_difference("drift", _by_address(_canonical(saved.drift)),
                                    _by_address(_canonical(rebuilt.drift)), _DRIFT_FIELDS))
    if problem is None and was != now:
        problem = "the saved plan lists its changes in another order, or one twice"
    if problem is not None:
        raise StalePlanError(f"{problem}: the plan file was edited, or the world moved since "
                             "the plan was made", hint=STALE_HINT)


_CHANGE_FIELDS = ("kind", "action", "before", "after", "changes", "reason", "dependencies",
                  "notes")
_DRIFT_FIELDS = ("kind", "before", "after", "changes")


def _canonical(entries: Sequence[ResourceChange | Drift]) -> list[dict[str, Any]]:
    """``entries`` as they read back from a plan file, so a built plan compares with a loaded
    one (tuples as lists, dates as strings...)."""
    canonical: list[dict[str, Any]] = json.loads(json.dumps([_entry(e) for e in entries],
                                                            default=str))
    return canonical


def _entry(entry: ResourceChange | Drift) -> dict[str, Any]:
    data = asdict(entry)
    if isinstance(entry, ResourceChange):
        data["action"] = entry.action.value
    return data


def _by_address(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["address"]: e for e in entries}


def _first_difference(what: str, saved: Mapping[str, dict[str, Any]],
                      now: Mapping[str, dict[str, Any]], fields: Sequence[str]) -> str | None:
    for address in sorted({*saved, *now}):
        was, new = saved.get(address), now.get(address)
        if was is None:
            assert new is not None
            return (f"the saved plan has no {what} for {address}, the stack and state now give "
                    f"{_summary(what, new)}")
        if new is None:
            return (f"the saved plan says {_summary(what, was)} for {address}, the stack and "
                    f"state now give no {what} for it")
        for field in fields:
            if was.get(field) != new.get(field):
                said, given = _field_difference(field, was.get(field), new.get(field))
                return (f"the saved plan says {said} for {address}, the stack and state now "
                        f"give {given}")
    return None


def _summary(what: str, entry: Mapping[str, Any]) -> str:
    return str(entry.get("action")) if what == "change" else "drift"


def _field_difference(field: str, was: Any, new: Any) -> tuple[str, str]:
    if field in ("before", "after") and isinstance(was, dict) and isinstance(new, dict):
        first = next(iter(diff_attributes(was, new)), None)
        if first is not None:
            name = f"{field}.{first.path}"
            return f"{name} = {_shown(first.before)}", _shown(first.after)
    if field == "action":
        return str(was), str(new)
    return f"{field} = {_shown(was)}", _shown(new)


def _shown(value: Any, limit: int = 80) -> str:
    text = json.dumps(redact(value), default=str, sort_keys=True)
    return text if len(text) <= limit else text[:limit - 3] + "..."
