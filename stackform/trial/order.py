"""Which pipelines ``stackform test`` runs, and in which order (a pipeline after those it
``depends_on``)."""

from __future__ import annotations

from stackform.config.model import ResolvedStack
from stackform.diagnostics import did_you_mean
from stackform.errors import StackformError


def pipelines_in_order(stack: ResolvedStack, chosen: tuple[str, ...]) -> list[str]:
    """``chosen`` (every pipeline when empty), each after the pipelines it depends on."""
    for name in chosen:
        if name not in stack.pipelines:
            raise StackformError(f"no pipeline {name!r} in the stack",
                                 hint=did_you_mean(name, stack.pipelines)
                                 or "pipelines: " + (", ".join(stack.pipelines) or "none"))
    wanted = list(chosen or stack.pipelines)
    ordered: list[str] = []

    def visit(name: str, seen: tuple[str, ...]) -> None:
        if name in ordered or name in seen:
            return
        for dep in stack.pipelines[name].depends_on:
            other = dep.removeprefix("pipelines.")
            if dep.startswith("pipelines.") and other in wanted:
                visit(other, (*seen, name))
        ordered.append(name)

    for name in wanted:
        visit(name, ())
    return ordered
