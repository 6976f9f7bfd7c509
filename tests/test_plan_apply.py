"""Plan building and applying on an in-process provider and the real local backend."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import ClassVar

import pytest

from stackform.errors import StackformError, StalePlanError
from stackform.graph import resource_dependencies
from stackform.plan.apply import apply_plan
from stackform.plan.builder import PlanOptions, build_plan
from stackform.plan.model import Action, PlanMode
from stackform.plan.render_json import plan_to_json
from stackform.plan.render_text import render_plan
from stackform.plan.saved import check_fresh, load_plan, save_plan
from stackform.provider import Context, Unapplied
from stackform.registry import Registry
from stackform.resource import Resource, ResourceState
from stackform.state.local import LocalBackend
from stackform.state.model import GitInfo
from tests.fakes import MemoryProvider, stack_of, thing


@pytest.fixture(autouse=True)
def _world() -> None:
    MemoryProvider.reset()


@pytest.fixture
def registry() -> Registry:
    return Registry(extra={"things": MemoryProvider})


@pytest.fixture
def backend(tmp_path: Path) -> LocalBackend:
    return LocalBackend(tmp_path / ".stackform" / "state")


def plan_and_apply(stack, backend, registry, options=PlanOptions(), parallelism=4):
    state = backend.read(stack.env)
    deps = resource_dependencies(stack)
    plan = build_plan(stack, state, registry, deps, options)
    check_fresh(plan, stack, state)
    result = apply_plan(plan, stack, state, backend, registry, git=GitInfo(user="t"),
                        parallelism=parallelism)
    return plan, result


def test_create_then_noop_then_update_and_replace(tmp_path, backend, registry):
    stack = stack_of([thing("a", value="1"), thing("b", value="x", depends_on=("things.a",))],
                     tmp_path)
    plan, result = plan_and_apply(stack, backend, registry)
    assert [c.action for c in plan.changes] == [Action.CREATE, Action.CREATE]
    assert plan.summary() == "2 to add, 0 to change, 0 to replace, 0 to destroy."
    assert result.ok
    # a is created before b, which depends on it
    creates = [a for op, a in MemoryProvider.calls if op == "create"]
    assert creates == ["things.a", "things.b"]
    state = backend.read("dev")
    assert state is not None and set(state.resources) == {"things.a", "things.b"}
    assert state.resources["things.b"].dependencies == ("things.a",)

    plan2, _ = plan_and_apply(stack, backend, registry)
    assert not plan2.has_changes

    stack3 = stack_of([thing("a", value="2"), thing("b", value="x", size=2,
                                                    depends_on=("things.a",))], tmp_path)
    plan3, result3 = plan_and_apply(stack3, backend, registry)
    actions = {c.address: c.action for c in plan3.changes}
    assert actions == {"things.a": Action.UPDATE, "things.b": Action.REPLACE}
    assert plan3.change("things.b").reason == "size cannot change in place"
    assert result3.ok


def test_removed_block_is_deleted_dependents_first(tmp_path, backend, registry):
    stack = stack_of([thing("a"), thing("b", depends_on=("things.a",)),
                      thing("c", depends_on=("things.b",))], tmp_path)
    plan_and_apply(stack, backend, registry)
    MemoryProvider.calls.clear()
    plan, _ = plan_and_apply(stack_of([], tmp_path), backend, registry)
    assert {c.action for c in plan.changes} == {Action.DELETE}
    deletes = [a for op, a in MemoryProvider.calls if op == "delete"]
    assert deletes == ["things.c", "things.b", "things.a"]
    assert backend.read("dev").resources == {}


def test_drift_is_seen_and_repaired(tmp_path, backend, registry):
    stack = stack_of([thing("a", value="good")], tmp_path)
    plan_and_apply(stack, backend, registry)
    MemoryProvider.world["things.a"]["value"] = "edited by hand"
    plan, _ = plan_and_apply(stack, backend, registry)
    assert [d.address for d in plan.drift] == ["things.a"]
    assert plan.change("things.a").action is Action.UPDATE
    assert MemoryProvider.world["things.a"]["value"] == "good"
    del MemoryProvider.world["things.a"]
    plan, _ = plan_and_apply(stack, backend, registry)
    assert plan.change("things.a").action is Action.CREATE
    assert plan.change("things.a").reason == "gone outside stackform"


def test_refresh_false_trusts_state(tmp_path, backend, registry):
    stack = stack_of([thing("a", value="good")], tmp_path)
    plan_and_apply(stack, backend, registry)
    MemoryProvider.world["things.a"]["value"] = "edited"
    MemoryProvider.calls.clear()
    state = backend.read("dev")
    plan = build_plan(stack, state, registry, {}, PlanOptions(refresh=False))
    assert not plan.has_changes
    assert not [c for c in MemoryProvider.calls if c[0] == "read"]


def test_refresh_only_records_drift_and_changes_nothing(tmp_path, backend, registry):
    stack = stack_of([thing("a", value="good")], tmp_path)
    plan_and_apply(stack, backend, registry)
    MemoryProvider.world["things.a"]["value"] = "edited"
    plan, _ = plan_and_apply(stack, backend, registry, PlanOptions(mode="refresh-only"))
    assert plan.has_changes and not plan.actionable
    assert MemoryProvider.world["things.a"]["value"] == "edited"
    assert backend.read("dev").resources["things.a"].attributes["value"] == "edited"


def test_failure_skips_dependents_only(tmp_path, backend, registry):
    stack = stack_of([
        thing("bad", fail=True),
        thing("child", depends_on=("things.bad",)),
        thing("grandchild", depends_on=("things.child",)),
        thing("independent"),
    ], tmp_path)
    _, result = plan_and_apply(stack, backend, registry)
    status = {o.address: o.status for o in result.outcomes}
    assert status == {"things.bad": "failed", "things.child": "skipped",
                      "things.grandchild": "skipped", "things.independent": "done"}
    assert set(backend.read("dev").resources) == {"things.independent"}
    assert not result.ok
    bad = next(o for o in result.outcomes if o.address == "things.bad")
    assert bad.error == "things.bad was told to fail\n  hint: set fail = false"


def test_parallelism_is_bounded(tmp_path, backend, registry):
    active = 0
    peak = 0
    guard = threading.Lock()
    original = MemoryProvider.create

    def counting(self, ctx, desired):
        nonlocal active, peak
        with guard:
            active += 1
            peak = max(peak, active)
        try:
            return original(self, ctx, desired)
        finally:
            with guard:
                active -= 1

    MemoryProvider.create = counting  # type: ignore[method-assign]
    try:
        stack = stack_of([thing(f"t{i}", sleep=0.05) for i in range(12)], tmp_path)
        _, result = plan_and_apply(stack, backend, registry, parallelism=3)
    finally:
        MemoryProvider.create = original  # type: ignore[method-assign]
    assert result.ok
    assert peak == 3


def test_target_limits_to_target_and_its_dependencies(tmp_path, backend, registry):
    stack = stack_of([thing("a"), thing("b", depends_on=("things.a",)), thing("c")], tmp_path)
    plan, _ = plan_and_apply(stack, backend, registry, PlanOptions(targets=("things.b",)))
    assert {c.address for c in plan.changes} == {"things.a", "things.b"}
    assert set(backend.read("dev").resources) == {"things.a", "things.b"}


def test_replace_option_forces_replacement(tmp_path, backend, registry):
    stack = stack_of([thing("a")], tmp_path)
    plan_and_apply(stack, backend, registry)
    plan, _ = plan_and_apply(stack, backend, registry, PlanOptions(replace=("things.a",)))
    assert plan.change("things.a").action is Action.REPLACE


def test_destroy_mode_deletes_everything(tmp_path, backend, registry):
    stack = stack_of([thing("a"), thing("b", depends_on=("things.a",))], tmp_path)
    plan_and_apply(stack, backend, registry)
    plan, result = plan_and_apply(stack, backend, registry, PlanOptions(mode="destroy"))
    assert plan.summary() == "0 to add, 0 to change, 0 to replace, 2 to destroy."
    assert result.ok and backend.read("dev").resources == {}
    assert MemoryProvider.world == {}


def test_sensitive_values_are_masked_everywhere(tmp_path, backend, registry):
    secret = "hunter2-very-secret"
    stack = stack_of([thing("a", password=secret, sensitive=frozenset({("password",)}))],
                     tmp_path)
    plan, _ = plan_and_apply(stack, backend, registry)
    text = render_plan(plan)
    assert "(sensitive)" in text and secret not in text
    as_json = json.dumps(plan_to_json(plan))
    assert secret not in as_json
    assert plan_to_json(plan)["resource_changes"][0]["change"]["after_sensitive"] == {
        "password": True}
    save_plan(plan, tmp_path / "p.sfplan")
    assert secret not in (tmp_path / "p.sfplan").read_text()
    state_text = (tmp_path / ".stackform" / "state" / "dev.json").read_text()
    assert secret not in state_text
    # a changed secret shows as a change without revealing either value
    stack2 = stack_of([thing("a", password="other", sensitive=frozenset({("password",)}))],
                      tmp_path)
    plan2 = build_plan(stack2, backend.read("dev"), registry, {}, PlanOptions())
    change = plan2.change("things.a")
    assert change.action is Action.UPDATE
    assert change.changes[0].path == "password" and change.changes[0].sensitive


def test_saved_plan_round_trips_and_refuses_stale(tmp_path, backend, registry):
    stack = stack_of([thing("a", value="1")], tmp_path)
    plan = build_plan(stack, None, registry, {}, PlanOptions())
    save_plan(plan, tmp_path / "p.sfplan")
    loaded = load_plan(tmp_path / "p.sfplan")
    assert loaded == plan
    check_fresh(loaded, stack, None)
    # the stack changed
    with pytest.raises(StalePlanError, match="stack file"):
        check_fresh(loaded, stack_of([thing("a", value="2")], tmp_path), None)
    # state moved since
    plan_and_apply(stack, backend, registry)
    with pytest.raises(StalePlanError, match="had no state"):
        check_fresh(loaded, stack, backend.read("dev"))
    plan2 = build_plan(stack_of([thing("a", value="3")], tmp_path), backend.read("dev"),
                       registry, {}, PlanOptions())
    plan_and_apply(stack_of([thing("a", value="4")], tmp_path), backend, registry)
    with pytest.raises(StalePlanError, match="serial"):
        check_fresh(plan2, stack_of([thing("a", value="3")], tmp_path), backend.read("dev"))


def test_plan_modes_are_one_type_from_options_to_a_loaded_plan(tmp_path, backend, registry):
    stack = stack_of([thing("a")], tmp_path)
    options = PlanOptions(mode="destroy")  # a string from a caller is made a PlanMode
    assert options.mode is PlanMode.DESTROY
    plan = build_plan(stack, None, registry, {}, options)
    assert plan.mode is PlanMode.DESTROY
    save_plan(plan, tmp_path / "p.sfplan")
    assert load_plan(tmp_path / "p.sfplan").mode is PlanMode.DESTROY
    with pytest.raises(StackformError, match="unknown plan mode 'partial'") as caught:
        PlanOptions(mode="partial")
    assert caught.value.hint == "one of normal, destroy, refresh-only"


def test_interrupt_lets_running_work_finish_and_saves(tmp_path, backend, registry):
    cancel = threading.Event()
    stack = stack_of([thing(f"t{i}", sleep=0.2) for i in range(6)], tmp_path)
    plan = build_plan(stack, None, registry, {}, PlanOptions())
    timer = threading.Timer(0.1, cancel.set)
    timer.start()
    result = apply_plan(plan, stack, None, backend, registry, git=GitInfo(), parallelism=2,
                        cancel=cancel)
    statuses = [o.status for o in result.outcomes]
    assert result.interrupted
    assert statuses.count("done") == 2 and statuses.count("not started") == 4
    assert len(backend.read("dev").resources) == 2


def test_state_writes_are_grouped_and_complete(tmp_path, backend, registry):
    writes = []
    original = backend.write

    def counting(env, state, prior, **kw):
        writes.append(len(state.resources))
        return original(env, state, prior, **kw)

    backend.write = counting  # type: ignore[method-assign]
    stack = stack_of([thing(f"t{i:03d}") for i in range(300)], tmp_path)
    _, result = plan_and_apply(stack, backend, registry, parallelism=4)
    assert result.ok
    assert writes[-1] == 300 and writes == sorted(writes)
    assert len(writes) < 300  # finished resources share writes
    assert len(backend.read("dev").resources) == 300


def test_history_keeps_the_state_before_each_apply_and_none_of_its_snapshots(
        tmp_path, backend, registry):
    writes = []
    original = backend.write

    def counting(env, state, prior, **kw):
        writes.append(state.serial)
        return original(env, state, prior, **kw)

    backend.write = counting  # type: ignore[method-assign]
    ends = []
    for value in ("1", "2", "3"):
        stack = stack_of([thing(f"t{i:03d}", value=value) for i in range(300)], tmp_path)
        _, result = plan_and_apply(stack, backend, registry, parallelism=4)
        assert result.ok
        ends.append(backend.read("dev"))
    assert len(writes) > 3, "each apply wrote state more than once"
    # What each earlier apply left is kept, whatever the number of writes since.
    assert [v.serial for v in backend.history("dev")] == [e.serial for e in reversed(ends)]
    first = backend.read_version("dev", backend.history("dev")[-1])
    assert {r.attributes["value"] for r in first.resources.values()} == {"1"}


def test_state_writes_pause_for_a_multiple_of_their_time_and_the_last_comes_at_once(
        tmp_path, backend, registry):
    import time

    from stackform.plan.apply import WRITE_PAUSE

    writes: list[tuple[float, float, int]] = []
    original = backend.write

    def slow(env, state, prior, **kw):
        started = time.monotonic()
        time.sleep(0.3)
        original(env, state, prior, **kw)
        writes.append((started, time.monotonic(), len(state.resources)))

    backend.write = slow  # type: ignore[method-assign]
    # 2 s of work, one resource every 0.1 s: without the pause, a write every 0.3 s.
    stack = stack_of([thing(f"t{i:02d}", sleep=0.1) for i in range(20)], tmp_path)
    started = time.monotonic()
    _, result = plan_and_apply(stack, backend, registry, parallelism=1)
    elapsed = time.monotonic() - started
    assert result.ok and writes[-1][2] == 20
    assert len(writes) == 3, writes
    # The second write waited out the pause after the first.
    assert writes[1][0] - writes[0][1] >= WRITE_PAUSE * 0.3 - 0.05, writes
    # The closing write does not wait for the pause after the one before it to end.
    assert elapsed < 2.0 + 0.3 + 0.3 + WRITE_PAUSE * 0.3 * 0.5, writes


def test_state_write_failure_stops_apply_and_is_reported(tmp_path, backend, registry):
    from stackform.errors import StateError

    def failing(env, state, prior, **kw):
        raise StateError("disk full")

    backend.write = failing  # type: ignore[method-assign]
    stack = stack_of([thing(f"t{i}", sleep=0.05) for i in range(10)], tmp_path)
    _, result = plan_and_apply(stack, backend, registry, parallelism=2)
    assert result.state_error is not None and "disk full" in result.state_error.reason
    assert not result.ok and not result.interrupted
    assert [o.status for o in result.outcomes].count("not started") > 0


class CheckedProvider(MemoryProvider):
    """A provider that checks its blocks at every plan and warns while applying."""

    def plan_diagnostics(self, ctx, prior, desired):
        if desired.attributes["value"] == "suspicious":
            return [ctx.diagnostic(desired.address, ("value",), "looks suspicious",
                                   hint="look again", severity="warning")]
        if desired.attributes["value"] == "wrong":
            return [ctx.diagnostic(desired.address, ("value",), "is wrong")]
        return []

    def create(self, ctx, desired):
        if desired.attributes["value"] == "suspicious":
            ctx.warn(ctx.diagnostic(desired.address, ("value",), "applied anyway",
                                    severity="warning"))
        return super().create(ctx, desired)


def test_provider_checks_run_at_every_plan_and_warn_at_apply(tmp_path, backend):
    from dataclasses import replace

    from stackform.diagnostics import Location
    from stackform.errors import ConfigError

    registry = Registry(extra={"things": CheckedProvider})
    where = Location(tmp_path / "stack.toml", 7, 9)
    stack = replace(stack_of([thing("a", value="suspicious"), thing("b")], tmp_path),
                    locate=lambda address, path, key: where if path == ("value",) else None)
    plan, result = plan_and_apply(stack, backend, registry)
    assert [e.warnings for e in result.outcomes] == [
        (f"{where}: warning: things.a.value: applied anyway",), ()]
    # No change to attach a note to: still reported, with where the value is written.
    plan, _ = plan_and_apply(stack, backend, registry)
    assert not plan.has_changes
    assert plan.warnings == (f"{where}: warning: things.a.value: looks suspicious\n"
                             "    hint: look again",)
    assert plan_to_json(plan)["warnings"] == list(plan.warnings)
    assert render_plan(plan).startswith(  # the hint on a line of its own, not as "\n"
        f"[yellow]Warning:[/] {where}: warning: things.a.value: looks suspicious\n"
        "    hint: look again\n")
    # An error stops the plan, located; destroying is never blocked by it.
    wrong = stack_of([thing("a", value="wrong"), thing("b")], tmp_path)
    with pytest.raises(ConfigError) as info:
        build_plan(wrong, backend.read("dev"), registry, resource_dependencies(wrong))
    assert [d.format() for d in info.value.diagnostics] == [
        "<stack>: error: things.a.value: is wrong"]
    plan, result = plan_and_apply(wrong, backend, registry, PlanOptions(mode="destroy"))
    assert result.ok and plan.summary().endswith("2 to destroy.")


class FilesBackedProvider(MemoryProvider):
    """A thing built from files beyond its block, some of them edited since the last apply."""

    edited: ClassVar[dict[str, tuple[str, ...]]] = {}

    def unapplied(self, ctx: Context, prior: ResourceState, desired: Resource
                  ) -> Unapplied | None:
        paths = self.edited.get(desired.address)
        return Unapplied("thing files", paths) if paths else None


def test_files_a_block_is_built_from_are_desired_not_drift(tmp_path, backend):
    registry = Registry(extra={"things": FilesBackedProvider})
    stack = stack_of([thing("a", value="1"), thing("b", value="2")], tmp_path)
    plan_and_apply(stack, backend, registry)
    FilesBackedProvider.edited = {"things.a": ("src/a.sql",)}
    try:
        for refresh in (True, False):
            plan = build_plan(stack, backend.read("dev"), registry,
                              resource_dependencies(stack), PlanOptions(refresh=refresh))
            assert plan.drift == ()
            change = plan.change("things.a")
            assert change is not None and change.action is Action.UPDATE
            assert change.reason == "thing files changed since the last apply"
            assert change.changes == ()
            assert plan.change("things.b").action is Action.NOOP
            assert "things.a will be updated in place (thing files changed since the last " \
                   "apply)" in render_plan(plan)
        _, result = plan_and_apply(stack, backend, registry)
        assert result.ok
        assert [a for op, a in MemoryProvider.calls if op == "create"][-1] == "things.a"
    finally:
        FilesBackedProvider.edited = {}
    assert not build_plan(stack, backend.read("dev"), registry, resource_dependencies(stack),
                          PlanOptions()).has_changes


def test_deferred_writes_are_flushed_before_state_records_them(
        tmp_path, backend, registry, monkeypatch):
    from stackform import fileio
    from stackform.plan import apply as apply_module

    order: list[str] = []
    real_write = backend.write

    def flushed() -> None:
        order.append("sync")

    def write(env, state, prior, **kw):
        order.append("state")
        real_write(env, state, prior, **kw)

    monkeypatch.setattr(apply_module, "sync_deferred", flushed)
    monkeypatch.setattr(backend, "write", write)
    fileio.atomic_write(tmp_path / "f", b"x", sync="deferred")
    assert tmp_path in fileio._deferred
    _, result = plan_and_apply(stack_of([thing("a", value="1")], tmp_path), backend, registry)
    assert result.ok and order and order == ["sync", "state"] * (len(order) // 2)
    fileio.sync_deferred()
    assert not fileio._deferred


def test_a_flush_that_fails_is_a_state_error_and_stops_the_apply(
        tmp_path, backend, registry, monkeypatch):
    from stackform.plan import apply as apply_module

    def failing() -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(apply_module, "sync_deferred", failing)
    _, result = plan_and_apply(stack_of([thing("a", value="1")], tmp_path), backend, registry)
    assert result.state_error is not None and not result.ok
    assert "making the files written durable failed" in str(result.state_error)
    assert backend.read("dev") is None or not backend.read("dev").resources
