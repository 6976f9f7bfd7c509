"""The provider conformance suite on real Singer plugins: tap-jsonl and target-stackform-duckdb,
installed from the package index (and this repository) with uv into a shared test cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stackform.provider import Provider
from stackform.resource import Resource
from stackform.testing.provider_conformance import MakeResource, ProviderConformance
from stackform_singer import ExtractorProvider, LoaderProvider
from stackform_singer.config import ExtractorConfig, LoaderConfig

REPO = Path(__file__).resolve().parents[3]
TARGET = REPO / "providers" / "target-stackform-duckdb"


def _write_data(stack_dir: Path) -> None:
    (stack_dir / "data").mkdir(exist_ok=True)
    rows = [{"id": i, "name": f"n{i}", "note": "x"} for i in range(3)]
    (stack_dir / "data" / "things.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows))


class TestExtractorConformance(ProviderConformance):
    replace_variant = 2
    replace_moves = False
    sensitive_variant = 3

    @pytest.fixture
    def provider(self) -> Provider:
        return ExtractorProvider()

    @pytest.fixture
    def make_resource(self, stack_dir: Path) -> MakeResource:
        _write_data(stack_dir)

        def make(name: str, variant: int) -> Resource:
            settings: dict[str, object] = {"path": "data/*.jsonl", "stream_name": "things",
                                           "primary_keys": ["id"]}
            if variant == 3:
                settings["client_secret"] = "s3cr3t-client-value"  # tap-jsonl ignores it
            config = ExtractorConfig(
                pip_url="tap-jsonl==0.3.1" if variant != 2 else "tap-jsonl==0.3.1 six==1.16.0",
                executable="tap-jsonl",
                config=settings,
                select=["things.*"] if variant != 1 else ["things.*", "!things.note"],
            )
            sensitive = (frozenset({("config", "client_secret")}) if variant == 3
                         else frozenset())
            return Resource(f"extractors.{name}", "extractors", name, config,
                            config.model_dump(mode="json"), sensitive)

        return make


class TestLoaderConformance(ProviderConformance):
    replace_variant = 2
    replace_moves = False
    sensitive_variant = 3

    @pytest.fixture
    def provider(self) -> Provider:
        return LoaderProvider()

    @pytest.fixture
    def make_resource(self) -> MakeResource:
        def make(name: str, variant: int) -> Resource:
            config = {"path": "warehouse.duckdb", "default_target_schema": "raw"}
            if variant == 1:
                config["batch_size_rows"] = 500  # type: ignore[assignment]
            if variant == 3:
                config["api_token"] = "s3cr3t-token-value"
            pip_url = str(TARGET) if variant != 2 else f"{TARGET} six==1.16.0"
            model = LoaderConfig(pip_url=pip_url, config=config)
            sensitive = frozenset({("config", "api_token")}) if variant == 3 else frozenset()
            return Resource(f"loaders.{name}", "loaders", name, model,
                            model.model_dump(mode="json"), sensitive)

        return make


def test_secret_never_lands_in_rendered_config(tmp_path: Path) -> None:
    from stackform_singer.plugin import public_config

    model = LoaderConfig(pip_url="x", config={"path": "w.duckdb", "password": "hunter2-xyz"})
    resource = Resource("loaders.w", "loaders", "w", model, model.model_dump(mode="json"),
                        frozenset({("config", "password")}))
    assert public_config(resource) == {"path": "w.duckdb"}


def test_a_changed_or_removed_loader_says_what_happens_to_its_tables(tmp_path: Path) -> None:
    from stackform.provider import Context
    from stackform.resource import ResourceState, fingerprinter

    ctx = Context(env="dev", stack_name="s", stack_dir=tmp_path, work_dir=tmp_path / "w",
                  fingerprint=fingerprinter("l"))
    config = LoaderConfig(pip_url="target-x==2", config={"path": "w.duckdb"})
    desired = Resource("loaders.w", "loaders", "w", config, config.model_dump(mode="json"))
    prior = ResourceState("loaders.w", "loaders", {"pip_url": "target-x==1"})
    provider = LoaderProvider()
    assert provider.plan_notes(ctx, None, desired) == []
    [replaced] = provider.plan_notes(ctx, prior, desired)
    assert replaced.startswith("the tables it loaded are untouched")
    [deleted] = provider.plan_notes(ctx, prior, None)
    assert "stay in the warehouse" in deleted
