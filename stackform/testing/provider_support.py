"""What the provider checks (:mod:`.provider_conformance`) share: the fixtures a provider's
tests supply or may override, the settings they may set (:class:`ProviderCheckBase`), and
the state core records after a create or update (:func:`record`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from stackform.provider import Context, Outputs, Provider
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


class ProviderCheckBase:
    """Settings, fixtures and helpers of every provider check; see
    :mod:`stackform.testing.provider_conformance`."""

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
