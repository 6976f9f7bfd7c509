"""Finding what the run commands name: a pipeline, a run by id or prefix, the bookmarks to
clear; on a real local run store."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from stackform.errors import StackformError
from stackform.runs.find import bookmarks_to_clear, check_pipeline, find_run, pipeline_bookmarks
from stackform.runs.local import LocalRunStore
from stackform.runs.model import Bookmark, RunRecord


@pytest.fixture
def store(tmp_path: Path) -> LocalRunStore:
    store = LocalRunStore(tmp_path / "runs")
    for run_id, pipeline in (("abc-111", "daily"), ("abc-222", "daily"), ("xyz-333", "hourly")):
        store.start_run(RunRecord(run_id=run_id, pipeline=pipeline, env="dev",
                                  started_at="2024-05-01T06:00:00+00:00"))
    for key in ("daily.orders", "daily.users", "hourly.orders"):
        store.put_bookmark("dev", Bookmark(key=key, value={"bookmarks": {}},
                                           updated_at="2024-05-02T06:00:03+00:00"))
    return store


def test_a_pipeline_the_stack_does_not_declare_is_refused() -> None:
    check_pipeline("daily", ["daily", "hourly"], "stack.toml")
    with pytest.raises(StackformError, match=r"no pipeline 'dayly' in stack\.toml") as raised:
        check_pipeline("dayly", ["daily", "hourly"], "stack.toml")
    assert "daily" in (raised.value.hint or "")
    with pytest.raises(StackformError) as none:
        check_pipeline("daily", [], "stack.toml")
    assert none.value.hint == "the stack declares no [pipelines.NAME]"


def test_a_run_is_found_by_its_id_or_the_one_id_it_starts(store: LocalRunStore) -> None:
    assert find_run(store, "dev", None, "abc-222").run_id == "abc-222"
    assert find_run(store, "dev", None, "xyz").run_id == "xyz-333"
    with pytest.raises(StackformError, match="'abc' is the start of 2 run ids") as raised:
        find_run(store, "dev", None, "abc")
    assert raised.value.hint == "give more of the id"
    with pytest.raises(StackformError, match=re.escape("no run 'xyz' of pipeline daily in dev")):
        find_run(store, "dev", "daily", "xyz")


def test_bookmarks_to_clear_of_a_pipeline_or_one_extractor(store: LocalRunStore) -> None:
    assert [b.key for b in bookmarks_to_clear(store, "dev", "daily", None)] == [
        "daily.orders", "daily.users"]
    assert [b.key for b in bookmarks_to_clear(store, "dev", "daily", "users")] == [
        "daily.users"]
    assert bookmarks_to_clear(store, "dev", "weekly", None) == []
    with pytest.raises(StackformError, match="no bookmark for extractor 'user'") as raised:
        bookmarks_to_clear(store, "dev", "daily", "user")
    assert "users" in (raised.value.hint or "")
    # Read again under the run lock, a vanished bookmark is nothing to clear, not an error.
    assert pipeline_bookmarks(store, "dev", "daily", "gone") == []


def test_chain_and_shared_bookmarks_of_a_pipeline(store: LocalRunStore) -> None:
    for key in ("daily.orders-to-archive", "shared.users-to-warehouse",
                "shared.users-to-lake"):
        store.put_bookmark("dev", Bookmark(key=key, value={}, updated_at="2024-05-03"))
    shared = ["shared.users-to-warehouse"]
    assert sorted(b.key for b in pipeline_bookmarks(store, "dev", "daily", None, shared)) == [
        "daily.orders", "daily.orders-to-archive", "daily.users", "shared.users-to-warehouse"]
    assert sorted(b.key for b in bookmarks_to_clear(store, "dev", "daily", "orders")) == [
        "daily.orders", "daily.orders-to-archive"]
    assert sorted(b.key for b in bookmarks_to_clear(store, "dev", "daily", "users", shared)) == [
        "daily.users", "shared.users-to-warehouse"]
