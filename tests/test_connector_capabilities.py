"""Core's side of the connector capabilities (stackform.inspection), with an in-process fake
provider: a source change found at plan is an update with the provider's reason, never drift,
and only when refreshing; ``invoke`` writes the provider's files privately, masks secrets in
the output, passes the exit code through and leaves nothing behind; a block without the
capability, or unknown, is refused with the blocks that have it. Real connectors:
tests/e2e/test_connector_*.py."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, ConfigDict

from stackform.catalog_listing import catalog_of, to_json, to_rows
from stackform.errors import StackformError
from stackform.inspection import CatalogEntry, CatalogListing, Invocation
from stackform.invoke import invoke_block
from stackform.plan.builder import PlanOptions
from stackform.plan.model import Action
from stackform.provider import BaseProvider, Context, Outputs
from stackform.registry import Registry
from stackform.resource import Resource, ResourceState
from stackform.session import Session, open_session
from stackform.supervise import runtime_root

TOKEN = "tok-3f9a1c77e2"
SCRIPT = ("import os, sys; print(open(sys.argv[1]).read().strip()); "
          "print('env', os.environ['SOURCE_TOKEN'], file=sys.stderr); sys.exit(int(sys.argv[2]))")


class SourceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = ""


class Sources(BaseProvider[SourceConfig]):
    """A block mirroring a "source" (a class attribute) it can look at again and invoke."""

    kind: ClassVar[str] = "sources"
    Config: ClassVar[type[BaseModel]] = SourceConfig
    source: ClassVar[str] = "v1"
    looked: ClassVar[int] = 0

    def create(self, ctx: Context, desired: Resource) -> Outputs:
        return {"seen": Sources.source}

    def source_changes(self, ctx: Context, prior: ResourceState, desired: Resource
                       ) -> str | None:
        if not ctx.options.get("look"):
            return None
        Sources.looked += 1
        seen = prior.outputs.get("seen")
        return None if seen == Sources.source else f"the source moved: {seen} -> {self.source}"

    def catalog_listing(self, ctx: Context, resource: Resource,
                        prior: ResourceState | None) -> CatalogListing:
        return CatalogListing(resource.address, (
            CatalogEntry("orders", None, True, 'select rule "orders.*"',
                         replication_method="FULL_TABLE", key_properties=("id",)),
            CatalogEntry("orders", "id", True, "inclusion: automatic", "integer"),
            CatalogEntry("orders", "note", False, 'excluded by "!orders.note"', "string"),
            CatalogEntry("refunds", None, False, "no select rule names it"),
            CatalogEntry("refunds", "id", False, "stream not selected", "integer"),
        ), "recorded")

    def invocation(self, ctx: Context, resource: Resource, prior: ResourceState | None,
                   args: Sequence[str], runtime: Path) -> Invocation:
        token = str(resource.attributes["token"])
        return Invocation((sys.executable, "-c", SCRIPT, str(runtime / "conf.txt"), *args),
                          {**os.environ, "SOURCE_TOKEN": token}, ctx.stack_dir,
                          {"conf.txt": f"config with {token}"})


class Plain(BaseProvider[SourceConfig]):
    kind: ClassVar[str] = "plain"
    Config: ClassVar[type[BaseModel]] = SourceConfig

    def create(self, ctx: Context, desired: Resource) -> Outputs:
        return {}


REGISTRY = Registry(extra={"sources": Sources, "plain": Plain})
STACK = """
[stack]
name = "inspect"

[sources.orders]
token = "${secret.source_token}"

[plain.other]
"""


@pytest.fixture
def session(project: Path, monkeypatch: pytest.MonkeyPatch) -> Session:
    monkeypatch.setenv("STACKFORM_SECRET_SOURCE_TOKEN", TOKEN)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    (project / "stack.toml").write_text(STACK)
    Sources.source, Sources.looked = "v1", 0
    return open_session(project, registry=REGISTRY)


def _applied(session: Session, options: Mapping[str, Any] | None = None) -> None:
    state = session.read_state()
    plan = session.plan(PlanOptions(provider_options=dict(options or {})), state,
                        state_read=True, with_git=False)
    result = session.apply(plan, state)
    assert result.unsaved is None


def test_a_source_change_is_an_update_with_the_providers_reason_never_drift(
        session: Session) -> None:
    _applied(session)
    Sources.source = "v2"
    quiet = session.plan(with_git=False)
    assert quiet.change("sources.orders").action is Action.NOOP  # not asked: frozen
    assert Sources.looked == 0
    asked = session.plan(PlanOptions(provider_options={"look": True}), with_git=False)
    change = asked.change("sources.orders")
    assert (change.action, change.reason) == (Action.UPDATE, "the source moved: v1 -> v2")
    assert asked.drift == ()
    not_refreshing = session.plan(PlanOptions(refresh=False, provider_options={"look": True}),
                                  with_git=False)
    assert not_refreshing.change("sources.orders").action is Action.NOOP
    _applied(session, {"look": True})
    again = session.plan(PlanOptions(provider_options={"look": True}), with_git=False)
    assert again.change("sources.orders").action is Action.NOOP


def test_invoke_masks_secrets_passes_the_exit_code_and_leaves_nothing(
        session: Session) -> None:
    out: list[str] = []
    err: list[str] = []
    code = invoke_block(session, "orders", ["7"], out.append, err.append)
    assert code == 7
    assert out == ["config with ***\n"] and err == ["env ***\n"]
    root = runtime_root(session.stack.dir / ".stackform" / "envs" / "inspect" / "dev")
    assert list(root.iterdir()) == []
    assert not any(TOKEN.encode() in p.read_bytes()
                   for p in session.stack.dir.rglob("*") if p.is_file())
    assert invoke_block(session, "sources.orders", ["0"], out.append, err.append) == 0


def test_a_block_without_the_capability_or_unknown_is_refused(session: Session) -> None:
    with pytest.raises(StackformError) as refused:
        invoke_block(session, "plain.other", [], print, print)
    assert refused.value.reason == "plain.other: plain blocks have no executable to invoke"
    assert refused.value.hint == "blocks that have one: sources.orders"
    with pytest.raises(StackformError) as unknown:
        catalog_of(session, "ordrs")
    assert unknown.value.reason == "no block 'ordrs' in the stack (environment dev)"
    assert unknown.value.hint == "did you mean 'orders'?"


def test_the_catalog_listing_as_json_and_as_a_table(session: Session) -> None:
    listing = catalog_of(session, "orders")
    doc = json.loads(to_json(listing, "dev", everything=False))
    assert doc == {"block": "sources.orders", "env": "dev", "catalog": "recorded", "all": False,
                   "notes": [], "streams": [{
                       "stream": "orders", "selected": True, "why": 'select rule "orders.*"',
                       "replication_method": "FULL_TABLE", "replication_key": None,
                       "key_properties": ["id"], "properties": [
                           {"property": "id", "selected": True,
                            "why": "inclusion: automatic", "type": "integer"}]}]}
    everything = json.loads(to_json(listing, "dev", everything=True))
    assert [s["stream"] for s in everything["streams"]] == ["orders", "refunds"]
    assert to_rows(listing, everything=True)[2] == [
        "no", "  orders.note", "string", 'excluded by "!orders.note"']
