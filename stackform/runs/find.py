"""What the run commands name, found or refused: a pipeline of the stack, a run by its id or
the start of it, the bookmarks to clear."""

from __future__ import annotations

import sys
from collections.abc import Iterable

from stackform.diagnostics import did_you_mean
from stackform.errors import StackformError
from stackform.runs.model import Bookmark, RunRecord, bookmark_key
from stackform.runs.store import RunStore


def check_pipeline(pipeline: str, pipelines: Iterable[str], file_name: str) -> None:
    """Refuse a pipeline the stack does not declare, suggesting the closest."""
    known = sorted(pipelines)
    if pipeline in known:
        return
    raise StackformError(
        f"no pipeline {pipeline!r} in {file_name}",
        hint=did_you_mean(pipeline, known) or (
            "pipelines: " + ", ".join(known) if known
            else "the stack declares no [pipelines.NAME]"),
    )


def find_run(store: RunStore, env: str, pipeline: str | None, run_id: str) -> RunRecord:
    """The run whose id is ``run_id``, else the one run whose id starts with it."""
    every = store.runs(env, pipeline, limit=sys.maxsize)
    matches = [r for r in every if r.run_id == run_id] or [
        r for r in every if r.run_id.startswith(run_id)]
    if not matches:
        where = f"pipeline {pipeline} in {env}" if pipeline else env
        raise StackformError(f"no run {run_id!r} of {where}",
                             hint="`stackform runs` lists the runs and their ids")
    if len(matches) > 1:
        raise StackformError(
            f"{run_id!r} is the start of {len(matches)} run ids: "
            + ", ".join(r.run_id for r in matches[:5]) + ("..." if len(matches) > 5 else ""),
            hint="give more of the id",
        )
    return matches[0]


def pipeline_bookmarks(store: RunStore, env: str, pipeline: str,
                       extractor: str | None, shared: Iterable[str] = ()) -> list[Bookmark]:
    """The pipeline's bookmarks (with the ``shared`` keys its chains use), or its
    ``extractor``'s: ``PIPELINE.EXTRACTOR``, and ``PIPELINE.EXTRACTOR-to-LOADER`` or
    ``shared.EXTRACTOR-to-LOADER`` for each chain it starts."""
    found = store.bookmarks(env, f"{pipeline}.")
    wanted = set(shared)
    found += [b for b in store.bookmarks(env, "shared.") if b.key in wanted]
    if extractor is None:
        return found
    own = bookmark_key(pipeline, extractor)
    chains = (f"{own}-to-", f"shared.{extractor}-to-")
    return [b for b in found if b.key == own or b.key.startswith(chains)]


def bookmarks_to_clear(store: RunStore, env: str, pipeline: str,
                       extractor: str | None, shared: Iterable[str] = ()) -> list[Bookmark]:
    """:func:`pipeline_bookmarks`, refusing an ``extractor`` that has none (naming those
    that have one); empty when the pipeline has none at all."""
    chosen = pipeline_bookmarks(store, env, pipeline, extractor, shared)
    if chosen or extractor is None:
        return chosen
    prefix = f"{pipeline}."
    names = [b.key[len(prefix):] for b in store.bookmarks(env, prefix)]
    raise StackformError(
        f"pipeline {pipeline} has no bookmark for extractor {extractor!r} in {env}",
        hint=did_you_mean(extractor, names) or (
            "its bookmarks are for: " + ", ".join(names) if names
            else "it has no bookmarks at all"),
    )
