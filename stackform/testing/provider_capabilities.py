"""Provider checks on the optional capabilities a provider declares (each keeps its contract
as core uses it) and on secrets (none in outputs, state, plan notes or diagnostics).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stackform.config.model import EnvironmentSettings, ResolvedStack
from stackform.diagnostics import Diagnostic
from stackform.provider import (
    ChecksUnapplied,
    ComputesAttributes,
    Context,
    DependsOnBlocks,
    DependsOnPipelines,
    Exports,
    PlanChecker,
    Provider,
    WatchesPaths,
    WritesLocalFiles,
)
from stackform.provider_lineage import ProvidesLineage
from stackform.testing.provider_support import (
    MakeResource,
    ProviderCheckBase,
    record,
    sensitive_leaves,
)


class ProviderCapabilityChecks(ProviderCheckBase):
    """Optional capabilities and secrets."""

    # --- optional capabilities --------------------------------------------------------------

    def test_optional_capabilities_keep_their_contracts(
        self, provider: Provider, ctx: Context, make_resource: MakeResource
    ) -> None:
        # Each capability the provider declares, checked as core uses it; one it does not
        # declare core never asks about.
        desired = make_resource("one", 0)
        stack = ResolvedStack(name=ctx.stack_name, env=ctx.env, file=ctx.stack_dir / "stack.toml",
                              dir=ctx.stack_dir, environment=EnvironmentSettings(ctx.env),
                              state={}, resources={desired.address: desired})
        if isinstance(provider, WritesLocalFiles):
            written = provider.written_paths(desired.config)
            assert all(isinstance(k, tuple) and isinstance(v, str)
                       for k, v in written.items()), written
        if isinstance(provider, WatchesPaths):
            watched = provider.watched_paths(stack, desired)
            assert all(isinstance(what, str) and what and isinstance(path, str | Path)
                       for what, path in watched), watched
        if isinstance(provider, ComputesAttributes):
            computed = provider.computed_attributes(stack, desired)
            assert set(computed) <= provider.computed_fields, computed
        if isinstance(provider, DependsOnPipelines):
            # a stack without pipelines: nothing to depend on
            assert list(provider.pipeline_dependencies(stack, desired)) == []
        if isinstance(provider, Exports):
            exported = provider.exports(stack, desired)
            assert set(exported) <= provider.exported_fields, exported
            assert exported == provider.exports(stack, desired)  # no I/O: the same each time
        if isinstance(provider, DependsOnBlocks):
            deps = [str(a) for a in provider.block_dependencies(stack, desired)]
            assert all(a in stack.resources and a != desired.address for a in deps), deps
        state = self.create(provider, ctx, desired)
        if isinstance(provider, ChecksUnapplied):
            # just applied: the recorded state is what the stack wants
            assert provider.unapplied(ctx, state, desired) is None
        if isinstance(provider, PlanChecker):
            # They run at every plan: the same findings for an unchanged world, and nothing else.
            for prior, want in ((None, desired), (state, desired),
                                (state, make_resource("one", 1))):
                found = provider.plan_diagnostics(ctx, prior, want)
                assert all(isinstance(d, Diagnostic) for d in found), found
                assert found == provider.plan_diagnostics(ctx, prior, want)
        if isinstance(provider, ProvidesLineage):
            # Recorded in state at apply: JSON-ready, the same for an unchanged world, and its
            # edges end at its own nodes (they may start upstream).
            from stackform.lineage.model import LineageFragment, LineageGraph

            fragment = provider.lineage(ctx, desired, state.outputs, LineageGraph({}))
            assert isinstance(fragment, LineageFragment), fragment
            assert fragment == provider.lineage(ctx, desired, state.outputs, LineageGraph({}))
            json.dumps(fragment.to_json())
            own = {n.id for n in fragment.nodes}
            assert all(b in own for _a, b in fragment.edges), fragment.edges

    # --- secrets --------------------------------------------------------------------------

    def test_no_secret_in_outputs_or_state(
        self, provider: Provider, ctx: Context, make_resource: MakeResource
    ) -> None:
        if self.sensitive_variant is None:
            pytest.skip("no sensitive_variant supplied")
        desired = make_resource("secret", self.sensitive_variant)
        sensitive = desired.sensitive | {(f,) for f in provider.sensitive_fields}
        secrets = sensitive_leaves(dict(desired.attributes), frozenset(sensitive))
        assert secrets, "the sensitive variant must carry a secret of at least 6 characters"

        def assert_clean(what: str, document: Any) -> None:
            text = json.dumps(document)
            for secret in secrets:
                assert secret not in text, f"a secret value appears in {what}"

        created = provider.create(ctx, desired)
        assert_clean("create outputs", created)
        state = record(ctx, desired, created)
        assert_clean("recorded state", state.to_json())
        actual = provider.read(ctx, state)
        assert actual is not None
        assert_clean("read state", actual.to_json())
        assert dict(actual.attributes) == desired.masked(ctx.fingerprint)
        updated = provider.update(ctx, state, desired)
        assert_clean("update outputs", updated)
        assert_clean("plan notes", provider.plan_notes(ctx, state, desired))
        if isinstance(provider, PlanChecker):
            assert_clean("plan diagnostics",
                         [d.format() for d in provider.plan_diagnostics(ctx, state, desired)])
