"""The rules behind ``stackform add`` and settings checked from a connector's ``--about``:
parsing the about JSON, the block written, the offline index, executable detection, and what
resolve makes of a recorded schema (located problems, connector secrets sensitive).

The about documents here are shaped like the Singer SDK's (the real connectors are exercised in
tests/e2e/test_add_connectors.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import tomlkit

from stackform.config.loader import load_stack_file
from stackform.config.resolve import resolve
from stackform.errors import ConfigError, StackformError
from stackform.plugins.about import (
    About,
    install_key,
    parse_about,
    record_about,
    recorded_about,
)
from stackform.plugins.add import Addition, append_block, block_text, check_stack
from stackform.plugins.executables import ExecutableError, detect
from stackform.plugins.index import entries, find, unknown
from stackform.registry import Registry
from stackform_singer.settings_schema import settings_problems
from tests.cli_helpers import write_stack

ABOUT: dict[str, Any] = {
    "name": "tap-demo", "description": "A demo tap.", "version": "1.2.0",
    "sdk_version": "0.53.7", "capabilities": ["about", "discover"],
    "settings": {"type": "object", "required": ["host", "api_key"], "properties": {
        "host": {"type": ["string"], "description": "Server to read from."},
        "api_key": {"type": ["string"], "secret": True, "writeOnly": True,
                    "description": "The key.", "default": "never-recorded"},
        "dsn": {"type": ["string", "null"], "secret": True, "description": "Instead of host."},
        "port": {"type": ["integer", "null"], "default": 5432, "description": "Its port."},
        "verbose": {"type": ["boolean", "null"], "default": False},
        "tunnel": {"type": ["object", "null"], "properties": {
            "key": {"type": ["string", "null"], "sensitive": True}}},
        "stream_maps": {"type": ["object", "null"]},
    }},
}


def test_about_json_becomes_a_settings_model_without_secret_values() -> None:
    about = parse_about(ABOUT)
    assert (about.name, about.version, about.sdk_version) == ("tap-demo", "1.2.0", "0.53.7")
    assert about.schema is not None
    top = about.schema.top_level()
    assert top["host"].required and top["api_key"].required and not top["port"].required
    assert top["port"].types == ("integer", "null") and top["port"].default == 5432
    assert about.schema.secret_paths() == [("api_key",), ("dsn",), ("tunnel", "key")]
    recorded = json.dumps(about.to_json())
    assert "never-recorded" not in recorded  # a secret's default is never kept
    assert About.from_json(json.loads(recorded)).schema == about.schema.__class__.from_json(
        about.schema.to_json())
    assert parse_about({"name": "tap-x"}).schema is None


def test_the_record_is_keyed_by_what_the_block_installs(tmp_path: Path) -> None:
    about = parse_about(ABOUT)
    key = install_key("Tap-Demo==1.2.0", None, "tap-demo")
    assert key == install_key(["tap-demo==1.2.0"], None, "tap-demo")
    assert key != install_key("tap-demo==1.2.1", None, "tap-demo")
    record_about(key, about, "tap-demo", cache=tmp_path)
    assert recorded_about(key, cache=tmp_path) == ("tap-demo", About.from_json(about.to_json()))
    assert recorded_about("missing", cache=tmp_path) is None


def test_settings_problems_name_the_key_and_the_nearest_spelling() -> None:
    schema = parse_about(ABOUT).schema
    assert schema is not None
    found = settings_problems({"hots": "db", "port": "5432", "verbose": 1,
                               "tunnel": {"anything": 1}}, schema, "tap-demo")
    assert (("hots",), "tap-demo has no setting 'hots'", "did you mean 'host'?", True) in found
    assert (("port",), "'port' must be integer, not str", "Its port.", False) in found
    assert (("verbose",), "'verbose' must be boolean, not int", "verbose", False) in found
    assert ((), "missing required setting 'host' of tap-demo", "Server to read from.",
            True) in found
    assert not [f for f in found if f[0] == ("tunnel", "anything")]  # nested: open
    # An object setting without properties (a mapper's stream_maps) takes any key.
    assert settings_problems({"host": "h", "api_key": "k", "stream_maps": {"o": {"x": "y"}}},
                             schema, "t") == []
    assert settings_problems({"host": "h", "api_key": "<secret k>", "port": True}, schema,
                             "t") == [(("port",), "'port' must be integer, not bool",
                                       "Its port.", False)]


def test_the_block_has_placeholders_secret_references_and_commented_options(tmp_path: Path
                                                                             ) -> None:
    addition = Addition("extractors", "demo", "tap-demo==1.2.0", "tap-demo",
                        about=parse_about(ABOUT))
    text = block_text(addition)
    assert "[extractors.demo]\npip_url = \"tap-demo==1.2.0\"\nexecutable = \"tap-demo\"" in text
    assert '\nhost = "<host>"\n' in text
    assert '\napi_key = "${secret.demo_api_key}"  # stackform secret set demo_api_key\n' in text
    assert '\n# dsn = "${secret.demo_dsn}"' in text
    assert "\n# Its port (optional; integer)\n# port = 5432\n" in text
    assert "# Also the Singer SDK's own settings: stream_maps" in text
    assert "never-recorded" not in text
    head = '# mine\n[stack]\nname = "s"   # spacing kept\n\n[extractors.other]\npip_url = "x"\n'
    path = tmp_path / "stack.toml"
    path.write_text(head)
    append_block(path, text, "extractors", "demo")
    after = path.read_text()
    assert after.startswith(head)
    assert tomlkit.parse(after)["extractors"]["demo"]["config"]["host"] == "<host>"  # type: ignore[index]


def test_a_taken_block_name_or_an_invalid_file_is_refused_where_it_is(tmp_path: Path) -> None:
    path = write_stack(tmp_path, '[stack]\nname = "s"\n\n[loaders.pg]\npip_url = "x"\n')
    with pytest.raises(ConfigError) as taken:
        check_stack(path, "loaders", "pg", Registry())
    assert str(taken.value).startswith(f"{path}:4:1: error: loaders.pg: [loaders.pg] exists")
    check_stack(path, "loaders", "other", Registry())
    bad = write_stack(tmp_path / "bad", '[stack]\nname = "s"\n[loaderz.pg]\npip_url = "x"\n')
    with pytest.raises(ConfigError):
        check_stack(bad, "loaders", "pg", Registry())


def test_the_offline_index_knows_the_common_connectors() -> None:
    known = entries()
    assert len(known) >= 30
    assert {e.kind for e in known} == {"extractors", "loaders"}
    assert len({(e.kind, e.name) for e in known}) == len(known)
    for entry in known:
        assert entry.pip_url == f"{entry.package}=={entry.version}"
        assert entry.executable.startswith(("tap-", "target-")) and entry.description
    postgres = find("tap-postgres", "extractors")
    assert postgres is not None and postgres.package == "meltanolabs-tap-postgres"
    assert find("pipelinewise-tap-mysql", "extractors") == find("tap-mysql", "extractors")
    assert find("tap-postgres", "loaders") is None
    error = unknown("tap-postgress", "extractors")
    assert isinstance(error, StackformError) and "did you mean 'tap-postgres'?" in str(error.hint)


def test_the_executable_is_the_packages_own_or_its_only_connector_script() -> None:
    assert detect("tap-jsonl", ["tap-jsonl", "normalizer"]).why is None
    found = detect("pipelinewise-tap-mysql", ["jsonschema", "tap-mysql"])
    assert found.executable == "tap-mysql" and found.why
    with pytest.raises(ExecutableError, match="several connector scripts: tap-a, tap-b"):
        detect("pkg", ["tap-b", "tap-a"])
    with pytest.raises(ExecutableError, match="no tap-\\* or target-\\* script"):
        detect("six", [])


def test_resolve_checks_a_recorded_schema_and_masks_the_connectors_secrets(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STACKFORM_CACHE_DIR", str(tmp_path / "cache"))
    record_about(install_key("tap-demo==1.2.0", None, "tap-demo"), parse_about(ABOUT),
                 "tap-demo")
    block = ('[stack]\nname = "s"\n\n[extractors.demo]\npip_url = "tap-demo==1.2.0"\n'
             'executable = "tap-demo"\n\n[extractors.demo.config]\nhost = "db"\n'
             'api_key = "${secret.k}"\ndsn = "literal-dsn"\n')
    path = write_stack(tmp_path, block)
    registry = Registry()
    stack = resolve(load_stack_file(path, registry), None, registry, strict_secrets=False)
    sensitive = stack.resources["extractors.demo"].sensitive
    assert {("config", "dsn"), ("config", "api_key")} <= sensitive
    path.write_text(block + "prot = 1\n")
    with pytest.raises(ConfigError) as bad:
        resolve(load_stack_file(path, registry), None, registry, strict_secrets=False)
    assert f"{path}:12:1: error: extractors.demo.config.prot: tap-demo has no setting " \
           "'prot'" in str(bad.value)
    # Without a record (another install), nothing is checked: accepted as before.
    path.write_text(block.replace("1.2.0", "1.3.0") + "prot = 1\n")
    resolve(load_stack_file(path, registry), None, registry, strict_secrets=False)


def test_a_transformer_block_names_its_project_and_a_connector_without_about_says_so() -> None:
    dbt = block_text(Addition("transformers", "dbt", "dbt-duckdb==1.11.1 dbt-core<1.12"))
    assert '[transformers.dbt]\npip_url = "dbt-duckdb==1.11.1 dbt-core<1.12"\n' \
           'project_dir = "transform"' in dbt
    plain = block_text(Addition("extractors", "mysql", "pipelinewise-tap-mysql==1.6.0",
                                "tap-mysql", unlearnt="tap-mysql offers no --about"))
    assert "# stackform could not learn its settings (tap-mysql offers no --about)" in plain
    assert plain.rstrip().endswith('"${secret.NAME}"') and "[extractors.mysql.config]" in plain
    assert tomlkit.parse(dbt + plain)["extractors"]["mysql"]["config"] == {}  # type: ignore[index]
