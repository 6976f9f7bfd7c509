"""The conformance suite every provider runs, like dbt's adapter test suite.

A provider's tests subclass :class:`ProviderConformance` and supply fixtures; every check below
then runs against that provider::

    class TestFilesConformance(ProviderConformance):
        replace_variant = 2
        sensitive_variant = 3

        @pytest.fixture
        def provider(self) -> Provider:
            return FilesProvider()

        @pytest.fixture
        def make_resource(self) -> MakeResource:
            def make(name: str, variant: int) -> Resource: ...
            return make

Fixtures a subclass must supply:

``provider``
    A provider instance.
``make_resource``
    ``make(name, variant) -> Resource``: a desired resource. Variants ``0`` and ``1`` differ in
    an attribute that is updated in place. Variant :attr:`~ProviderConformance.replace_variant`
    differs from ``0`` only in force-new attributes (required when the provider has any).
    Variant :attr:`~ProviderConformance.sensitive_variant` carries at least one sensitive
    attribute; make its secret values distinctive strings (the check searches for them as
    substrings of outputs and state).

Fixtures a subclass may override: ``stack_dir`` (a fresh temporary folder) and ``ctx`` (a
:class:`Context` over it with a fixed-lineage fingerprint and a ``log`` that collects lines).

The suite plays core's part: after ``create``/``update`` it records state as core does,
``ResourceState(attributes=desired.masked(fingerprint), outputs=outputs)``, and hands that to
``read``/``update``/``delete``. The contract it checks:

- ``Config`` is a pydantic model that forbids unknown keys, and desired attributes validate
  (less the ``computed_fields`` a provider derives from the rest of the stack);
- ``force_new`` and ``sensitive_fields`` name real ``Config`` fields, ``computed_fields`` none;
- create then read gives back the desired masked attributes; read after update reflects it;
- read of something never created, or deleted, is ``None``; delete is idempotent;
- create over an existing resource succeeds (a crash between create and the state write must
  not wedge the next apply);
- read and plan notes are repeatable: the same answer for an unchanged world (apply builds a
  saved plan again and refuses it when anything differs, so no time stamps in notes);
- the provider passes the registry's checks at load (:mod:`stackform.provider_checks`): the
  right ``kind``, a pydantic ``Config`` (the one of ``BaseProvider[Config]``), core's methods
  taking core's arguments, every optional capability declared whole;
- each optional capability it declares keeps its contract: ``written_paths`` and
  ``watched_paths`` give paths, ``computed_attributes`` only ``computed_fields``,
  ``pipeline_dependencies`` only pipelines of the stack, ``unapplied`` is ``None`` right after
  an apply, ``plan_diagnostics`` returns ``Diagnostic`` objects, the same for an unchanged world
  (it runs at every plan);
- outputs are JSON-serialisable; no secret appears in outputs, in ``ResourceState.to_json()``,
  in plan notes or in plan diagnostics;
- providers never print (they log through ``ctx.log``);
- the provider class loads through the ``stackform.providers`` entry point for its kind
  (test-only providers that are not installed set ``check_entry_point = False``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, ValidationError

from stackform.config.model import EnvironmentSettings, ResolvedStack
from stackform.diagnostics import Diagnostic
from stackform.provider import (
    ChecksUnapplied,
    ComputesAttributes,
    Context,
    DependsOnPipelines,
    Outputs,
    PlanChecker,
    Provider,
    WatchesPaths,
    WritesLocalFiles,
)
from stackform.provider_checks import class_problems, provider_problems
from stackform.registry import GROUP, Registry
from stackform.resource import KeyPath, Resource, ResourceState, fingerprinter

MakeResource = Callable[[str, int], Resource]

LINEAGE = "conformance-lineage"
MIN_SECRET_LENGTH = 6
"""Shorter sensitive values are not searched for: ``"1"`` would match any digest."""


def record(ctx: Context, desired: Resource, outputs: Outputs) -> ResourceState:
    """The state core writes after a successful create or update."""
    return ResourceState(
        address=desired.address,
        kind=desired.kind,
        attributes=desired.masked(ctx.fingerprint),
        outputs=dict(outputs),
        dependencies=desired.depends_on,
    )


def never_created(ctx: Context, desired: Resource) -> ResourceState:
    """A state entry for a resource that does not exist (recorded, then removed by hand)."""
    return ResourceState(
        address=desired.address, kind=desired.kind, attributes=desired.masked(ctx.fingerprint)
    )


def sensitive_leaves(attributes: Any, paths: frozenset[KeyPath]) -> list[str]:
    """The secret values of ``attributes`` as strings, for substring searches."""
    found: list[str] = []

    def strings(value: Any) -> None:
        if isinstance(value, dict):
            for v in value.values():
                strings(v)
        elif isinstance(value, list):
            for v in value:
                strings(v)
        elif value is not None and not isinstance(value, bool):
            found.append(str(value))

    for path in paths:
        value: Any = attributes
        for key in path:
            try:
                value = value[key]
            except (KeyError, IndexError, TypeError):
                value = None
                break
        strings(value)
    return [s for s in found if len(s) >= MIN_SECRET_LENGTH]


class ProviderConformance:
    """Base class of a provider's conformance tests; see the module docstring."""

    replace_variant: ClassVar[int | None] = None
    """The ``make_resource`` variant differing from 0 in force-new fields only."""
    replace_moves: ClassVar[bool] = True
    """Whether a replacement lives elsewhere (a file at a new path). ``False`` for resources whose
    identity is their address (a plugin reinstalled with another pip_url): the old record then
    reads as the new resource once it is created."""
    sensitive_variant: ClassVar[int | None] = None
    """The ``make_resource`` variant with sensitive attributes; ``None`` skips the secret check."""
    check_entry_point: ClassVar[bool] = True
    """``False`` for a test-only provider that is not installed as a distribution."""

    # --- fixtures a subclass supplies or may override -------------------------------------

    @pytest.fixture
    def provider(self) -> Provider:
        raise NotImplementedError("a conformance subclass must define the `provider` fixture")

    @pytest.fixture
    def make_resource(self) -> MakeResource:
        raise NotImplementedError("a conformance subclass must define `make_resource`")

    @pytest.fixture
    def stack_dir(self, tmp_path: Path) -> Path:
        path = tmp_path / "stack"
        path.mkdir()
        return path

    @pytest.fixture
    def log_lines(self) -> list[str]:
        return []

    @pytest.fixture
    def ctx(self, stack_dir: Path, log_lines: list[str]) -> Context:
        work_dir = stack_dir / ".stackform" / "envs" / "test"
        work_dir.mkdir(parents=True)
        return Context(
            env="test",
            stack_name="conformance",
            stack_dir=stack_dir,
            work_dir=work_dir,
            fingerprint=fingerprinter(LINEAGE),
            log=log_lines.append,
        )

    @pytest.fixture(autouse=True)
    def _providers_never_print(self, capfd: pytest.CaptureFixture[str]) -> Iterator[None]:
        yield
        out, err = capfd.readouterr()
        assert (out, err) == ("", ""), "a provider printed; it must log through ctx.log instead"

    # --- helpers --------------------------------------------------------------------------

    def create(self, provider: Provider, ctx: Context, desired: Resource) -> ResourceState:
        outputs = provider.create(ctx, desired)
        assert_json_outputs(outputs)
        return record(ctx, desired, outputs)

    def update(
        self, provider: Provider, ctx: Context, prior: ResourceState, desired: Resource
    ) -> ResourceState:
        outputs = provider.update(ctx, prior, desired)
        assert_json_outputs(outputs)
        return record(ctx, desired, outputs)

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

    # --- optional capabilities --------------------------------------------------------------

    def test_passes_the_registrys_checks(self, provider: Provider) -> None:
        # What the registry refuses at load: the wrong kind, no pydantic Config, a method core
        # calls that does not take core's arguments, a capability half declared.
        assert class_problems(type(provider), provider.kind) == []
        assert provider_problems(provider) == []

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

    # --- registration ---------------------------------------------------------------------

    def test_loads_through_entry_point(self, provider: Provider) -> None:
        if not self.check_entry_point:
            pytest.skip("test-only provider, not installed")
        from importlib.metadata import entry_points

        count = [ep.name for ep in entry_points(group=GROUP)].count(provider.kind)
        assert count == 1, f"{provider.kind} has {count} entry points in {GROUP}, not 1"
        loaded = Registry().get(provider.kind)
        assert type(loaded) is type(provider)


def config_attributes(provider: Provider, desired: Resource) -> dict[str, Any]:
    """The desired attributes the block's ``Config`` produced: without the ones the provider
    computes from the rest of the stack (``computed_fields``)."""
    computed = frozenset(getattr(provider, "computed_fields", frozenset()))
    return {k: v for k, v in desired.attributes.items() if k not in computed}


def assert_json_outputs(outputs: Outputs) -> None:
    assert isinstance(outputs, dict), "outputs must be a dict"
    assert all(isinstance(k, str) for k in outputs), "output names must be strings"
    assert json.loads(json.dumps(outputs)) == outputs, "outputs must round-trip through JSON"


def assert_strings(notes: Any) -> None:
    assert isinstance(notes, list) and all(isinstance(n, str) for n in notes), notes
