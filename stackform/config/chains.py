"""The chains of a pipeline's steps: an extractor starts one, mappers continue it, a loader ends
it (``meltano run``'s shape), and any other step runs on its own between chains.

Which kind plays which part is its provider's word (:class:`~stackform.provider.ChainsSteps`):
core only checks the shape, where each step is written, and gives the step that starts a chain
the key of the chain's bookmark: ``PIPELINE.EXTRACTOR`` (``PIPELINE.EXTRACTOR-to-LOADER`` when
the extractor starts more than one chain of the pipeline), or ``shared.EXTRACTOR-to-LOADER``
with the pipeline's ``bookmark = "shared"``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from stackform.config.interpolate import Locator
from stackform.config.model import Step
from stackform.diagnostics import Diagnostic, Diagnostics
from stackform.resource import KeyPath, format_path
from stackform.runs.model import bookmark_key

SHARED = "shared"
"""The pipeline's ``bookmark`` setting that shares a chain's bookmark with other pipelines."""

Role = Callable[[Step], str | None]
"""A step's part in a chain: ``"start"``, ``"link"``, ``"end"``, or None (a step of its own)."""


def shared_bookmark_key(extractor: str, loader: str) -> str:
    return f"{SHARED}.{extractor}-to-{loader}"


def chained_steps(pipeline: str, steps: Sequence[Step], paths: Sequence[KeyPath], role: Role,
                  bookmark: str, diags: Diagnostics, locate: Locator) -> tuple[Step, ...]:
    """``steps`` with each chain's bookmark key on its first step; every misshapen chain is a
    diagnostic at the step that shows it. ``paths`` are where each step is written."""
    chains: list[tuple[int, int]] = []
    start: int | None = None
    last_end: int | None = None

    def problem(i: int, message: str, hint: str) -> None:
        diags.add(Diagnostic(message, path=format_path(paths[i]),
                             location=locate(paths[i], False), hint=hint))

    def unended(i: int) -> None:
        problem(i, f"extractor step '{steps[i].raw}' starts a chain that no loader ends",
                "put a loader step after it (and its mappers, if any)")

    for i, step in enumerate(steps):
        part = role(step)
        if part is not None and step.command is not None:
            problem(i, f"step '{step.raw}': a chain step takes no ':command'",
                    f"write '{step.raw.partition(':')[0]}'")
        if part == "start":
            if start is not None:
                unended(start)
            start = i
        elif part == "link" and start is None:
            problem(i, f"mapper step '{step.raw}' is outside a chain",
                    "a mapper goes after an extractor (or another mapper) and before a loader")
        elif part == "end" and start is None:
            follows = (f"it follows loader step '{steps[last_end].raw}'"
                       if last_end == i - 1 and last_end is not None else "no extractor starts it")
            problem(i, f"loader step '{step.raw}' ends no chain: {follows}",
                    "put an extractor step (and any mappers) before each loader")
        elif part == "end" and start is not None:
            chains.append((start, i))
            start, last_end = None, i
        elif part is None and start is not None:
            unended(start)
            start = None
    if start is not None:
        unended(start)
    return _with_bookmarks(pipeline, steps, chains, bookmark, problem)


def _with_bookmarks(pipeline: str, steps: Sequence[Step], chains: list[tuple[int, int]],
                    bookmark: str, problem: Callable[[int, str, str], None]) -> tuple[Step, ...]:
    def name(i: int) -> str:
        return steps[i].address.partition(".")[2]

    starts = [name(s) for s, _ in chains]
    out = list(steps)
    for n, (s, e) in enumerate(chains):
        for i in range(s, e + 1):
            out[i] = replace(out[i], chain=n)
    seen: dict[tuple[str, str], int] = {}
    for s, e in chains:
        pair = (name(s), name(e))
        if pair in seen:
            problem(s, f"extractor '{pair[0]}' into loader '{pair[1]}' twice in one pipeline: "
                    "both chains would keep one bookmark",
                    "split them into two pipelines, or merge the chains")
            continue
        seen[pair] = s
        if bookmark == SHARED:
            key = shared_bookmark_key(*pair)
        elif starts.count(pair[0]) > 1:
            key = bookmark_key(pipeline, f"{pair[0]}-to-{pair[1]}")
        else:
            key = bookmark_key(pipeline, pair[0])
        out[s] = replace(out[s], bookmark=key)
    return tuple(out)
