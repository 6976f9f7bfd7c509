"""Lineage in core: the graph join, the impact walk and their place in plan and apply, on plain
data and an in-process provider (the real providers' lineage is tested end to end in
tests/e2e/test_lineage_quickstart.py)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest

from stackform.config.model import Step
from stackform.errors import StackformError
from stackform.graph import resource_dependencies
from stackform.lineage.confirm import confirm_after_run
from stackform.lineage.impact import compare, impact_lines
from stackform.lineage.join import OUTPUT_KEY
from stackform.lineage.model import LineageFragment, LineageGraph, Node
from stackform.plan.apply import apply_plan
from stackform.plan.builder import PlanOptions, build_plan
from stackform.plan.render_json import plan_to_json
from stackform.plan.render_markdown import render_markdown
from stackform.plan.render_text import render_plan
from stackform.plan.saved import load_plan, save_plan
from stackform.provider import (
    Context,
    RunContext,
    RunStep,
)
from stackform.provider_checks import provider_problems
from stackform.provider_lineage import ConfirmsLineage, ProvidesLineage
from stackform.registry import Registry
from stackform.resource import Resource, ResourceState, fingerprinter
from stackform.state.local import LocalBackend
from stackform.state.model import GitInfo
from tests.fakes import MemoryProvider, stack_of, thing


def col(resource: str, table: str, column: str | None, type_: str = "column") -> Node:
    return Node(resource, table, column, type_)


# -- the model, on plain data ------------------------------------------------------------------

SRC = col("extractors.src", "orders", "amount", "stream")
RAW = col("loaders.wh", "raw.orders", "amount", "table")
STG = col("transformers.dbt", "stg_orders", "amount", "model")
MART = col("transformers.dbt", "customer_revenue", "revenue", "model")
ID = col("extractors.src", "orders", "id", "stream")


def stack_fragments(with_amount: bool = True) -> dict[str, LineageFragment]:
    src = LineageFragment((SRC, ID) if with_amount else (ID,))
    wh_nodes = (RAW,) if with_amount else ()
    wh = LineageFragment(wh_nodes, ((SRC.id, RAW.id),) if with_amount else ())
    dbt = LineageFragment((STG, MART), ((RAW.id, STG.id), (STG.id, MART.id)))
    return {"extractors.src": src, "loaders.wh": wh, "transformers.dbt": dbt}


def test_fragment_round_trips_through_its_json_schema() -> None:
    fragment = LineageFragment((STG, MART), ((STG.id, MART.id),), ("model x: no SQL",), False)
    data = json.loads(json.dumps(fragment.to_json()))
    assert data["version"] == 1
    assert data["nodes"][1] == {"id": "transformers.dbt|stg_orders|amount",
                                "resource": "transformers.dbt", "table": "stg_orders",
                                "column": "amount", "type": "model", "relation": None,
                                "data_type": None}
    assert LineageFragment.from_json(data) == fragment
    with pytest.raises(ValueError, match="version"):
        LineageFragment.from_json({**data, "version": 99})


def test_join_keeps_edges_between_known_nodes_and_walks_both_ways() -> None:
    fragments = stack_fragments()
    fragments["transformers.dbt"] = LineageFragment(
        (STG, MART), ((RAW.id, STG.id), (STG.id, MART.id), ("nowhere|x|y", STG.id)))
    graph = LineageGraph(fragments)
    assert [n.label for n in graph.downstream_of(SRC.id)] == ["table raw.orders.amount"]
    assert [n.label for n in graph.upstream_of(STG.id)] == ["table raw.orders.amount"]
    assert graph.reach([SRC.id]) == {RAW.id, STG.id, MART.id}
    assert graph.reach([MART.id], downstream=False) == {SRC.id, RAW.id, STG.id}
    assert [[n.label for n in p] for p in graph.paths_from(SRC.id)] == [
        ["table raw.orders.amount", "model stg_orders.amount", "model customer_revenue.revenue"]]
    assert len(graph.to_json()["edges"]) == 3  # the dangling edge is dropped


def test_a_removed_property_breaks_everything_downstream_named_by_path() -> None:
    impact = compare(LineageGraph(stack_fragments()),
                     LineageGraph(stack_fragments(with_amount=False)))
    assert [e["node"]["id"] for e in impact["breaking"]] == [SRC.id]  # only the root
    assert impact_lines(impact) == [
        "! removing stream orders.amount (extractors.src) breaks: table raw.orders.amount -> "
        "model stg_orders.amount -> model customer_revenue.revenue"]
    assert impact["complete"] is True and impact["affecting"] == []


def test_an_addition_affects_and_never_breaks() -> None:
    impact = compare(LineageGraph(stack_fragments(with_amount=False)),
                     LineageGraph(stack_fragments()))
    assert impact["breaking"] == []
    assert impact_lines(impact) == [
        "~ adding stream orders.amount (extractors.src) affects: table raw.orders.amount -> "
        "model stg_orders.amount -> model customer_revenue.revenue"]


def test_a_removed_leaf_breaks_nothing() -> None:
    before = LineageGraph(stack_fragments())
    after_frags = stack_fragments()
    after_frags["transformers.dbt"] = LineageFragment((STG,), ((RAW.id, STG.id),))
    impact = compare(before, LineageGraph(after_frags))
    assert impact["breaking"] == []
    assert impact_lines(impact) == [
        "~ removing model customer_revenue.revenue (transformers.dbt) affects nothing downstream"]


def test_a_retype_is_reported_at_its_root_with_what_it_breaks() -> None:
    typed = {"extractors.src": LineageFragment((Node(*SRC.id.split("|")[:2], "amount", "stream",
                                                      data_type="integer"), ID)),
             **{k: v for k, v in stack_fragments().items() if k != "extractors.src"}}
    retyped = dict(typed)
    retyped["extractors.src"] = LineageFragment(
        (Node(*SRC.id.split("|")[:2], "amount", "stream", data_type="number"), ID))
    # the staging column's type follows: retyped too, but as what it reads, so no root
    stg = lambda t: LineageFragment(  # noqa: E731
        (Node(STG.resource, STG.table, STG.column, "model", data_type=t), MART),
        ((RAW.id, STG.id), (STG.id, MART.id)))
    typed["transformers.dbt"], retyped["transformers.dbt"] = stg("BIGINT"), stg("DOUBLE")
    impact = compare(LineageGraph(typed), LineageGraph(retyped))
    (entry,) = impact["breaking"]
    assert entry["change"] == "retype" and entry["node"]["id"] == SRC.id
    assert impact_lines(impact) == [
        "! retyping stream orders.amount (extractors.src): integer -> number breaks: table "
        "raw.orders.amount -> model stg_orders.amount -> model customer_revenue.revenue"]
    assert compare(LineageGraph(typed), LineageGraph(typed))["breaking"] == []


def test_an_incomplete_fragment_removes_nothing_and_says_why() -> None:
    after_frags = stack_fragments()
    after_frags["transformers.dbt"] = LineageFragment(
        (), (), ("model stg_orders: sqlglot cannot parse it",), complete=False)
    impact = compare(LineageGraph(stack_fragments()), LineageGraph(after_frags))
    assert impact["breaking"] == [] and impact["complete"] is False
    assert impact_lines(impact) == [
        "lineage incomplete: what is listed may not be all a change touches",
        "  transformers.dbt: model stg_orders: sqlglot cannot parse it"]


# -- in plan and apply, with an in-process provider --------------------------------------------


class LineageThings(MemoryProvider, ProvidesLineage):
    """A thing's ``value`` lists its columns; each is fed by the upstream columns of the same
    name (``amount:int`` gives it a type). ``FAIL`` and ``BUG`` make its lineage fail."""

    asked: ClassVar[list[str]] = []

    def lineage(self, ctx: Context, resource: Resource, outputs: Mapping[str, Any],
                upstream: LineageGraph) -> LineageFragment:
        self.asked.append(resource.address)
        value = str(resource.attributes["value"])
        if value == "FAIL":
            raise StackformError("cannot read the thing's columns")
        if value == "BUG":
            raise RuntimeError("oops")
        if value == "LEAK":
            raise StackformError(f"login failed with {resource.attributes['password']}")
        # "amount:int": a column and its type
        nodes = [Node(resource.address, resource.name, c.split(":")[0], "thing",
                      data_type=c.split(":")[1] if ":" in c else None)
                 for c in value.split(",") if c]
        edges = [(u.id, n.id) for n in nodes for u in upstream if u.column == n.column]
        return LineageFragment(tuple(nodes), tuple(edges))


@pytest.fixture
def registry() -> Registry:
    MemoryProvider.reset()
    LineageThings.asked.clear()
    return Registry(extra={"things": LineageThings})


def plan_apply(tmp_path: Path, registry: Registry, a: str, b: str = "amount,id",
               apply: bool = True):
    stack = stack_of([thing("a", value=a), thing("b", value=b, depends_on=("things.a",))],
                     tmp_path)
    backend = LocalBackend(tmp_path / ".stackform" / "state")
    state = backend.read(stack.env)
    plan = build_plan(stack, state, registry, resource_dependencies(stack), PlanOptions())
    if apply:
        result = apply_plan(plan, stack, state, backend, registry, git=GitInfo(user="t"))
        assert result.ok
    return plan, backend


def test_the_capability_is_checked_when_a_provider_is_loaded() -> None:
    assert provider_problems(LineageThings()) == []

    class Wrong(MemoryProvider):
        def lineage(self, ctx: Context) -> None: ...

    assert "its lineage does not take (ctx, resource, outputs, upstream)" in \
        provider_problems(Wrong())


def test_apply_records_lineage_and_a_no_op_plan_asks_no_provider(tmp_path, registry) -> None:
    plan_apply(tmp_path, registry, "amount,id")
    state = LocalBackend(tmp_path / ".stackform" / "state").read("dev")
    assert state is not None
    recorded = state.resources["things.b"].outputs[OUTPUT_KEY]
    assert [n["id"] for n in recorded["nodes"]] == ["things.b|b|amount", "things.b|b|id"]
    assert recorded["edges"][0] == {"from": "things.a|a|amount", "to": "things.b|b|amount"}
    LineageThings.asked.clear()
    plan, _ = plan_apply(tmp_path, registry, "amount,id", apply=False)
    assert not plan.has_changes and LineageThings.asked == []
    assert plan.impact["breaking"] == [] and plan.impact["complete"] is True


def test_a_plan_removing_a_column_names_what_breaks_everywhere(tmp_path, registry) -> None:
    plan_apply(tmp_path, registry, "amount,id")
    LineageThings.asked.clear()
    plan, _ = plan_apply(tmp_path, registry, "id", apply=False)
    # Only the changed resource, then the one downstream whose upstream changed, are asked.
    assert LineageThings.asked == ["things.a", "things.b"]
    assert plan.breaking
    line = "! removing thing a.amount (things.a) breaks: thing b.amount"
    assert line in render_plan(plan)
    assert line in render_markdown(plan)
    assert plan_to_json(plan)["impact"]["breaking"][0]["paths"] == [[{
        "id": "things.b|b|amount", "resource": "things.b", "table": "b", "column": "amount",
        "type": "thing", "relation": None, "data_type": None}]]
    saved = tmp_path / "p.sfplan"
    save_plan(plan, saved)
    assert load_plan(saved).impact == plan.impact


def test_a_retyped_column_breaks_what_reads_it(tmp_path, registry) -> None:
    plan_apply(tmp_path, registry, "amount:integer,id")
    plan, _ = plan_apply(tmp_path, registry, "amount:number,id", apply=False)
    assert plan.breaking
    line = "! retyping thing a.amount (things.a): integer -> number breaks: thing b.amount"
    assert line in render_plan(plan) and line in render_markdown(plan)
    (entry,) = plan_to_json(plan)["impact"]["breaking"]
    assert (entry["change"], entry["was"], entry["node"]["data_type"]) == (
        "retype", "integer", "number")
    # A type becoming known (a first run confirming it) is no retype.
    plan_apply(tmp_path, registry, "amount,id")
    assert not plan_apply(tmp_path, registry, "amount:integer,id", apply=False)[0].breaking


def test_apply_refreshes_the_lineage_downstream_of_what_it_applied(tmp_path, registry) -> None:
    plan_apply(tmp_path, registry, "amount,id")
    plan_apply(tmp_path, registry, "id")   # b is a no-op, its upstream changed
    state = LocalBackend(tmp_path / ".stackform" / "state").read("dev")
    assert state is not None
    assert state.resources["things.b"].outputs[OUTPUT_KEY]["edges"] == [
        {"from": "things.a|a|id", "to": "things.b|b|id"}]
    LineageThings.asked.clear()
    plan, _ = plan_apply(tmp_path, registry, "id", apply=False)
    assert LineageThings.asked == [] and not plan.breaking


@pytest.mark.parametrize(("value", "said"), [
    ("FAIL", "things.a: lineage not worked out: cannot read the thing's columns"),
    ("BUG", "things.a: lineage not worked out: RuntimeError: oops")])
def test_a_provider_failing_its_lineage_is_a_warning_never_a_crash(tmp_path, registry, value,
                                                                    said) -> None:
    plan_apply(tmp_path, registry, "amount,id")
    plan, _ = plan_apply(tmp_path, registry, value, apply=False)
    assert plan.impact["complete"] is False and plan.impact["warnings"] == [said]
    assert not plan.breaking  # unknown is not gone
    text = render_plan(plan)
    assert "lineage incomplete" in text and said in text


def test_data_flows_along_pipeline_steps(tmp_path, registry) -> None:
    from stackform.config.model import Pipeline, Step
    from stackform.lineage.flow import data_upstream

    steps = tuple(Step(n, f"things.{n}") for n in ("a", "b", "c"))
    stack = stack_of([thing("a"), thing("b"), thing("c")], tmp_path,
                     pipelines={"p": Pipeline("p", steps)})
    upstream, problem = data_upstream(stack, {"things.a": (), "things.b": (), "things.c": ()})
    assert problem is None
    assert upstream == {"things.a": (), "things.b": ("things.a",),
                        "things.c": ("things.a", "things.b")}
    backwards = Pipeline("q", tuple(reversed(steps)))
    stack = stack_of([thing("a"), thing("b"), thing("c")], tmp_path,
                     pipelines={"p": Pipeline("p", steps), "q": backwards})
    upstream, problem = data_upstream(stack, {"things.a": ()})
    assert problem is not None and "both ways" in problem
    assert upstream == {"things.a": ()}


def test_lineage_selects_a_column_a_table_or_a_block_and_renders_it() -> None:
    from stackform.lineage.query import RENDERERS, select

    graph = LineageGraph(stack_fragments())
    sel = select(graph, "stg_orders.amount", upstream=False)
    assert sel.start == {STG.id} and sel.shown == {STG.id, MART.id}
    assert select(graph, "raw.orders").start == {RAW.id}
    assert select(graph, "transformers.dbt").start == {STG.id, MART.id}
    assert select(graph, "STG_ORDERS.AMOUNT").start == {STG.id}
    whole = select(graph, None)
    assert whole.shown == set(graph.nodes)
    with pytest.raises(StackformError, match=r"no block, table or column 'stg_order\.amount'") as e:
        select(graph, "stg_order.amount")
    assert e.value.hint == "did you mean 'stg_orders.amount'?"

    sel = select(graph, "stg_orders.amount")
    assert RENDERERS["text"](sel).splitlines()[:3] == [
        "4 nodes, 3 edges", "asked about: model stg_orders.amount",
        "  stream orders.amount (extractors.src) -> table raw.orders.amount (loaders.wh)"]
    doc = json.loads(RENDERERS["json"](sel))
    assert doc["selected"] == [STG.id] and len(doc["nodes"]) == 4 and len(doc["edges"]) == 3
    assert RENDERERS["mermaid"](sel).startswith("flowchart LR\n")
    assert RENDERERS["dot"](sel).startswith("digraph lineage {")
    page = RENDERERS["html"](sel)
    # Self-contained: no script, nothing fetched; a box per node, the asked one drawn thick.
    assert "<script" not in page and "http" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")
    assert page.count('<g class="node"') == 4
    assert f'data-id="{STG.id}"' in page and 'stroke-width="3"' in page


def test_the_plan_page_marks_what_the_plan_changes_and_what_it_breaks() -> None:
    import re

    from stackform.lineage.plan_page import plan_page

    before = LineageGraph(stack_fragments())
    after = dict(stack_fragments(with_amount=False))
    added = col("extractors.src", "orders", "discount", "stream")
    after["extractors.src"] = LineageFragment((ID, added))
    impact = compare(before, LineageGraph(after))
    page = plan_page(before, impact, "plan")
    marks = dict(re.findall(r'data-id="([^"]+)" data-mark="([a-z]+)"', page))
    assert marks == {SRC.id: "removed", RAW.id: "breaks", STG.id: "breaks",
                     MART.id: "breaks", added.id: "added"}
    assert "<script" not in page and "http" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")
    # The plan's own lines are on the page, and a legend of the marks used.
    assert "! removing stream orders.amount (extractors.src) breaks: table" in page
    assert 'class="legend" data-mark="breaks"' in page
    assert 'class="legend" data-mark="affected"' not in page
    quiet = plan_page(before, compare(before, before), "plan")
    assert "data-mark" not in quiet and "this plan changes no lineage" in quiet
    assert quiet.count('<g class="node"') == len(before.nodes)


def test_a_secret_quoted_in_a_lineage_warning_is_masked(tmp_path, registry) -> None:
    secret = "hunter2-not-to-leak"
    backend = LocalBackend(tmp_path / ".stackform" / "state")

    def plan_for(value: str, apply: bool):
        stack = stack_of([thing("a", value=value, password=secret,
                                sensitive=frozenset({("password",)}))], tmp_path)
        state = backend.read("dev")
        plan = build_plan(stack, state, registry, resource_dependencies(stack), PlanOptions())
        if apply:
            assert apply_plan(plan, stack, state, backend, registry, git=GitInfo(user="t")).ok
        return plan

    first = plan_for("amount", apply=True)
    assert first.impact["warnings"] == []  # a new block is not asked before it exists
    plan = plan_for("LEAK", apply=True)
    assert plan.impact["warnings"] == ["things.a: lineage not worked out: login failed with "
                                       "***"], plan.impact
    assert secret not in json.dumps(plan_to_json(plan))
    recorded = "".join(p.read_text() for p in (tmp_path / ".stackform").rglob("*.json"))
    assert "login failed with" in recorded and secret not in recorded


# -- confirmed after a run ---------------------------------------------------------------------


class ConfirmingThings(LineageThings, ConfirmsLineage):
    """A thing whose lineage a run confirms: ``token`` is what the last run kept."""

    token: ClassVar[str] = ""
    fail: ClassVar[Exception | None] = None

    def confirm_lineage(self, run: RunContext, step: RunStep) -> None:
        if self.fail is not None:
            raise self.fail
        ConfirmingThings.token = "after-the-run"

    def lineage_confirmed(self, ctx: Context, resource: Resource) -> str:
        return self.token


@pytest.fixture
def confirming() -> Registry:
    MemoryProvider.reset()
    LineageThings.asked.clear()
    ConfirmingThings.token, ConfirmingThings.fail = "", None
    return Registry(extra={"things": ConfirmingThings})


def run_context(tmp_path: Path, said: list[str]) -> RunContext:
    ctx = Context(env="dev", stack_name="test", stack_dir=tmp_path, work_dir=tmp_path / "w",
                  fingerprint=fingerprinter("l"))
    return RunContext(ctx=ctx, run_id="r1", pipeline="p", bookmarks=None,  # type: ignore[arg-type]
                      log=lambda _line: None, say=said.append)


def test_a_confirmed_lineage_is_worked_out_again_and_breaks_nothing(tmp_path, confirming
                                                                    ) -> None:
    plan_apply(tmp_path, confirming, "amount,id")
    _plan, backend = plan_apply(tmp_path, confirming, "amount,id", apply=False)
    assert LineageThings.asked == ["things.a", "things.b"]  # the apply; the plan asks nobody
    LineageThings.asked.clear()
    state = backend.read("dev")
    assert state is not None
    provider = confirming.get("things")
    step = RunStep(Step("a", "things.a"), thing("a", value="amount,id"),
                   state.resources["things.a"], provider)
    said: list[str] = []
    assert confirm_after_run(run_context(tmp_path, said), [step]) == [] and said == []
    plan, _ = plan_apply(tmp_path, confirming, "amount,id", apply=False)
    # Each confirmed thing is asked again, once: the graphs before and after share it.
    assert LineageThings.asked == ["things.a", "things.b"]
    assert not plan.has_changes and plan.impact["breaking"] == []


def test_a_warehouse_that_does_not_answer_after_a_run_is_a_warning(tmp_path, confirming
                                                                   ) -> None:
    provider = confirming.get("things")
    res = thing("a", value="amount")
    state = ResourceState("things.a", "things", {}, {})
    said: list[str] = []
    for failure, reason in ((StackformError("connection refused"), "connection refused"),
                            (RuntimeError("oops"), "RuntimeError: oops")):
        ConfirmingThings.fail = failure
        said.clear()
        step = RunStep(Step("a", "things.a"), res, state, provider)
        assert confirm_after_run(run_context(tmp_path, said), [step, step]) == said == [
            f"warning: things.a: lineage not confirmed against the warehouse: {reason}"]
