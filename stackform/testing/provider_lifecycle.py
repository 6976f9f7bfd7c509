"""Provider checks on the lifecycle core drives: create, read, update, delete, replace, and
plan notes that are repeatable.
"""

from __future__ import annotations

import pytest

from stackform.provider import Context, Provider
from stackform.resource import ResourceState
from stackform.testing.provider_support import (
    MakeResource,
    ProviderCheckBase,
    assert_strings,
    never_created,
)


class ProviderLifecycleChecks(ProviderCheckBase):
    """Create, read, update, delete as core calls them."""

    # --- lifecycle ------------------------------------------------------------------------

    def test_create_then_read_matches_desired(
        self, provider: Provider, ctx: Context, make_resource: MakeResource
    ) -> None:
        desired = make_resource("one", 0)
        state = self.create(provider, ctx, desired)
        actual = provider.read(ctx, state)
        assert actual is not None, "read returned None right after create"
        assert isinstance(actual, ResourceState)
        assert (actual.address, actual.kind) == (desired.address, desired.kind)
        assert dict(actual.attributes) == desired.masked(ctx.fingerprint)

    def test_read_of_never_created_is_none(
        self, provider: Provider, ctx: Context, make_resource: MakeResource
    ) -> None:
        assert provider.read(ctx, never_created(ctx, make_resource("ghost", 0))) is None

    def test_read_after_update_reflects_update(
        self, provider: Provider, ctx: Context, make_resource: MakeResource
    ) -> None:
        v0, v1 = make_resource("one", 0), make_resource("one", 1)
        state = self.create(provider, ctx, v0)
        state = self.update(provider, ctx, state, v1)
        actual = provider.read(ctx, state)
        assert actual is not None
        assert dict(actual.attributes) == v1.masked(ctx.fingerprint)
        # And back: an update is not a one-way street.
        state = self.update(provider, ctx, state, v0)
        actual = provider.read(ctx, state)
        assert actual is not None
        assert dict(actual.attributes) == v0.masked(ctx.fingerprint)

    def test_delete_then_read_is_none(
        self, provider: Provider, ctx: Context, make_resource: MakeResource
    ) -> None:
        state = self.create(provider, ctx, make_resource("one", 0))
        provider.delete(ctx, state)
        assert provider.read(ctx, state) is None

    def test_delete_is_idempotent(
        self, provider: Provider, ctx: Context, make_resource: MakeResource
    ) -> None:
        desired = make_resource("one", 0)
        state = self.create(provider, ctx, desired)
        provider.delete(ctx, state)
        provider.delete(ctx, state)
        provider.delete(ctx, never_created(ctx, make_resource("ghost", 0)))

    def test_create_over_existing_succeeds(
        self, provider: Provider, ctx: Context, make_resource: MakeResource
    ) -> None:
        self.create(provider, ctx, make_resource("one", 1))
        state = self.create(provider, ctx, make_resource("one", 0))
        actual = provider.read(ctx, state)
        assert actual is not None
        assert dict(actual.attributes) == make_resource("one", 0).masked(ctx.fingerprint)

    def test_replace_is_delete_then_create(
        self, provider: Provider, ctx: Context, make_resource: MakeResource
    ) -> None:
        if self.replace_variant is None:
            pytest.skip("the provider has no force_new fields")
        old = self.create(provider, ctx, make_resource("one", 0))
        provider.delete(ctx, old)
        new_desired = make_resource("one", self.replace_variant)
        old_gone = provider.read(ctx, old) is None
        new = self.create(provider, ctx, new_desired)
        assert old_gone
        if self.replace_moves:
            assert provider.read(ctx, old) is None
        actual = provider.read(ctx, new)
        assert actual is not None
        assert dict(actual.attributes) == new_desired.masked(ctx.fingerprint)

    def test_plan_notes_are_strings(
        self, provider: Provider, ctx: Context, make_resource: MakeResource
    ) -> None:
        desired = make_resource("one", 0)
        assert_strings(provider.plan_notes(ctx, None, desired))
        state = self.create(provider, ctx, desired)
        assert_strings(provider.plan_notes(ctx, state, make_resource("one", 1)))
        assert_strings(provider.plan_notes(ctx, state, None))

    def test_read_and_plan_notes_are_repeatable(
        self, provider: Provider, ctx: Context, make_resource: MakeResource
    ) -> None:
        # apply builds a saved plan again and refuses it when anything differs
        desired = make_resource("one", 0)
        state = self.create(provider, ctx, desired)
        assert provider.read(ctx, state) == provider.read(ctx, state)
        for prior, want in ((None, desired), (state, make_resource("one", 1)), (state, None)):
            assert provider.plan_notes(ctx, prior, want) == provider.plan_notes(ctx, prior, want)
