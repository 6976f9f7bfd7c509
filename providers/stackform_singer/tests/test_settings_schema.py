"""A plan on a machine without a local record of a connector's settings (a CI runner with
remote state) checks them against the schema the last apply recorded in state."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackform.plugins.about import Setting, SettingsSchema
from stackform.provider import Context
from stackform.resource import Resource, ResourceState, fingerprinter
from stackform_singer.config import LoaderConfig
from stackform_singer.provider import LoaderProvider

SCHEMA = SettingsSchema((Setting(("host",), ("string",)),
                         Setting(("url",), ("string", "null"), secret=True),
                         Setting(("batch_size_rows",), ("integer", "null"))))


def test_a_plan_checks_the_schema_state_recorded(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STACKFORM_CACHE_DIR", str(tmp_path / "empty-cache"))
    ctx = Context(env="dev", stack_name="s", stack_dir=tmp_path, work_dir=tmp_path / "w",
                  fingerprint=fingerprinter("l"))
    config = LoaderConfig(pip_url="target-x==1", executable="target-x",
                          config={"host": "h", "url": "pg://u:pw@h/db", "batch_size_row": 5})
    desired = Resource("loaders.w", "loaders", "w", config, config.model_dump(mode="json"))
    prior = ResourceState("loaders.w", "loaders", {},
                          outputs={"settings_schema": SCHEMA.to_json()})
    found = LoaderProvider().plan_diagnostics(ctx, prior, desired)
    messages = [d.message for d in found]
    assert "target-x has no setting 'batch_size_row'" in messages
    assert [d.hint for d in found if "batch_size_row'" in d.message] == \
        ["did you mean 'batch_size_rows'?"]
    assert any(d.path == "loaders.w.config.url" and "written literally" in d.message
               for d in found)
    assert all(d.severity == "error" for d in found)
    assert "pw" not in " ".join(messages)
    masked = Resource("loaders.w", "loaders", "w", config, config.model_dump(mode="json"),
                      frozenset({("config", "url")}))
    assert not any("literally" in d.message
                   for d in LoaderProvider().plan_diagnostics(ctx, prior, masked))
    assert LoaderProvider().plan_diagnostics(ctx, None, desired) == []
