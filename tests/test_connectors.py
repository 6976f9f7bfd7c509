"""The first-party connectors named ``stackform:NAME`` (stackform.plugins.connectors): what
they resolve to, their executables, an unknown name as a located error, and ``stackform.lock``
keeping the name (no machine path) while pinning their dependencies. Resolution and installs
use the real uv and package index."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from stackform.plugins.connectors import CONNECTORS, ConnectorError, find_connector
from stackform.plugins.installs import ensure_venv
from stackform.plugins.lockfile import (
    install_spec_for,
    load_lock,
    plugin_requirements,
    write_lock,
)
from stackform.plugins.locking import build_lock
from stackform.shipped import shipped_root
from stackform_singer.config import ExtractorConfig, LoaderConfig
from stackform_singer.plugin import executable_name
from tests.cli_helpers import Runner, make_env, write_stack

ROOT = Path(__file__).resolve().parents[1]

STACK = """\
[stack]
name = "firstparty"

[extractors.orders]
pip_url = "stackform:tap-jsonl"
config = { path = "data/*.jsonl", stream_name = "orders" }

[loaders.warehouse]
pip_url = ["stackform:target-duckdb"]
config = { path = "warehouse.duckdb" }

[pipelines.daily]
steps = ["orders", "warehouse"]
"""


def test_a_checkout_resolves_connectors_to_its_providers_folder() -> None:
    assert shipped_root() == ROOT, "a source checkout has no stackform/_shipped/"
    tap = find_connector("stackform:tap-jsonl")
    target = find_connector(" stackform:target-duckdb ")
    assert tap is not None and target is not None
    assert tap.source() == ROOT / "providers" / "tap-stackform-jsonl"
    assert target.source() == ROOT / "providers" / "target-stackform-duckdb"
    assert find_connector("tap-jsonl==0.3.1") is None
    assert find_connector("./stackform/x") is None
    with pytest.raises(ConnectorError) as unknown:
        find_connector("stackform:tap-csv")
    assert "stackform:tap-jsonl, stackform:target-duckdb" in unknown.value.reason


def test_a_connector_needs_no_executable() -> None:
    assert executable_name(ExtractorConfig(pip_url="stackform:tap-jsonl")) == \
        "tap-stackform-jsonl"
    assert executable_name(LoaderConfig(pip_url=["stackform:target-duckdb", "six"])) == \
        "target-stackform-duckdb"
    assert executable_name(LoaderConfig(pip_url="stackform:target-duckdb",
                                        executable="other")) == "other"
    assert executable_name(ExtractorConfig(pip_url="tap-jsonl==0.3.1")) == "tap-jsonl"


def test_install_spec_installs_the_shipped_folder(tmp_path: Path) -> None:
    spec = install_spec_for(tmp_path, "loaders.warehouse",
                            {"pip_url": "stackform:target-duckdb six"})
    assert spec.requirements == (str(CONNECTORS["target-duckdb"].source()), "six")
    assert not spec.locked


def test_the_installed_connector_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STACKFORM_CACHE_DIR", str(tmp_path / "cache"))
    spec = install_spec_for(tmp_path, "extractors.orders", {"pip_url": "stackform:tap-jsonl"})
    venv = ensure_venv(spec)
    exe = venv.executable(executable_name(ExtractorConfig(pip_url="stackform:tap-jsonl")))
    assert exe.name == "tap-stackform-jsonl"
    assert any(p.startswith("tap-stackform-jsonl") for p in venv.frozen), venv.frozen


def test_an_unknown_connector_is_a_located_error_naming_the_known_ones(tmp_path: Path) -> None:
    project = tmp_path / "project"
    write_stack(project, STACK.replace("stackform:tap-jsonl", "stackform:tap-jsnol"))
    sf = Runner(project, make_env(tmp_path))
    for command in (["validate"], ["plan"]):
        result = sf(*command)
        assert result.code == 1, result
        assert "Traceback" not in result.output
        assert ("stack.toml:5:11: error: extractors.orders.pip_url: unknown connector "
                "'stackform:tap-jsnol': stackform ships stackform:tap-jsonl, "
                "stackform:target-duckdb") in result.stderr, result
        assert "did you mean 'stackform:tap-jsonl'?" in result.stderr, result
    write_stack(project, STACK)
    assert sf("validate").code == 0


def test_the_lock_keeps_the_connector_name_and_pins_its_dependencies(tmp_path: Path) -> None:
    write_stack(tmp_path, STACK)
    plugins = [p for p in (
        plugin_requirements("extractors.orders", {"pip_url": "stackform:tap-jsonl"}),
        plugin_requirements("loaders.warehouse", {"pip_url": ["stackform:target-duckdb"]}),
    ) if p is not None]
    entries = build_lock(plugins, None, stack_dir=tmp_path)
    loader = entries["loaders.warehouse"]
    assert "stackform:target-duckdb" in loader.locked
    assert any(line.startswith("duckdb==") for line in loader.locked), loader.locked
    tap = entries["extractors.orders"].locked
    assert "stackform:tap-jsonl" in tap and any(line.startswith("orjson==") for line in tap), tap
    write_lock(tmp_path, entries)
    text = (tmp_path / "stackform.lock").read_text()
    assert str(ROOT) not in text and "/providers/" not in text, "no machine path in the lock"

    spec = install_spec_for(tmp_path, "loaders.warehouse",
                            {"pip_url": ["stackform:target-duckdb"]})
    assert spec.locked
    assert str(CONNECTORS["target-duckdb"].source()) in spec.requirements
    lock = load_lock(tmp_path)
    assert lock is not None
    # Locking again changes nothing: the preferences are versions, never a folder.
    assert build_lock(plugins, lock, stack_dir=tmp_path, upgrade=True)[
        "loaders.warehouse"].locked == loader.locked


def test_a_relative_local_path_locks_from_anywhere_and_keeps_its_spelling(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plugin_dir = tmp_path / "stack" / "plugins" / "tap-mine"
    write_stack(plugin_dir, textwrap.dedent("""\
        [build-system]
        requires = ["hatchling>=1.25"]
        build-backend = "hatchling.build"

        [project]
        name = "tap-mine"
        version = "0.1.0"
        dependencies = ["six==1.16.0"]
        """), name="pyproject.toml")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    plugin = plugin_requirements("extractors.mine", {"pip_url": "./plugins/tap-mine"})
    assert plugin is not None
    entries = build_lock([plugin], None, stack_dir=tmp_path / "stack")
    assert set(entries["extractors.mine"].locked) == {"./plugins/tap-mine", "six==1.16.0"}
    write_lock(tmp_path / "stack", entries)
    spec = install_spec_for(tmp_path / "stack", "extractors.mine",
                            {"pip_url": "./plugins/tap-mine"})
    assert spec.locked and set(spec.requirements) == {str(plugin_dir), "six==1.16.0"}
