"""The provider conformance suite for ``bi`` and ``dashboards``, against the real Superset of
the session (the bi block's passwords are the sensitive variant)."""

from __future__ import annotations

from pathlib import Path

import pytest
from superset_support import Warehouse, clean_server, resolved_pair

from stackform.config.model import EnvironmentSettings, ResolvedStack
from stackform.provider import ComputesAttributes, Context, Provider
from stackform.resource import Resource
from stackform.testing.provider_conformance import MakeResource, ProviderConformance
from stackform_superset import BiProvider, DashboardProvider
from tests.superset_server import SupersetServer


def _renamed(resource: Resource, name: str) -> Resource:
    return Resource(f"{resource.kind}.{name}", resource.kind, name, resource.config,
                    resource.attributes, resource.sensitive, resource.depends_on)


class TestBiConformance(ProviderConformance):
    replace_variant = 2
    replace_moves = False  # the databases are the same objects, found by uuid
    sensitive_variant = 0  # every variant carries the service account's and the database's

    @pytest.fixture
    def provider(self) -> Provider:
        return BiProvider()

    @pytest.fixture(autouse=True)
    def _no_datasets_left(self, superset_server: SupersetServer) -> None:
        # Deleting a bi block deletes its databases, which Superset refuses while datasets of
        # other tests' dashboards still use them.
        clean_server(superset_server.url, superset_server.username, superset_server.password)

    @pytest.fixture
    def make_resource(self, superset_server: SupersetServer, wh: Warehouse,
                      stack_dir: Path) -> MakeResource:
        def variant(name: str, n: int) -> Resource:
            url = superset_server.url
            if n == 2:  # the same server under another name: a force-new change
                url = url.replace("127.0.0.1", "localhost")
            bi, _ = resolved_pair(stack_dir, url, superset_server.username,
                                  superset_server.password, wh, disallow_edits=n == 1)
            made = _renamed(bi, name)
            BiProvider().computed_attributes(_stack(stack_dir, made), made)
            return made
        return variant


class TestDashboardConformance(ProviderConformance):
    replace_variant = 2
    replace_moves = False  # the same dashboard, found by uuid

    @pytest.fixture
    def provider(self) -> Provider:
        return DashboardProvider()

    @pytest.fixture
    def make_resource(self, superset_server: SupersetServer, wh: Warehouse,
                      stack_dir: Path) -> MakeResource:
        def variant(name: str, n: int) -> Resource:
            dashboard = ({"bi": "main", "uuid": "18ee2d7c-d077-4cb7-a192-bf0ab1af9855"},
                         {"bi": "main", "slug": "sales"},
                         {"bi": "bi.main", "uuid": "18ee2d7c-d077-4cb7-a192-bf0ab1af9855"})[n]
            _, made = resolved_pair(stack_dir, superset_server.url, superset_server.username,
                                    superset_server.password, wh, dashboard=dashboard)
            return _renamed(made, name)
        return variant

    def test_optional_capabilities_keep_their_contracts(
        self, provider: Provider, ctx: Context, make_resource: MakeResource,
        superset_server: SupersetServer, wh: Warehouse
    ) -> None:
        # The suite's own version hands computed_attributes a stack of the dashboard alone; a
        # dashboard needs its bi block (an error at the block without one), so this stack
        # carries it too. What is checked is the suite's: only computed_fields come back, and
        # nothing is unapplied right after an apply.
        desired = make_resource("one", 0)
        bi, _ = resolved_pair(ctx.stack_dir, superset_server.url, superset_server.username,
                              superset_server.password, wh)
        assert isinstance(provider, DashboardProvider) and isinstance(provider,
                                                                      ComputesAttributes)
        computed = provider.computed_attributes(_stack(ctx.stack_dir, desired, bi), desired)
        assert set(computed) <= provider.computed_fields
        state = self.create(provider, ctx, desired)
        assert provider.unapplied(ctx, state, desired) is None


def _stack(folder: Path, *resources: Resource) -> ResolvedStack:
    return ResolvedStack(name="conformance", env="test", file=folder / "stack.toml", dir=folder,
                         environment=EnvironmentSettings("test"), state={},
                         resources={r.address: r for r in resources})

