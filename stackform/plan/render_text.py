"""Render a plan as rich-markup text (``+ ~ - -/+``); plain consoles strip the markup."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from stackform.plan.model import Action, AttributeChange, Plan, PlanMode, ResourceChange
from stackform.plan.words import VERB, format_value, value_lines
from stackform.textsafe import safe_text

_STYLE = {
    Action.CREATE: "green",
    Action.UPDATE: "yellow",
    Action.REPLACE: "magenta",
    Action.DELETE: "red",
    Action.NOOP: "dim",
}
HINT_LINE = "\n    hint: "
"""How :meth:`~stackform.diagnostics.Diagnostic.format` starts a diagnostic's hint."""


def _esc(text: str) -> str:
    """Data placed in a line: no markup, and no newline of its own (the console escapes the
    other control characters of the whole output)."""
    from rich.markup import escape

    return escape(safe_text(text, newlines=False))


def _assign(mark: str, name: str, value: Any) -> list[str]:
    """``mark name = value`` (``mark value`` without a name), a folded value continuing
    aligned under its first line."""
    first, *rest = value_lines(value)
    lead = f"{_esc(name)} = " if name else ""
    pad = " " * (8 + (len(name) + 3 if name else 0))
    return [f"      {mark} {lead}{_esc(first)}"] + [f"{pad}{_esc(line)}" for line in rest]


def _attribute_lines(change: ResourceChange) -> Iterable[str]:
    attrs: tuple[AttributeChange, ...] = tuple(
        a for a in change.changes if a.before is not None or a.after is not None)
    width = max((len(a.path) for a in attrs), default=0)
    for a in attrs:
        name = a.path.ljust(width)
        if a.before is None and a.after is None:
            continue  # an unset optional attribute says nothing
        if change.action is Action.CREATE or a.before is None:
            yield from _assign("[green]+[/]", name, a.after)
        elif change.action is Action.DELETE or a.after is None:
            yield from _assign("[red]-[/]", name, a.before)
        else:
            forces = "  [magenta]# forces replacement[/]" if a.force_new else ""
            before, after = value_lines(a.before), value_lines(a.after)
            if len(before) == len(after) == 1:
                yield (f"      [yellow]~[/] {_esc(name)} = {_esc(before[0])} -> "
                       f"{_esc(after[0])}{forces}")
            else:
                yield f"      [yellow]~[/] {_esc(a.path)}:{forces}"
                for mark, value in (("[red]-[/]", a.before), ("[green]+[/]", a.after)):
                    yield from ("    " + line for line in _assign(mark, "", value))


def render_change(change: ResourceChange, details: bool = True) -> list[str]:
    style = _STYLE[change.action]
    why = f" ({_esc(change.reason)})" if change.reason else ""
    lines = [f"  [dim]# {_esc(change.address)} {VERB[change.action]}{why}[/]",
             f"[{style}]{change.action.symbol:>3}[/] [bold]{_esc(change.address)}[/]"]
    if details and change.action is not Action.DELETE:
        lines.extend(_attribute_lines(change))
    for note in change.notes:
        lines.append(f"      [cyan]{_esc(note)}[/]")
    return lines


def render_plan(plan: Plan, details: bool = True) -> str:
    lines: list[str] = []
    for warning in plan.warnings:
        # A formatted diagnostic puts its hint on a line of its own; nothing else may.
        message, hinted, hint = warning.partition(HINT_LINE)
        lines.append(f"[yellow]Warning:[/] {_esc(message)}")
        if hinted:
            lines.append(f"{HINT_LINE[1:]}{_esc(hint)}")
    if plan.drift:
        lines.append("[bold]Changed outside stackform[/] (found while refreshing):")
        for drift in plan.drift:
            if drift.after is None:
                lines.append(f"  [red]-[/] {_esc(drift.address)} is gone")
                continue
            lines.append(f"  [yellow]~[/] {_esc(drift.address)}")
            for a in drift.changes:
                lines.append(f"      [yellow]~[/] {_esc(a.path)} = "
                             f"{_esc(format_value(a.before))} -> {_esc(format_value(a.after))}")
        lines.append("")
    if plan.mode is PlanMode.REFRESH_ONLY:
        if not plan.drift:
            lines.append("[green]No changes.[/] State matches what is deployed.")
        else:
            lines.append(f"[bold]{plan.summary()}[/] Applying this plan records them in state "
                         "and changes nothing else.")
        return "\n".join(lines)
    actionable = plan.actionable
    if not actionable:
        lines.append(f"[green]No changes.[/] Environment [bold]{_esc(plan.env)}[/] matches "
                     "the stack file.")
        return "\n".join(lines)
    lines.append(f"stackform will perform these actions in environment "
                 f"[bold]{_esc(plan.env)}[/]:")
    lines.append("")
    for change in actionable:
        lines.extend(render_change(change, details))
        lines.append("")
    lines.extend(_impact_lines(plan))
    lines.append(f"[bold]Plan:[/] {plan.summary()}")
    return "\n".join(lines)


def _impact_lines(plan: Plan) -> list[str]:
    """What the changes break or affect downstream, from the stack's lineage."""
    from stackform.lineage.impact import impact_lines

    found = impact_lines(plan.impact)
    if not found:
        return []
    title = "Breaks downstream" if plan.breaking else "Downstream"
    styled = [f"  [red]{_esc(line)}[/]" if line.startswith("!") else f"  {_esc(line)}"
              for line in found]
    return [f"[bold]{title}[/] (lineage):", *styled, ""]
