"""Selection findings as the provider reports them: located, never quoting a secret."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stackform.diagnostics import Location
from stackform.provider import Context
from stackform.resource import Resource
from stackform_singer.catalog import check_selection
from stackform_singer.config import ExtractorConfig
from stackform_singer.selection import HIDDEN, diagnostics

SECRET = "s3cr3t-stream-name"


def test_findings_are_located_and_never_quote_a_secret(tmp_path: Path,
                                                       real: dict[str, Any]) -> None:
    config = ExtractorConfig(pip_url="tap-jsonl==0.3.1",
                             select=["ordres.*", f"{SECRET}.*"],
                             metadata={"orders": {"nope": {"selected": False}}})
    # select[1] came from ${secret...}: its finding must not show it.
    resource = Resource("extractors.orders", "extractors", "orders", config,
                        config.model_dump(mode="json"), frozenset({("select", 1)}))
    where = Location(tmp_path / "stack.toml", 3, 10)
    ctx = Context(env="dev", stack_name="s", stack_dir=tmp_path, work_dir=tmp_path,
                  fingerprint=lambda _v: {"__sensitive__": "x"},
                  locate=lambda address, path, key: where)
    found = diagnostics(ctx, resource, check_selection(real, config.select, config.metadata))
    text = "\n".join(d.format() for d in found)
    assert SECRET not in text
    by_path = {d.path: d for d in found}
    assert by_path["extractors.orders.select[1]"].message == HIDDEN
    assert by_path["extractors.orders.select[1]"].hint is None
    shown = by_path["extractors.orders.select[0]"]
    assert shown.message.startswith("'ordres.*' matches no stream") and shown.location == where
    assert "nope.selected = false" in by_path["extractors.orders.metadata.orders.nope"].message
    assert by_path["extractors.orders.select"].message.startswith("selects no stream")
