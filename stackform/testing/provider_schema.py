"""Provider checks on what a provider declares: its ``Config``, ``force_new`` and
``sensitive_fields``, the variants the tests make, what the registry checks at load, and its
entry point.
"""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from stackform.provider import Provider
from stackform.provider_checks import class_problems, provider_problems
from stackform.registry import GROUP, Registry
from stackform.testing.provider_support import MakeResource, ProviderCheckBase, config_attributes


class ProviderSchemaChecks(ProviderCheckBase):
    """The provider's declared shape."""

    # --- schema ---------------------------------------------------------------------------

    def test_provider_satisfies_protocol(self, provider: Provider) -> None:
        assert isinstance(provider, Provider)
        assert isinstance(provider.kind, str) and provider.kind
        assert isinstance(provider.force_new, frozenset)
        assert isinstance(provider.sensitive_fields, frozenset)

    def test_config_is_pydantic_and_forbids_unknown_keys(
        self, provider: Provider, make_resource: MakeResource
    ) -> None:
        assert isinstance(provider.Config, type) and issubclass(provider.Config, BaseModel)
        assert provider.Config.model_config.get("extra") == "forbid"
        attributes = config_attributes(provider, make_resource("schema", 0))
        with pytest.raises(ValidationError):
            provider.Config.model_validate({**attributes, "no_such_key_xyz": 1})

    def test_desired_attributes_validate_and_round_trip(
        self, provider: Provider, make_resource: MakeResource
    ) -> None:
        desired = make_resource("schema", 0)
        assert isinstance(desired.config, provider.Config)
        assert desired.kind == provider.kind
        assert desired.address == f"{provider.kind}.schema"
        attributes = config_attributes(provider, desired)
        again = provider.Config.model_validate(attributes)
        assert again.model_dump(mode="json") == attributes

    def test_force_new_and_sensitive_fields_are_config_fields(self, provider: Provider) -> None:
        fields = set(provider.Config.model_fields)
        assert provider.force_new <= fields, provider.force_new - fields
        assert provider.sensitive_fields <= fields, provider.sensitive_fields - fields
        computed = frozenset(getattr(provider, "computed_fields", frozenset()))
        assert not computed & fields, f"computed_fields are Config fields: {computed & fields}"

    def test_variants_differ_as_declared(
        self, provider: Provider, make_resource: MakeResource
    ) -> None:
        base = dict(make_resource("v", 0).attributes)
        updated = dict(make_resource("v", 1).attributes)
        changed = {k for k in base.keys() | updated.keys() if base.get(k) != updated.get(k)}
        assert changed, "variants 0 and 1 must differ"
        assert not changed & provider.force_new, "variants 0 and 1 must differ in place only"
        if self.replace_variant is None:
            assert not provider.force_new, "the provider has force_new fields: set replace_variant"
            return
        replaced = dict(make_resource("v", self.replace_variant).attributes)
        changed = {k for k in base.keys() | replaced.keys() if base.get(k) != replaced.get(k)}
        assert changed and changed <= provider.force_new, changed

    # --- registration ---------------------------------------------------------------------

    def test_passes_the_registrys_checks(self, provider: Provider) -> None:
        # What the registry refuses at load: the wrong kind, no pydantic Config, a method core
        # calls that does not take core's arguments, a capability half declared.
        assert class_problems(type(provider), provider.kind) == []
        assert provider_problems(provider) == []

    def test_loads_through_entry_point(self, provider: Provider) -> None:
        if not self.check_entry_point:
            pytest.skip("test-only provider, not installed")
        from importlib.metadata import entry_points

        count = [ep.name for ep in entry_points(group=GROUP)].count(provider.kind)
        assert count == 1, f"{provider.kind} has {count} entry points in {GROUP}, not 1"
        loaded = Registry().get(provider.kind)
        assert type(loaded) is type(provider)
