"""``stackform add`` with real connectors from the package index, and what the stack gets from
it: an SDK tap (tap-jsonl) and a non-SDK tap (pipelinewise-tap-mysql, found by its short name
in the offline index), meltanolabs-target-postgres as the loader; the stack then validates,
applies and runs MariaDB -> PostgreSQL and JSONL -> PostgreSQL.

Also: settings checked against the connector's own ``--about`` schema (a misspelt key is a
located error with a suggestion), a setting the connector marks secret written literally is
masked everywhere (meltanolabs-tap-postgres's ``sqlalchemy_url``), executable detection, and
the failure paths of ``add`` (an unknown name offline, a package without a tap script, an
``--about`` that crashes, a block name taken, an invalid stack file), none of which touches the
stack file.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomlkit
from e2e_support import (
    MYSQL_PASSWORD,
    POSTGRES,
    POSTGRES_PASSWORD,
    mysql,
    pg_rows,
    postgres,
    source_and_schema,
)

pytestmark = pytest.mark.slow

AWKWARD = Path(__file__).resolve().parent / "plugins" / "tap-awkward"
HEAD = ('# Built with stackform add: this comment and the layout below stay as written.\n'
        '[stack]\nname = "added"   # odd spacing kept\nrequires = ">=0.1"\n\n'
        '[environments.dev]\ndefault = true\n')
ROWS = 40


def _stack(tmp_path: Path) -> Path:
    stack = tmp_path / "stack"
    stack.mkdir()
    (stack / "stack.toml").write_text(HEAD)
    return stack


def _edit(stack: Path, change: dict[str, dict[str, dict[str, object]]]) -> None:
    """Set values in blocks as a user would (tomlkit: the comments stay)."""
    path = stack / "stack.toml"
    doc = tomlkit.parse(path.read_text())
    for kind, blocks in change.items():
        for name, values in blocks.items():
            for key, value in values.items():
                table = doc[kind][name]  # type: ignore[index]
                if value is None:
                    del table[key]  # type: ignore[union-attr]
                    continue
                if isinstance(value, dict) and key == "config":
                    for k, v in value.items():
                        if v is None:
                            del table[key][k]  # type: ignore[union-attr]
                        else:
                            table[key][k] = v  # type: ignore[index]
                    continue
                table[key] = value  # type: ignore[index]
    path.write_text(tomlkit.dumps(doc))


def _line_of(stack: Path, text: str) -> int:
    lines = (stack / "stack.toml").read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.startswith(text))


@pytest.fixture
def source(databases: None) -> Iterator[tuple[str, str]]:
    with source_and_schema("added", "id int primary key, name varchar(20)") as (table, schema):
        with mysql() as con, con.cursor() as cur:
            cur.executemany(f"insert into `{table}` values (%s, %s)",
                            [(i, f"n{i}") for i in range(1, ROWS + 1)])
        yield table, schema


def test_added_taps_and_loader_validate_apply_and_run(tmp_path: Path, stackform_for,
                                                      source: tuple[str, str]) -> None:
    table, schema = source
    stack = _stack(tmp_path)
    sf = stackform_for(stack, {"STACKFORM_SECRET_MYSQL_PASSWORD": MYSQL_PASSWORD,
                               "STACKFORM_SECRET_POSTGRES_PASSWORD": POSTGRES_PASSWORD})
    mysql_add = sf("add", "extractor", "tap-mysql", timeout=900)
    assert mysql_add.code == 0, mysql_add
    assert "settings not learnt: tap-mysql offers no --about" in mysql_add.stderr, mysql_add
    loader_add = sf.ok("add", "loader", "target-postgres", timeout=900)
    assert "settings from --about" in loader_add.stderr, loader_add
    sf.ok("add", "extractor", "tap-jsonl", "--name", "events", timeout=900)

    text = (stack / "stack.toml").read_text()
    assert text.startswith(HEAD), "the file's own text must stay byte for byte"
    assert 'pip_url = "pipelinewise-tap-mysql==1.6.0"\nexecutable = "tap-mysql"' in text
    assert "# stackform could not learn its settings" in text
    assert 'path = "<path>"' in text  # tap-jsonl's required setting, a placeholder
    assert '# stream_name = "jsonl"' in text  # optional: commented out with its default
    assert '# password = "${secret.postgres_password}"' in text  # a secret: a reference
    sf.ok("validate")  # as added, before any setting is filled in

    (stack / "data").mkdir()
    (stack / "data" / "events.jsonl").write_text(
        "".join(json.dumps({"id": i, "kind": "click"}) + "\n" for i in range(1, 8)))
    _edit(stack, {
        "extractors": {
            "mysql": {"executable": None,  # found again by executable detection
                      "config": {"host": "127.0.0.1", "port": 3306, "user": "stackform",
                                 "password": "${secret.mysql_password}",
                                 "filter_dbs": "stackform_src"},
                      "select": [f"stackform_src-{table}.*"],
                      "metadata": {f"stackform_src-{table}": {
                          "replication-method": "FULL_TABLE"}}},
            "events": {"config": {"path": "data/*.jsonl", "stream_name": "events",
                                  "primary_keys": ["id"]}}},
        "loaders": {"postgres": {"config": {
            "host": "127.0.0.1", "port": 5432, "user": "stackform",
            "password": "${secret.postgres_password}", "database": POSTGRES["dbname"],
            "default_target_schema": schema, "add_record_metadata": True}}},
    })
    doc = tomlkit.parse((stack / "stack.toml").read_text())
    doc["pipelines"] = {"replicate": {"steps": ["mysql", "postgres"]},
                        "events": {"steps": ["events", "postgres"]}}
    (stack / "stack.toml").write_text(tomlkit.dumps(doc))

    sf.ok("validate")
    plan = sf.ok("plan", timeout=900)
    assert "executable: tap-mysql (the only tap-*/target-* script pipelinewise-tap-mysql " \
           "installs" in plan.stdout, plan
    sf.apply()
    state = json.loads(next((stack / ".stackform").rglob("dev.json")).read_text())
    outputs = state["resources"]
    assert outputs["extractors.mysql"]["outputs"]["executable"].endswith("/tap-mysql")
    assert "settings_schema" not in outputs["extractors.mysql"]["outputs"]  # no --about
    recorded = outputs["loaders.postgres"]["outputs"]["settings_schema"]["settings"]
    assert {"path": ["batch_size_rows"], "types": ["integer", "null"],
            "description": "Maximum number of rows in each batch."} in recorded

    sf.ok("run", "replicate")
    sf.ok("run", "events")
    assert pg_rows(f'select count(*) from "{schema}"."{table}"') == [(ROWS,)]
    assert pg_rows(f'select count(*) from "{schema}"."events"') == [(7,)]
    for path in (stack / ".stackform").rglob("*"):
        if path.is_file():
            data = path.read_text(errors="replace")
            assert MYSQL_PASSWORD not in data and POSTGRES_PASSWORD not in data, path


def test_settings_are_checked_at_their_line_against_the_connectors_schema(
        tmp_path: Path, stackform_for) -> None:
    stack = _stack(tmp_path)
    sf = stackform_for(stack)
    sf.ok("add", "loader", "target-postgres", timeout=900)
    sf.ok("add", "extractor", "tap-jsonl", timeout=900)
    _edit(stack, {"loaders": {"postgres": {"config": {"batch_size_row": 100, "port": "5432"}}},
                  "extractors": {"jsonl": {"config": {"path": None}}}})
    bad = sf("validate")
    assert bad.code == 1, bad
    typo = _line_of(stack, "batch_size_row =")
    assert (f"stack.toml:{typo}:1: error: loaders.postgres.config.batch_size_row: "
            "target-postgres has no setting 'batch_size_row'\n"
            "    hint: did you mean 'batch_size_rows'?") in bad.stderr, bad
    port = _line_of(stack, "port =")
    assert (f"stack.toml:{port}:8: error: loaders.postgres.config.port: 'port' must be "
            "integer, not str") in bad.stderr, bad
    header = _line_of(stack, "[extractors.jsonl.config]")
    assert (f"stack.toml:{header}:") in bad.stderr and \
        "extractors.jsonl.config: missing required setting 'path' of tap-jsonl" in bad.stderr
    assert sf("plan").code == 1  # plan reports the same, and plans nothing
    assert not list((stack / ".stackform").rglob("dev.json"))


def test_a_setting_the_connector_marks_secret_is_masked_even_written_literally(
        tmp_path: Path, stackform_for, databases: None) -> None:
    schema = f"e2e_secret_{uuid.uuid4().hex[:10]}"
    url = (f"postgresql://stackform:{POSTGRES_PASSWORD}@127.0.0.1:5432/"
           f"{POSTGRES['dbname']}")
    with postgres() as con:
        con.execute(f'create schema "{schema}"')
        con.execute(f'create table "{schema}".t (id int primary key)')
    try:
        stack = _stack(tmp_path)
        sf = stackform_for(stack)
        added = sf.ok("add", "extractor", "tap-postgres", timeout=900)
        assert "1 secret" in added.stderr or "secret)" in added.stderr, added
        block = (stack / "stack.toml").read_text()
        assert '# sqlalchemy_url = "${secret.postgres_sqlalchemy_url}"' in block
        _edit(stack, {"extractors": {"postgres": {"config": {
            "sqlalchemy_url": url, "filter_schemas": [schema]},
            "select": [f"{schema}-t.*"]}}})
        outputs = [sf.ok("plan").output, sf.ok("plan", "--format", "markdown").output,
                   sf.ok("plan", "--format", "json").output]
        assert "(sensitive)" in outputs[0], outputs[0]
        sf.apply()
        state = next((stack / ".stackform").rglob("dev.json")).read_text()
        outputs.append(state)
        for text in outputs:
            assert POSTGRES_PASSWORD not in text and url not in text, text
        attributes = json.loads(state)["resources"]["extractors.postgres"]["attributes"]
        assert set(attributes["config"]["sqlalchemy_url"]) == {"__sensitive__"}
    finally:
        with postgres() as con:
            con.execute(f'drop schema if exists "{schema}" cascade')


def test_add_refuses_and_leaves_the_stack_file_untouched(tmp_path: Path, stackform_for
                                                         ) -> None:
    stack = _stack(tmp_path)
    sf = stackform_for(stack, {"UV_OFFLINE": "1"})
    before = (stack / "stack.toml").read_bytes()

    unknown = sf("add", "extractor", "tap-postgress")
    assert unknown.code == 1, unknown
    assert "'tap-postgress' is not in stackform's connector index of extractors" in \
        unknown.stderr and "did you mean 'tap-postgres'?" in unknown.stderr, unknown

    no_tap = stackform_for(stack)("add", "extractor", "thing", "--pip-url", "six==1.16.0",
                                  timeout=900)
    assert no_tap.code == 1, no_tap
    assert "six installs no tap-* or target-* script" in no_tap.stderr, no_tap

    several = stackform_for(stack)("add", "extractor", "awkward", "--pip-url", str(AWKWARD),
                                   timeout=900)
    assert several.code == 1, several
    assert "installs several connector scripts: tap-awkward-admin, tap-awkward-main" in \
        several.stderr, several
    assert (stack / "stack.toml").read_bytes() == before

    crashed = stackform_for(stack)("add", "extractor", "awkward", "--pip-url", str(AWKWARD),
                                   "--executable", "tap-awkward-main", timeout=900)
    assert crashed.code == 0, crashed
    assert "settings not learnt" in crashed.stderr and \
        "RuntimeError: about: the settings module failed to import" in crashed.stderr, crashed
    assert (stack / "stack.toml").read_text().startswith(HEAD)
    after_one = (stack / "stack.toml").read_bytes()

    taken = stackform_for(stack)("add", "extractor", "awkward", "--pip-url", str(AWKWARD),
                                 "--executable", "tap-awkward-main")
    assert taken.code == 1, taken
    header = _line_of(stack, "[extractors.awkward]")
    assert f"stack.toml:{header}:1: error: extractors.awkward: [extractors.awkward] exists " \
           "already" in taken.stderr, taken
    assert (stack / "stack.toml").read_bytes() == after_one

    (stack / "stack.toml").write_text(HEAD + "\n[extractorz.x]\npip_url = \"x\"\n")
    invalid = stackform_for(stack)("add", "loader", "target-postgres")
    assert invalid.code == 1 and "stack.toml:9:1: error: extractorz" in invalid.stderr, invalid
    assert "extractorz" in (stack / "stack.toml").read_text()


def test_a_package_with_several_tap_scripts_is_a_located_error_at_apply(
        tmp_path: Path, stackform_for) -> None:
    stack = _stack(tmp_path)
    (stack / "stack.toml").write_text(
        HEAD + f'\n[extractors.awkward]\npip_url = "{AWKWARD}"\n')
    sf = stackform_for(stack)
    failed = sf("apply", "--auto-approve", timeout=900)
    assert failed.code == 1, failed
    assert "stack.toml:10:11: error: extractors.awkward.pip_url: tap-awkward installs several " \
           "connector scripts: tap-awkward-admin, tap-awkward-main" in failed.output, failed
    assert "set executable to the one to run" in failed.output, failed


def test_add_list_shows_the_offline_index(tmp_path: Path, stackform_for) -> None:
    sf = stackform_for(_stack(tmp_path), {"UV_OFFLINE": "1"})
    table = sf.ok("add", "--list").stdout
    assert "tap-postgres" in table and "meltanolabs-tap-postgres==" in table
    listed = json.loads(sf.ok("add", "--list", "--format", "json").stdout)
    assert len(listed) >= 30
    loaders = json.loads(sf.ok("add", "loader", "--list", "--format", "json").stdout)
    assert {e["kind"] for e in loaders} == {"loaders"}
    assert {"name", "package", "pip_url", "executable", "variant", "description",
            "maintained"} <= set(loaders[0])
