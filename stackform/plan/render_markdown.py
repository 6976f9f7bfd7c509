"""Render a plan as a merge-request comment (GitHub / GitLab flavoured markdown).

A summary table, warnings, drift, then one collapsible ``<details>`` section per changed
resource with its attribute diff. Sensitive values show as ``(sensitive)``: the plan holds only
fingerprints, and those are never printed. The comment stays under :data:`MAX_CHARS` (GitHub
refuses comments over 65,536): past that, values and sections are shortened, later resources
are summarised in one line each, and the comment says so at the top. Control characters from
the stack or state show as visible escapes (:mod:`stackform.textsafe`), and no name or value can
start a line of its own.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stackform.plan.model import (
    Action,
    AttributeChange,
    Drift,
    Plan,
    PlanMode,
    ResourceChange,
)
from stackform.plan.words import VERB, value_lines, value_text
from stackform.resource import SENSITIVE_SHOWN
from stackform.textsafe import safe_text

if TYPE_CHECKING:
    from stackform.plan.changed import ChangedSince

MAX_CHARS = 60_000
"""The comment is always shorter than this."""

@dataclass(frozen=True)
class _Limits:
    value: int
    """Longest one-line rendering of one value (drift and warnings); in a diff, the full
    limits fold a long value over several lines instead of cutting it."""
    fold: bool
    """Diff values whole, folded like the text plan; else cut to ``value`` on one line."""
    lines: int
    """Most diff lines (and notes) per resource."""
    items: int
    """Most warnings, drift entries and blast-radius entries listed."""


_FULL = _Limits(value=2_000, lines=10_000, items=10_000, fold=True)
_SHORT = _Limits(value=120, lines=25, items=20, fold=False)


def _value(value: Any, limit: int, sensitive: bool = False) -> str:
    text = SENSITIVE_SHOWN if sensitive else value_text(value)
    if len(text) > limit:
        text = f"{text[:limit]}… ({len(text)} chars)"
    return text


def _code(text: str) -> str:
    """Inline code safe in a table cell or list item."""
    text = text.replace("|", "\\|").replace("\n", " ")
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _cell(text: str) -> str:
    return html.escape(text, quote=False).replace("|", "\\|").replace("\n", " ")


def _fence(body: str) -> str:
    longest = run = 0
    for ch in body:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)


def _diff_lines(change: ResourceChange, limits: _Limits) -> list[str]:
    attrs: tuple[AttributeChange, ...] = tuple(
        a for a in change.changes if a.before is not None or a.after is not None)
    if not attrs and change.action is Action.DELETE and change.before:
        attrs = tuple(AttributeChange(k, v, None) for k, v in change.before.items()
                      if v is not None)
    width = max((len(a.path) for a in attrs), default=0)
    lines: list[str] = []
    for a in attrs:
        name = safe_text(a.path.ljust(width), newlines=False)
        before = _diff_value(a.before, limits, a.sensitive)
        after = _diff_value(a.after, limits, a.sensitive)
        if change.action is Action.CREATE or (a.before is None
                                               and change.action is not Action.DELETE):
            lines.extend(_folded(f"+ {name} = ", after))
        elif change.action is Action.DELETE or a.after is None:
            lines.extend(_folded(f"- {name} = ", before))
        elif len(before) == len(after) == 1:
            forces = "  # forces replacement" if a.force_new else ""
            lines.append(f"~ {name} = {before[0]} -> {after[0]}{forces}")
        else:
            lines.append(f"~ {safe_text(a.path, newlines=False)}:"
                         + ("  # forces replacement" if a.force_new else ""))
            lines.extend(_folded("    - ", before))
            lines.extend(_folded("    + ", after))
    if len(lines) > limits.lines:
        hidden = len(lines) - limits.lines
        lines = [*lines[:limits.lines], f"# … {hidden} more attribute{_s(hidden)} not shown"]
    return lines


def _diff_value(value: Any, limits: _Limits, sensitive: bool) -> list[str]:
    if limits.fold and not sensitive:
        return [safe_text(line, newlines=False) for line in value_lines(value)]
    return [safe_text(_value(value, limits.value, sensitive), newlines=False)]


def _folded(lead: str, lines: list[str]) -> list[str]:
    """``lead`` then the value, its further lines aligned under its first."""
    pad = " " * len(lead)
    return [lead + lines[0], *(pad + line for line in lines[1:])]


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def _mark(address: str, changed: ChangedSince | None) -> str:
    if changed is None:
        return ""
    if address in changed.touched:
        return " — touched by the change"
    if address in changed.downstream:
        return " — downstream of the change"
    return ""


def _summary_line(change: ResourceChange, changed: ChangedSince | None) -> str:
    why = f" ({change.reason})" if change.reason else ""
    text = (f"<code>{html.escape(change.action.symbol.strip() or '=')} "
            f"{html.escape(change.address)}</code> {VERB[change.action]}"
            f"{html.escape(why)}{html.escape(_mark(change.address, changed))}")
    return safe_text(text, newlines=False)


def render_change(change: ResourceChange, limits: _Limits = _FULL,
                  changed: ChangedSince | None = None) -> str:
    parts = ["<details>", f"<summary>{_summary_line(change, changed)}</summary>", ""]
    diff = _diff_lines(change, limits)
    if diff:
        body = "\n".join(diff)
        fence = _fence(body)
        parts += [f"{fence}diff", body, fence, ""]
    notes = list(change.notes)
    if len(notes) > limits.lines:
        hidden = len(notes) - limits.lines
        notes = [*notes[:limits.lines], f"… {hidden} more note{_s(hidden)} not shown"]
    for note in notes:
        text = note if len(note) <= limits.value * 2 else f"{note[:limits.value * 2]}…"
        parts.append(f"- {_cell(text)}")
    if notes:
        parts.append("")
    parts += ["</details>", ""]
    return "\n".join(parts)


def _one_line(change: ResourceChange, changed: ChangedSince | None) -> str:
    n = len(change.changes)
    attrs = f", {n} attribute{_s(n)}" if n else ""
    why = f" ({change.reason})" if change.reason else ""
    return (f"- {_code(f'{change.action.symbol.strip()} {change.address}')} "
            f"{VERB[change.action]}{_cell(why)}{attrs}{_cell(_mark(change.address, changed))}")


def _git_cell(git: Mapping[str, Any]) -> str:
    commit = git.get("commit")
    if not commit:
        return "—"
    text = _code(str(commit)[:12])
    if git.get("branch"):
        text += f" on {_code(str(git['branch']))}"
    if git.get("user"):
        text += f" by {_cell(str(git['user']))}"
    if git.get("dirty"):
        text += " (with uncommitted changes)"
    return text


def _header(plan: Plan) -> list[str]:
    counts = plan.counts()
    rows = [("Environment", _code(plan.env))]
    if plan.mode is not PlanMode.NORMAL:
        rows.append(("Mode", _cell(plan.mode.value)))
    if plan.targets:
        rows.append(("Targets", ", ".join(_code(t) for t in plan.targets)))
    if plan.mode is PlanMode.REFRESH_ONLY:
        rows.append(("Changed outside stackform", str(len(plan.drift))))
    else:
        rows += [("To add", str(counts[Action.CREATE])),
                 ("To change", str(counts[Action.UPDATE])),
                 ("To replace", str(counts[Action.REPLACE])),
                 ("To destroy", str(counts[Action.DELETE]))]
    rows.append(("Planned commit", _git_cell(plan.git)))
    rows.append(("Last applied", _git_cell(plan.applied_git) if plan.applied_git
                 else "never"))
    lines = [f"### stackform plan: {_code(plan.stack)} in {_code(plan.env)}", "",
             "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    return lines


def _limited(items: list[str], limit: int, what: str) -> list[str]:
    if len(items) <= limit:
        return items
    hidden = len(items) - limit
    return [*items[:limit], f"- … {hidden} more {what} not shown"]


def _warnings(plan: Plan, limits: _Limits) -> list[str]:
    if not plan.warnings:
        return []
    items = [f"- {_cell(w if len(w) <= limits.value * 4 else w[:limits.value * 4] + '…')}"
             for w in plan.warnings]
    return ["", "#### Warnings", "", *_limited(items, limits.items, "warnings")]


def _drift_item(drift: Drift, limits: _Limits) -> list[str]:
    if drift.after is None:
        return [f"- {_code(drift.address)} is gone"]
    lines = [f"- {_code(drift.address)} changed:"]
    for a in drift.changes[:limits.lines]:
        lines.append(f"  - {_code(a.path)}: "
                     f"{_code(_value(a.before, limits.value, a.sensitive))} → "
                     f"{_code(_value(a.after, limits.value, a.sensitive))}")
    if len(drift.changes) > limits.lines:
        lines.append(f"  - … {len(drift.changes) - limits.lines} more not shown")
    return lines


def _drift(plan: Plan, limits: _Limits) -> list[str]:
    if not plan.drift:
        return []
    lines = ["", "#### Changed outside stackform", "",
             "Found while refreshing; applying records them in state."
             if plan.mode is PlanMode.REFRESH_ONLY else "Found while refreshing.", ""]
    for i, drift in enumerate(plan.drift):
        if i >= limits.items:
            lines.append(f"- … {len(plan.drift) - i} more not shown")
            break
        lines += _drift_item(drift, limits)
    return lines


def _blast_radius(changed: ChangedSince | None, limits: _Limits) -> list[str]:
    if changed is None:
        return []
    lines = ["", f"#### Blast radius of the change since {_code(changed.ref)}", ""]
    if not changed.touched:
        lines.append(f"No resource is touched by the {len(changed.files)} changed "
                     f"file{_s(len(changed.files))}.")
        return lines
    touched = [f"- {_code(a)}: {_cell('; '.join(r))}" for a, r in changed.touched.items()]
    lines += ["Touched:", "", *_limited(touched, limits.items, "resources")]
    if changed.downstream:
        down = [f"- {_code(a)}" for a in changed.downstream]
        lines += ["", "Downstream:", "", *_limited(down, limits.items, "resources")]
    return lines


def _impact(plan: Plan, limits: _Limits) -> list[str]:
    """The lineage section: what the changes break or affect downstream (docs/lineage.md)."""
    from stackform.lineage.impact import impact_lines

    found = impact_lines(plan.impact) if plan.actionable else []
    if not found:
        return []
    title = ("#### Breaks downstream" if plan.breaking else "#### Downstream (lineage)")
    items = [f"- {_code(line)}" for line in found]
    return ["", title, "", *_limited(items, limits.items, "lineage lines")]


def _footer(plan: Plan) -> list[str]:
    return ["", f"<sub>stackform {html.escape(plan.tool_version)} · planned "
                f"{html.escape(plan.created_at)} · state serial "
                f"{plan.serial if plan.serial is not None else 'none'}</sub>", ""]


def _assemble(plan: Plan, limits: _Limits, changed: ChangedSince | None,
              notice: str | None, sections: Iterable[str]) -> str:
    lines = _header(plan)
    if notice:
        lines[1:1] = ["", notice]
    lines += _warnings(plan, limits)
    lines += _drift(plan, limits)
    lines += _blast_radius(changed, limits)
    lines += _impact(plan, limits)
    lines.append("")
    if plan.mode is PlanMode.REFRESH_ONLY:
        lines.append(f"**{plan.summary()}**")
    elif not plan.actionable:
        lines.append(f"**No changes.** Environment {_code(plan.env)} matches the stack file.")
    else:
        lines += [f"**Plan:** {plan.summary()}", "", *sections]
    lines += _footer(plan)
    # Escaped here, before the caller measures the comment against its limit.
    return safe_text("\n".join(lines))


def render_markdown(plan: Plan, changed: ChangedSince | None = None,
                    max_chars: int = MAX_CHARS) -> str:
    """The comment, always shorter than ``max_chars``."""
    actionable = plan.actionable if plan.mode is not PlanMode.REFRESH_ONLY else ()
    full = _assemble(plan, _FULL, changed, None,
                     [render_change(c, _FULL, changed) for c in actionable])
    if len(full) < max_chars:
        return full
    return _truncated(plan, changed, max_chars, actionable)


def _notice(shown: int, total: int, listed: int) -> str:
    text = (f"> **This plan is truncated** to stay under {MAX_CHARS:,} characters: long values "
            f"and long sections are shortened")
    if shown < total:
        text += (f", and only {shown} of {total} changed resources are shown in full "
                 f"(the next {listed} are listed one line each")
        if shown + listed < total:
            text += f", {total - shown - listed} are not listed at all"
        text += ")"
    return text + ". Run `stackform plan` for all of it."


def _truncated(plan: Plan, changed: ChangedSince | None, max_chars: int,
               actionable: tuple[ResourceChange, ...]) -> str:
    total = len(actionable)
    # Reserve room for the worst-case notice and closing lines.
    skeleton = _assemble(plan, _SHORT, changed, _notice(0, max(total, 1), total), [])
    budget = max_chars - len(skeleton) - 200
    sections: list[str] = []
    used = 0
    shown = 0
    for change in actionable:
        block = render_change(change, _SHORT, changed)
        # keep room to list every remaining resource in one line
        rest = sum(len(_one_line(c, changed)) + 1 for c in actionable[shown + 1:])
        if used + len(block) + 1 + min(rest, budget // 2) > budget:
            break
        sections.append(block)
        used += len(block) + 1
        shown += 1
    listed = 0
    if shown < total:
        sections.append("")
        sections.append("Not shown in full:")
        sections.append("")
        used += 25
        for change in actionable[shown:]:
            line = _one_line(change, changed)
            if used + len(line) + 1 > budget:
                break
            sections.append(line)
            used += len(line) + 1
            listed += 1
        if shown + listed < total:
            sections.append(f"- … and {total - shown - listed} more resources")
    text = _assemble(plan, _SHORT, changed, _notice(shown, total, listed), sections)
    if len(text) >= max_chars:  # a pathological header: cut it hard, and say so
        cut = "\n\n> **Cut here:** the rest did not fit in the comment.\n"
        text = text[:max_chars - len(cut) - 1] + cut
    return text
