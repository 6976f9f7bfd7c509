"""The test-only ``sleepers`` provider: conformance, loaded as a third-party entry point.

``tests/fake_provider`` is its own distribution (``stackform-fake-provider``); installing it
editable (``uv pip install -e tests/fake_provider``) registers ``sleepers`` in the
``stackform.providers`` group exactly as an outside package would, which is what the
entry-point check of the suite proves.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from stackform.errors import StackformError
from stackform.provider import Context, Provider
from stackform.registry import Registry
from stackform.resource import KeyPath, Resource
from stackform.testing.provider_conformance import MakeResource, ProviderConformance, record

stackform_fake_provider = pytest.importorskip(
    "stackform_fake_provider", reason="install it: uv pip install -e tests/fake_provider"
)
SleepersConfig = stackform_fake_provider.SleepersConfig


def sleeper(name: str, sensitive: frozenset[KeyPath] = frozenset(), **config: object) -> Resource:
    cfg = SleepersConfig.model_validate({"marker_dir": "markers", "value": "v", **config})
    return Resource(
        address=f"sleepers.{name}",
        kind="sleepers",
        name=name,
        config=cfg,
        attributes=cfg.model_dump(mode="json"),
        sensitive=sensitive,
    )


class TestSleepersConformance(ProviderConformance):
    replace_variant = 2
    sensitive_variant = 3

    @pytest.fixture
    def provider(self) -> Provider:
        # Through the registry, as core gets it: no import of the package by name.
        return Registry().get("sleepers")

    @pytest.fixture
    def make_resource(self) -> MakeResource:
        def make(name: str, variant: int) -> Resource:
            if variant == 0:
                return sleeper(name, value="zero")
            if variant == 1:
                return sleeper(name, value="one")
            if variant == 2:
                return sleeper(name, value="zero", marker_dir="elsewhere")
            return sleeper(name, frozenset({("value",)}), value="s3cr3t-sleeper-value")

        return make


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    from stackform.resource import fingerprinter

    return Context(
        env="test",
        stack_name="t",
        stack_dir=tmp_path,
        work_dir=tmp_path / ".stackform",
        fingerprint=fingerprinter("test-lineage"),
    )


def test_create_sleeps_then_writes_the_marker(ctx: Context, tmp_path: Path) -> None:
    provider = Registry().get("sleepers")
    start = time.monotonic()
    outputs = provider.create(ctx, sleeper("a", seconds=0.2, value="hello"))
    assert time.monotonic() - start >= 0.2
    assert (tmp_path / "markers" / "a").read_text() == "hello"
    assert outputs["finished_at"] - outputs["started_at"] >= 0.2


def test_fail_raises_a_stackform_error_and_writes_nothing(ctx: Context, tmp_path: Path) -> None:
    provider = Registry().get("sleepers")
    with pytest.raises(StackformError, match=r"sleepers\.a failed"):
        provider.create(ctx, sleeper("a", fail=True))
    assert not (tmp_path / "markers" / "a").exists()


def test_edited_marker_is_drift(ctx: Context, tmp_path: Path) -> None:
    provider = Registry().get("sleepers")
    desired = sleeper("a", value="declared")
    state = record(ctx, desired, provider.create(ctx, desired))
    (tmp_path / "markers" / "a").write_text("edited")
    actual = provider.read(ctx, state)
    assert actual is not None and actual.attributes["value"] == "edited"
