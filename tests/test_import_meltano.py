"""``stackform import meltano``: its failure paths (located errors, nothing written, nothing
overwritten), the CLI's files and streams, and the rules of the import that the corpus does
not pin down one by one (interpolation, secrets, comments, YAML's corner cases)."""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stackform.errors import StackformError
from stackform.importers.meltano import import_project
from stackform.importers.meltano.interpolation import Interpolator
from stackform.importers.meltano.read import MeltanoImportError
from stackform.importers.meltano.report import Report
from tests.cli_helpers import STACKFORM, Result, make_env

CORPUS = Path(__file__).parent / "meltano_corpus"


def _project(root: Path, text: str, files: dict[str, str] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "meltano.yml").write_text(textwrap.dedent(text))
    for name, body in (files or {}).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(body))
    return root


def _cli(tmp_path: Path, *args: str) -> Result:
    proc = subprocess.run([STACKFORM, *args], capture_output=True, text=True, cwd=tmp_path,
                          env=make_env(tmp_path / "home"), timeout=60)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def _error(root: Path) -> str:
    with pytest.raises(MeltanoImportError) as info:
        import_project(root)
    return str(info.value)


# -- failure paths ---------------------------------------------------------------------------


def test_malformed_yaml_is_a_located_error_and_writes_nothing(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", "plugins:\n  extractors:\n  - name: tap-x\n    config: [a\n")
    result = _cli(tmp_path, "import", "meltano", "p")
    assert result.code == 1, result
    assert "Traceback" not in result.output
    assert "meltano.yml:5:1: invalid YAML" in result.stderr
    assert not (root / "stack.toml").exists()


@pytest.mark.parametrize(("text", "expected"), [
    ("- a\n- b\n", "meltano.yml:1: the top level is a list, not a mapping"),
    ("", "meltano.yml: the top level is empty"),
    ("just text\n", "meltano.yml:1: the top level is text, not a mapping"),
    ("a: 1\nb: 2\na: 3\n", "meltano.yml:3: key 'a' is given twice (first at line 1)"),
    ("a: &x [*x]\n", "nested more than 200 deep"),
])
def test_unreadable_projects_are_located_errors(tmp_path: Path, text: str,
                                                expected: str) -> None:
    assert expected in _error(_project(tmp_path / "p", text))


def test_not_utf8_and_no_project(tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    assert "no meltano.yml in" in _error(root)
    (root / "meltano.yml").write_bytes(b"plugins: \xff\xfe\n")
    assert "meltano.yml: not UTF-8 text" in _error(root)


def test_duplicate_plugin_across_included_files_names_both(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", """\
        include_paths: [./extra/*.yml]
        plugins:
          loaders:
          - name: target-jsonl
            pip_url: target-jsonl
        """, {"extra/loaders.yml": """\
        plugins:
          loaders:
          - name: target-jsonl
            pip_url: target-jsonl==0.1.4
        """})
    message = _error(root)
    assert "plugins.loaders 'target-jsonl' is defined twice" in message
    assert "meltano.yml:4" in message and "extra/loaders.yml:3" in message


def test_included_files_are_deep_merged_as_meltano_does(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", """\
        include_paths: [./conf/*.yml]
        default_environment: dev
        env: {A: "1", B: "2"}
        environments: [{name: dev}, {name: prod}]
        """, {"conf/more.yml": """\
        default_environment: prod
        env: {B: "3"}
        jobs: []
        """})
    imported = import_project(root)
    assert imported.stack["env"] == {"A": "1", "B": "3"}
    assert imported.stack["environments"]["prod"] == {"default": True}
    entry = next(e for e in imported.report.of("mapped") if e.subject == "default_environment"
                 and "default = true" in e.message)
    assert entry.where == "conf/more.yml:1"


def test_existing_stack_file_is_kept_without_force(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", "plugins:\n  loaders:\n  - name: target-jsonl\n"
                                    "    pip_url: target-jsonl\n")
    (root / "stack.toml").write_text("# mine\n")
    refused = _cli(tmp_path, "import", "meltano", "p")
    assert refused.code == 1 and "exists: not overwritten" in refused.stderr, refused
    assert "--force" in refused.stderr
    assert (root / "stack.toml").read_text() == "# mine\n"
    assert not list(root.glob(".stack.toml.*"))
    forced = _cli(tmp_path, "import", "meltano", "p", "--force")
    assert forced.code == 0, forced
    assert "[loaders.target-jsonl]" in (root / "stack.toml").read_text()


def test_report_cannot_be_the_stack_file(tmp_path: Path) -> None:
    _project(tmp_path / "p", "env: {A: b}\n")
    result = _cli(tmp_path, "import", "meltano", "p", "--report", "p/stack.toml")
    assert result.code == 1 and "--report names the stack file itself" in result.stderr


# -- the command's files and streams ---------------------------------------------------------


def test_cli_writes_stack_and_reports_in_markdown_and_json(tmp_path: Path) -> None:
    root = tmp_path / "full"
    shutil.copytree(CORPUS / "full", root)
    md = _cli(tmp_path, "-C", "full", "import", "meltano", "--report", "report.md")
    assert md.code == 0, md
    assert md.stdout == ""  # status and report go to stderr
    assert "Needs a person (" in md.stderr and "Wrote full/stack.toml" in md.stderr
    assert (root / "report.md").read_text().startswith("# Meltano import:")
    js = _cli(tmp_path, "import", "meltano", "full", "-o", "other.toml", "--report",
              "report.json")
    assert js.code == 0, js
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["counts"]["person"] == len([e for e in doc["entries"]
                                           if e["category"] == "person"]) > 0
    assert tomllib.loads((tmp_path / "other.toml").read_text()) == \
        tomllib.loads((root / "stack.toml").read_text())
    for written in (root / "stack.toml", root / "report.md", tmp_path / "report.json"):
        text = written.read_text()
        # plain-text secrets of meltano.yml are never copied anywhere
        assert "glpat-plaintext-token-value" not in text
        assert "prod-plaintext-password" not in text
    assert "glpat-plaintext-token-value" not in md.output + js.output


# -- rules -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "secret", "expected"), [
    ("$MELTANO_PROJECT_ROOT/data", False, "${stack.dir}/data"),
    ("raw_${MELTANO_ENVIRONMENT}", False, "raw_${stack.env}"),
    ("$HOST:5432", False, "${environ.HOST}:5432"),
    ("$PG_PASSWORD", False, "${secret.pg_password}"),
    ("$PG_HOST", True, "${secret.pg_host}"),
    ("$.data[*]", False, "$.data[*]"),
    ("$ 5", False, "$ 5"),
    ("$lower_case", False, "$lower_case"),
    ("${lower_case}", False, "${environ.lower_case}"),
    ("$MIXED_Case", False, "${environ.MIXED_C}ase"),
    ("${lower-dash}", False, "$${lower-dash}"),
    ("cost ${ oops", False, "cost $${ oops"),
    ("a$", False, "a$"),
])
def test_references(value: str, secret: bool, expected: str) -> None:
    assert Interpolator(Report()).text(value, secret=secret, where="m:1") == expected


def test_project_env_names_become_vars(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", """\
        env:
          DB_HOST: db.internal
        environments:
        - name: prod
          env:
            DB_HOST: db.prod
            REGION: eu
        plugins:
          loaders:
          - name: target-x
            pip_url: target-x
            config:
              host: $DB_HOST
              region: ${REGION}
        """)
    stack = import_project(root).stack
    assert stack["loaders"]["target-x"]["config"] == {"host": "${var.DB_HOST}",
                                                       "region": "${var.REGION}"}
    assert stack["vars"] == {"DB_HOST": "db.internal", "REGION": "${environ.REGION}"}
    assert stack["env"] == {"DB_HOST": "${var.DB_HOST}"}
    assert stack["environments"]["prod"]["vars"] == {"DB_HOST": "db.prod", "REGION": "eu"}
    assert stack["environments"]["prod"]["env"] == {"DB_HOST": "${var.DB_HOST}",
                                                     "REGION": "${var.REGION}"}


def test_comments_nulls_dates_and_quoting(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", """\
        plugins:
          extractors:
          # Orders, from the shop
          # (read-only replica)
          - name: tap-x   # the main one
            pip_url: tap-x==1.0
            config:
              start: 2024-01-02
              at: 2024-01-02 03:04:05
              utc: 2024-01-01T10:20:30.5+02:00
              quoted: "2024-01-02 03:04:05"
              flag: on
              real: true
              gone: ~
              "a key.with dots": 1
        """)
    imported = import_project(root)
    block = imported.stack["extractors"]["tap-x"]
    # what Meltano 4.4.1 hands the plugin (`meltano config print`): a date stays the text, a
    # date and time loses its fraction and time zone; only true/false are booleans
    assert block["config"] == {"start": "2024-01-02", "at": "2024-01-02T03:04:05",
                               "utc": "2024-01-01T10:20:30", "quoted": "2024-01-02 03:04:05",
                               "flag": "on", "real": True, "a key.with dots": 1}
    assert "# Orders, from the shop\n# (read-only replica)\n# the main one\n" in imported.text
    assert any("config.gone is null" in e.message for e in imported.report.of("dropped"))


def test_steps_use_addresses_when_a_name_is_used_by_two_kinds(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", """\
        plugins:
          extractors:
          - name: postgres
            pip_url: tap-postgres
          loaders:
          - name: postgres
            pip_url: target-postgres
        jobs:
        - name: copy
          tasks: postgres postgres
        """)
    steps = import_project(root).stack["pipelines"]["copy"]["steps"]
    assert steps == ["extractors.postgres", "extractors.postgres"]


_YAMLISH = st.text(alphabet=st.sampled_from(list("abc:-[]{}#&*!|>'\"\n $%@.,0123 ")),
                   max_size=200)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prefix=_YAMLISH, body=_YAMLISH)
def test_any_input_is_an_import_or_a_located_error(tmp_path: Path, prefix: str,
                                                   body: str) -> None:
    root = tmp_path / "fuzz"
    root.mkdir(exist_ok=True)
    (root / "meltano.yml").write_text(f"{prefix}\nplugins:\n  extractors:\n  - name: t\n"
                                      f"    config: {body}\n")
    try:
        imported = import_project(root)
    except StackformError as exc:
        assert "meltano.yml" in str(exc)
    else:
        tomllib.loads(imported.text)


def test_the_migration_guide_shows_what_the_import_writes(tmp_path: Path) -> None:
    """docs/migrating-from-meltano.md: its worked example's stack file and console lines are
    what importing its meltano.yml gives."""
    import re

    page = (Path(__file__).parents[1] / "docs" / "migrating-from-meltano.md").read_text()
    yaml_text = re.search(r"```yaml\n(.*?)```", page, re.S)
    toml_text = re.search(r"The stack file written:\n\n```toml\n(.*?)```", page, re.S)
    console = re.search(r"\$ stackform import meltano shop\n(.*?)```", page, re.S)
    assert yaml_text and toml_text and console
    root = _project(tmp_path / "shop", yaml_text.group(1))
    imported = import_project(root)
    assert imported.text.split("\n", 2)[2] == toml_text.group(1)
    lines = imported.report.text()
    for shown in console.group(1).splitlines():
        if shown.startswith("  meltano.yml"):
            assert shown in lines, shown


_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-5, 5000),
                    st.sampled_from(["", "x", "$X", "${Y}", "tap-a", "dbt-b:run", "@daily",
                                     "0 6 * * *", "s3://b/p", "file://./s", "a.b", "*.*",
                                     "$MELTANO_PROJECT_ROOT/x", "password"]))
_VALUE = st.recursive(_SCALAR, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.sampled_from(["name", "config", "env", "select", "metadata", "schema",
                                     "pip_url", "inherit_from", "settings", "mappings",
                                     "commands", "tasks", "job", "interval", "extractor",
                                     "loader", "transform", "plugins", "extractors", "loaders",
                                     "kind", "sensitive", "value", "args", "uri", "core"]),
                    inner, max_size=4)), max_leaves=12)
_NAMED = st.lists(st.one_of(_VALUE, st.fixed_dictionaries(
    {"name": st.sampled_from(["tap-a", "target-b", "dbt-b", "airflow", "m", "dev"])},
    optional={k: _VALUE for k in ("config", "env", "inherit_from", "mappings", "commands",
                                  "settings", "select", "metadata", "pip_url", "tasks",
                                  "interval", "job", "extractor", "loader", "transform")})),
    max_size=3)


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(top=st.fixed_dictionaries({}, optional={
    "plugins": st.dictionaries(st.sampled_from(["extractors", "loaders", "mappers",
                                                "transformers", "utilities", "orchestrators",
                                                "files", "bogus"]), _NAMED, max_size=4),
    "environments": _NAMED, "jobs": _NAMED, "schedules": _NAMED, "env": _VALUE,
    "state_backend": _VALUE, "default_environment": _VALUE, "project_readonly": _VALUE,
    "include_paths": _VALUE, "python": _VALUE}))
def test_any_structure_is_an_import_or_a_located_error(tmp_path: Path,
                                                       top: dict[str, object]) -> None:
    import yaml

    root = tmp_path / "fuzz-structure"
    root.mkdir(exist_ok=True)
    (root / "meltano.yml").write_text(yaml.safe_dump(top) if top else "version: 1\n")
    try:
        imported = import_project(root)
    except StackformError as exc:
        assert "meltano.yml" in str(exc)
    else:
        assert tomllib.loads(imported.text) == imported.stack


def test_names_that_become_one_stack_name_stay_apart(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", """\
        plugins:
          loaders:
          - name: target.x
            pip_url: target-x==1
          - name: target-x
            pip_url: target-x==2
        jobs: []
        """)
    stack = import_project(root).stack
    assert {k: v["pip_url"] for k, v in stack["loaders"].items()} == {
        "target-x": "target-x==1", "target-x-2": "target-x==2"}


def test_connector_index_names_the_package_of_a_hub_plugin(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from stackform.plugins import index

    def entry(name: str, variant: str, pip_url: str) -> index.IndexEntry:
        return index.IndexEntry(name=name, kind="extractors", package=name, pip_url=pip_url,
                                executable=name, variant=variant, category="", description="",
                                version="", maintained=True)

    monkeypatch.setattr(index, "load_index", lambda: (
        entry("tap-gitlab", "meltanolabs", "meltanolabs-tap-gitlab==1.2.3"),
        entry("tap-github", "", "tap-github==2.0")))
    root = _project(tmp_path / "p", """\
        plugins:
          extractors:
          - name: tap-github
            variant: meltanolabs
          - name: tap-gitlab--ops
            inherit_from: tap-gitlab
            variant: meltanolabs
          - name: tap-unknown
            variant: someone
        """)
    imported = import_project(root)
    extractors = imported.stack["extractors"]
    assert extractors["tap-github"]["pip_url"] == "tap-github==2.0"
    assert extractors["tap-gitlab--ops"]["pip_url"] == "meltanolabs-tap-gitlab==1.2.3"
    assert "pip_url" not in extractors["tap-unknown"]
    assert any("[extractors.tap-unknown]" in e.message for e in imported.report.of("person"))


def test_environments_without_a_default_or_dev_need_a_person(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", "environments: [{name: staging}, {name: prod}]\n")
    person = import_project(root).report.of("person")
    assert [e.subject for e in person] == ["default_environment"]
    assert "every command then needs --env" in person[0].message
