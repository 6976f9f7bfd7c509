"""The provider on real dbt-duckdb: the conformance suite, apply, the data-aware plan, and
pipeline steps that build a small project (seed, staging model, mart, tests) into DuckDB."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from dbt_support import PIP_URL, write_project

from stackform.config.model import Step
from stackform.provider import Context, Provider, RunContext, RunStep
from stackform.resource import Resource, fingerprinter
from stackform.testing.provider_conformance import MakeResource, ProviderConformance, record
from stackform_dbt import TransformerProvider
from stackform_dbt.config import TransformerConfig
from stackform_dbt.run import DbtError

SECRET = "s3cr3t-access-key-value"


def make(name: str, variant: int = 0) -> Resource:
    target: dict[str, Any] = {"type": "duckdb", "path": "warehouse/test.duckdb"}
    sensitive: frozenset[tuple[str | int, ...]] = frozenset()
    if variant == 3:
        target["settings"] = {"s3_secret_access_key": SECRET}
        sensitive = frozenset({("target", "settings", "s3_secret_access_key")})
    config = TransformerConfig.model_validate({
        "pip_url": PIP_URL if variant != 2 else f"{PIP_URL} six==1.16.0",
        "project_dir": "transform",
        "target": target,
        "vars": {"start": "2024-01-01"} if variant == 1 else {},
    })
    return Resource(f"transformers.{name}", "transformers", name, config,
                    config.model_dump(mode="json"), sensitive)


class TestTransformerConformance(ProviderConformance):
    replace_variant = 2
    replace_moves = False
    sensitive_variant = 3

    @pytest.fixture
    def provider(self) -> Provider:
        return TransformerProvider()

    @pytest.fixture
    def make_resource(self, stack_dir: Path) -> MakeResource:
        write_project(stack_dir)
        return make

    def test_secret_only_in_the_process_environment(
        self, provider: Provider, ctx: Context, make_resource: MakeResource
    ) -> None:
        provider.create(ctx, make_resource("secret", 3))
        for path in ctx.work_dir.rglob("*"):
            if path.is_file() and path.suffix != ".msgpack":
                assert SECRET not in path.read_text(errors="replace"), path


# -- one applied project, shared by the tests below ---------------------------------------------


@dataclass
class Applied:
    ctx: Context
    provider: TransformerProvider
    resource: Resource
    outputs: dict[str, Any]
    logs: list[str]

    @property
    def state(self) -> Any:
        return record(self.ctx, self.resource, self.outputs)


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Applied:
    stack = tmp_path_factory.mktemp("stack")
    write_project(stack)
    work = stack / ".stackform" / "envs" / "dev-alice"
    work.mkdir(parents=True)
    logs: list[str] = []
    ctx = Context(env="dev-alice", stack_name="jaffle", stack_dir=stack, work_dir=work,
                  fingerprint=fingerprinter("lineage"), log=logs.append)
    provider = TransformerProvider()
    config = TransformerConfig.model_validate({"pip_url": PIP_URL, "project_dir": "transform",
                                               "target": {"type": "duckdb",
                                                          "path": "warehouse/dev.duckdb"}})
    resource = Resource("transformers.dbt", "transformers", "dbt", config,
                        config.model_dump(mode="json"))
    outputs = provider.create(ctx, resource)
    return Applied(ctx, provider, resource, outputs, logs)


def test_apply_records_the_manifest_summary(applied: Applied) -> None:
    nodes = applied.outputs["manifest"]["nodes"]
    stg = nodes["model.jaffle.stg_orders"]
    assert stg["path"] == "models/staging/stg_orders.sql"
    assert stg["label"] == "staging.stg_orders"
    assert "model.jaffle.customers" in stg["children"]
    assert {n["type"] for n in nodes.values()} == {"seed", "model", "test"}
    assert applied.outputs["schema"] == "analytics_dev_alice"
    profile = Path(applied.outputs["profiles_dir"]) / "profiles.yml"
    assert profile.is_relative_to(applied.ctx.work_dir)
    assert Path(applied.outputs["target_path"]).is_relative_to(applied.ctx.work_dir)
    json.dumps(applied.outputs)
    # Unchanged project: read is the recorded state, and the plan has nothing to say.
    state = applied.state
    assert applied.provider.read(applied.ctx, state) == state
    assert applied.provider.plan_notes(applied.ctx, state, applied.resource) == []


def _build(applied: Applied, command: str | None) -> tuple[Any, list[str], list[str]]:
    log: list[str] = []
    said: list[str] = []

    class NoBookmarks:
        def get(self, key: str) -> None:
            return None

        def put(self, key: str, value: Any) -> None:
            raise AssertionError("dbt keeps no bookmarks")

    run = RunContext(ctx=applied.ctx, run_id="r1", pipeline="daily", bookmarks=NoBookmarks(),
                     log=log.append, say=said.append)
    raw = "dbt" if command is None else f"dbt:{command}"
    step = RunStep(Step(raw=raw, address="transformers.dbt", command=command),
                   applied.resource, applied.state, applied.provider)
    consumed, outcome = applied.provider.run_steps(run, [step])
    assert consumed == 1
    return outcome, log, said


def _query(applied: Applied, sql: str) -> Any:
    python = Path(applied.outputs["venv"]) / "bin" / "python"
    db = applied.ctx.stack_dir / "warehouse" / "dev.duckdb"
    code = f"import duckdb, json; print(json.dumps(duckdb.connect({str(db)!r}, " \
           f"read_only=True).sql({sql!r}).fetchall()))"
    return json.loads(subprocess.run([str(python), "-c", code], check=True, text=True,
                                     capture_output=True).stdout)


def test_build_step_builds_the_mart(applied: Applied) -> None:
    outcome, log, said = _build(applied, None)
    assert outcome.status == "success", outcome.error
    assert outcome.name == "dbt:build"
    assert outcome.details["success"] == 6 and outcome.details["error"] == 0
    assert _query(applied, "select customer, total from analytics_dev_alice.customers "
                           "order by customer") == [["ann", 15], ["bob", 20]]
    assert any("Completed successfully" in line for line in log)
    assert said and said[0].startswith("dbt:build: 6 ok, 0 failed, 0 skipped")


def test_plan_after_editing_a_model_shows_it_and_what_it_affects(applied: Applied) -> None:
    project = applied.ctx.stack_dir / "transform"
    stg = project / "models" / "staging" / "stg_orders.sql"
    new = project / "models" / "marts" / "revenue.sql"
    original = stg.read_text()
    try:
        stg.write_text("select id, lower(customer) as customer, amount\n"
                       "from {{ ref('raw_orders') }}\n")
        new.write_text("select sum(total) as revenue from {{ ref('customers') }}\n")
        state = applied.state
        # The project's files are what the stack wants, not drift: read reports nothing...
        assert applied.provider.read(applied.ctx, state) == state
        # ...and the files changed since the apply are named, from the stack's folder.
        unapplied = applied.provider.unapplied(applied.ctx, state, applied.resource)
        assert unapplied is not None
        assert unapplied.paths == ("transform/models/marts/revenue.sql",
                                   "transform/models/staging/stg_orders.sql")
        notes = applied.provider.plan_notes(applied.ctx, state, applied.resource)
        assert notes == [
            "+ model marts.revenue (new)",
            "~ model staging.stg_orders (changed)",
            "  affects: model marts.customers, test not_null_stg_orders_id, "
            "test unique_customers_customer, test unique_stg_orders_id",
        ]
    finally:
        stg.write_text(original)
        new.unlink(missing_ok=True)
    assert applied.provider.unapplied(applied.ctx, applied.state, applied.resource) is None


def test_description_changes_modify_only_nodes_that_persist_them(applied: Applied) -> None:
    """dbt's state:modified rule, on what dbt's own parse records: a description is
    documentation, unless persist_docs writes it to the warehouse."""
    schema = applied.ctx.stack_dir / "transform" / "models" / "schema.yml"
    original = schema.read_text()
    described = original.replace("  - name: stg_orders\n",
                                 "  - name: stg_orders\n    description: Orders, cleaned.\n")
    persisted = described.replace(
        "    description: Orders, cleaned.\n",
        "    description: Orders, cleaned.\n    config:\n      persist_docs: {relation: true}\n")
    try:
        for applied_text, persisting in ((described, False), (persisted, True)):
            schema.write_text(applied_text)
            state = record(applied.ctx, applied.resource,
                           applied.provider.update(applied.ctx, applied.state, applied.resource))
            stg = state.outputs["manifest"]["nodes"]["model.jaffle.stg_orders"]
            assert stg.get("persist_docs") == (["relation"] if persisting else None)
            schema.write_text(applied_text.replace("Orders, cleaned.", "Orders, deduplicated."))
            unapplied = applied.provider.unapplied(applied.ctx, state, applied.resource)
            assert unapplied is not None
            assert unapplied.paths == ("transform/models/schema.yml",)
            notes = applied.provider.plan_notes(applied.ctx, state, applied.resource)
            if persisting:
                assert notes == [
                    "~ model staging.stg_orders (description in models/schema.yml changed; "
                    "persisted by persist_docs)",
                    "  affects: model marts.customers, test not_null_stg_orders_id, "
                    "test unique_customers_customer, test unique_stg_orders_id",
                ]
            else:
                assert notes == ["~ properties models/schema.yml (only descriptions, comments "
                                 "or layout changed: no node is modified)"]
    finally:
        schema.write_text(original)


def test_failing_test_fails_the_step_naming_it(applied: Applied) -> None:
    failing = applied.ctx.stack_dir / "transform" / "tests" / "assert_one_customer.sql"
    failing.parent.mkdir(exist_ok=True)
    failing.write_text("select * from {{ ref('customers') }} where customer = 'bob'\n")
    try:
        outcome, _log, _said = _build(applied, "build --select customers+")
    finally:
        failing.unlink()
    assert outcome.status == "failed"
    assert outcome.name == "dbt:build --select customers+"
    assert outcome.error is not None and "test assert_one_customer" in outcome.error
    assert outcome.details["error"] == 1
    assert outcome.details["success"] >= 2


def test_parse_failure_fails_the_apply_with_dbts_message(applied: Applied) -> None:
    broken = applied.ctx.stack_dir / "transform" / "models" / "broken.sql"
    broken.write_text("select * from {{ ref('no_such_model') }}\n")
    try:
        with pytest.raises(DbtError) as caught:
            applied.provider.update(applied.ctx, applied.state, applied.resource)
    finally:
        broken.unlink()
    assert "dbt parse failed" in caught.value.reason
    assert "no_such_model" in caught.value.reason
