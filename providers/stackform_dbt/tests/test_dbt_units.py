"""Unit tests without dbt: profile rendering and secrets, dbt_project.yml, the plan's diff."""

from __future__ import annotations

import json
from pathlib import Path

from stackform.provider import Context
from stackform.resource import Resource, fingerprinter, secret_key_paths
from stackform_dbt.changes import plan_lines
from stackform_dbt.config import TransformerConfig
from stackform_dbt.profile import default_schema, render_target, write_profile
from stackform_dbt.project import (
    file_digest,
    project_paths,
    properties_digest,
    read_project_file,
)
from stackform_dbt.run import Results, split_command


def _ctx(tmp_path: Path, env: str = "dev-alice") -> Context:
    work = tmp_path / ".stackform" / "envs" / env
    work.mkdir(parents=True)
    return Context(env=env, stack_name="t", stack_dir=tmp_path, work_dir=work,
                   fingerprint=fingerprinter("x"))


def _resource(attributes: dict, sensitive: frozenset = frozenset()) -> Resource:
    config = TransformerConfig.model_validate(attributes)
    return Resource("transformers.dbt", "transformers", "dbt", config,
                    config.model_dump(mode="json"), sensitive)


def test_secret_password_never_reaches_the_profile_file(tmp_path: Path) -> None:
    resource = _resource(
        {"pip_url": "dbt-postgres", "project_dir": "transform",
         "target": {"type": "postgres", "host": "db", "user": "dbt", "password": "hunter2-xyz",
                    "dbname": "wh", "port": 6543, "sslmode": "disable"}},
        frozenset({("target", "password"), ("target", "port")}))
    ctx = _ctx(tmp_path)
    folder, secrets = write_profile(ctx, resource)
    text = (folder / "profiles.yml").read_text()
    assert "hunter2-xyz" not in text
    assert folder == ctx.work_dir / "transformers" / "dbt" / "profiles"
    assert (folder / "profiles.yml").stat().st_mode & 0o077 == 0
    profile = json.loads(text)  # JSON is YAML: dbt reads it as is
    output = profile["stackform"]["outputs"]["dev-alice"]
    assert profile["stackform"]["target"] == "dev-alice"
    assert output["password"] == "{{ env_var('STACKFORM_DBT_PASSWORD') }}"
    assert output["port"] == "{{ env_var('STACKFORM_DBT_PORT') | as_number }}"
    assert output["schema"] == "analytics_dev_alice"
    assert output["sslmode"] == "disable"
    assert secrets == {"STACKFORM_DBT_PASSWORD": "hunter2-xyz", "STACKFORM_DBT_PORT": "6543"}


def test_literal_password_still_goes_through_the_environment(tmp_path: Path) -> None:
    attributes = {"pip_url": "x", "target": {
        "type": "postgres", "user": "u", "password": "literal-pw", "dbname": "d",
        "schema": "mine", "settings": {"s3_secret_access_key": "literal-s3"}}}
    # Sensitive as resolve marks it: by the key rule, with no ${secret...} anywhere.
    resource = _resource(attributes, frozenset(secret_key_paths(
        TransformerConfig.model_validate(attributes).model_dump(mode="json"))))
    output, secrets = render_target(_ctx(tmp_path), resource)
    assert output["password"].startswith("{{ env_var(")
    assert output["settings"]["s3_secret_access_key"].startswith("{{ env_var(")
    assert secrets == {"STACKFORM_DBT_PASSWORD": "literal-pw",
                       "STACKFORM_DBT_SETTINGS_S3_SECRET_ACCESS_KEY": "literal-s3"}
    assert output["schema"] == "mine"


def test_default_target_is_a_duckdb_file_per_environment(tmp_path: Path) -> None:
    output, secrets = render_target(_ctx(tmp_path, "prod"), _resource({"pip_url": "x"}))
    assert output["type"] == "duckdb"
    assert output["path"] == str(tmp_path / "warehouse" / "prod.duckdb")
    assert output["schema"] == "analytics_prod" and not secrets
    assert default_schema("Dev-Bob.Smith") == "analytics_dev_bob_smith"


def test_project_paths_from_dbt_project_yml(tmp_path: Path) -> None:
    (tmp_path / "dbt_project.yml").write_text(
        "name: 'jaffle'  # comment\nprofile: jaffle_profile\nmodel-paths: [\"models\", "
        "'more']\nseed-paths:\n  - data\nmodels:\n  jaffle:\n    +materialized: view\n")
    found = read_project_file(tmp_path)
    assert found["name"] == "jaffle" and found["profile"] == "jaffle_profile"
    paths = project_paths(found)
    assert paths["model-paths"] == ["models", "more"]
    assert paths["seed-paths"] == ["data"]
    assert paths["macro-paths"] == ["macros"]
    (tmp_path / "dbt_project.yml").write_text("name: [unclosed\n")
    assert read_project_file(tmp_path) == {}  # dbt's parse at apply says what is wrong


def test_file_digest_is_dbts_checksum(tmp_path: Path) -> None:
    path = tmp_path / "m.sql"
    path.write_text("select 1\n\n")
    # sha256 of the stripped text, as manifest.json records it for models
    import hashlib
    assert file_digest(path) == hashlib.sha256(b"select 1").hexdigest()


SUMMARY = {
    "project": "jaffle",
    "macros": {"macro.jaffle.cents": "macros/cents.sql"},
    "nodes": {
        "seed.jaffle.raw": {"type": "seed", "name": "raw", "label": "raw", "path": "seeds/raw.csv",
                            "checksum": "s1", "patch": None, "macros": [],
                            "children": ["model.jaffle.stg"]},
        "model.jaffle.stg": {"type": "model", "name": "stg", "label": "staging.stg",
                             "path": "models/staging/stg.sql", "checksum": "a1",
                             "patch": "models/schema.yml", "macros": [],
                             "children": ["model.jaffle.mart", "test.jaffle.nn_stg"]},
        "model.jaffle.mart": {"type": "model", "name": "mart", "label": "marts.mart",
                              "path": "models/marts/mart.sql", "checksum": "b1", "patch": None,
                              "macros": ["macro.jaffle.cents"],
                              "children": ["test.jaffle.u_mart"]},
        "model.jaffle.old": {"type": "model", "name": "old", "label": "old",
                             "path": "models/old.sql", "checksum": "c1", "patch": None,
                             "macros": [], "children": []},
        "test.jaffle.nn_stg": {"type": "test", "name": "nn_stg", "label": "nn_stg",
                               "path": "models/schema.yml", "checksum": None, "patch": None,
                               "macros": [], "children": []},
        "test.jaffle.u_mart": {"type": "test", "name": "u_mart", "label": "u_mart",
                               "path": "models/schema.yml", "checksum": None, "patch": None,
                               "macros": [], "children": []},
    },
}
BEFORE = {"dbt_project.yml": "p", "seeds/raw.csv": "s1", "models/staging/stg.sql": "a1",
          "models/marts/mart.sql": "b1", "models/old.sql": "c1", "models/schema.yml": "y1",
          "macros/cents.sql": "m1"}
PATHS = project_paths({})


def test_plan_lines_name_changed_new_removed_and_affected() -> None:
    now = {**BEFORE, "models/staging/stg.sql": "a2", "models/marts/new_one.sql": "n"}
    del now["models/old.sql"]
    assert plan_lines(SUMMARY, BEFORE, now, PATHS) == [
        "+ model marts.new_one (new)",
        "~ model staging.stg (changed)",
        "  affects: model marts.mart, test nn_stg, test u_mart",
        "- model old (removed)",
    ]


def test_plan_lines_for_properties_macros_and_moves() -> None:
    now = {**BEFORE, "models/schema.yml": "y2", "macros/cents.sql": "m2"}
    del now["models/old.sql"]
    now["models/legacy/old.sql"] = "c1"
    assert plan_lines(SUMMARY, BEFORE, now, PATHS) == [
        "~ model marts.mart (uses changed macros in macros/cents.sql)",
        "  affects: test u_mart",
        "~ model old (moved from models/old.sql to models/legacy/old.sql)",
        "~ model staging.stg (properties in models/schema.yml changed)",
        "  affects: test nn_stg, test u_mart",  # mart is listed on its own
        "~ macro file macros/cents.sql (changed)",
        "~ properties models/schema.yml (changed; defines test nn_stg, test u_mart)",
    ]


def test_unchanged_project_has_no_lines() -> None:
    assert plan_lines(SUMMARY, BEFORE, dict(BEFORE), PATHS) == []


def test_steps_and_run_results(tmp_path: Path) -> None:
    assert split_command(None) == ["build"]
    assert split_command("build --select 'staging+'") == ["build", "--select", "staging+"]
    (tmp_path / "run_results.json").write_text(json.dumps({"results": [
        {"unique_id": "model.p.a", "status": "success"},
        {"unique_id": "test.p.unique_a_id.abc123", "status": "fail",
         "message": "Got 2 results, configured to fail if != 0"},
        {"unique_id": "model.p.b", "status": "skipped"},
    ]}))
    results = Results.read(tmp_path / "run_results.json")
    assert results is not None
    assert results.counts == {"success": 1, "error": 1, "skipped": 1, "warn": 0}
    assert results.failures == ["test unique_a_id: Got 2 results, configured to fail if != 0"]


def test_two_developers_never_share_a_schema_or_warehouse(tmp_path: Path) -> None:
    """A per-developer `dev` gives alice and bob their own dbt schema and DuckDB file."""
    from stackform.config.loader import load_stack_file
    from stackform.config.resolve import resolve
    from stackform.provider import make_context
    from stackform.registry import Registry
    from stackform.resource import fingerprinter
    from stackform_dbt.profile import render_target

    (tmp_path / "stack.toml").write_text(
        '[stack]\nname = "team"\n\n[environments.dev]\nper_developer = true\ndefault = true\n\n'
        '[transformers.dbt]\npip_url = "dbt-duckdb==1.11.1"\nproject_dir = "transform"\n')
    registry = Registry()
    stack_file = load_stack_file(tmp_path / "stack.toml", registry)
    targets = {}
    for developer in ("alice", "bob"):
        stack = resolve(stack_file, "dev", registry, developer=developer)
        ctx = make_context(stack, fingerprinter("lineage"))
        target, _secrets = render_target(ctx, stack.resources["transformers.dbt"])
        targets[developer] = target
    assert targets["alice"]["schema"] == "analytics_dev_alice"
    assert targets["bob"]["schema"] == "analytics_dev_bob"
    assert targets["alice"]["path"] != targets["bob"]["path"]


# -- descriptions: dbt's state:modified rule ----------------------------------------------------

SCHEMA = """\
version: 2
models:
  - name: stg
    description: Orders, cleaned.
    columns:
      - name: id
        description: The order.
        data_tests: [not_null]
  - name: mart
    description: Revenue per customer.
"""
NO_NODE = ("~ properties models/schema.yml (only descriptions, comments or layout changed: "
           "no node is modified)")


def _schema_lines(tmp_path: Path, edited: str, persist: list[str] | None = None) -> list[str]:
    """Plan lines after ``models/schema.yml`` went from SCHEMA to ``edited``, with ``stg``
    persisting ``persist`` (dbt's persist_docs keys) at the last apply."""
    path = tmp_path / "models" / "schema.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(SCHEMA)
    recorded = {"models/schema.yml": properties_digest(path)}
    path.write_text(edited)
    summary = json.loads(json.dumps(SUMMARY))
    if persist:
        summary["nodes"]["model.jaffle.stg"]["persist_docs"] = persist
    now = {**BEFORE, "models/schema.yml": file_digest(path)}
    return plan_lines(summary, BEFORE, now, PATHS, recorded,
                      lambda rel: properties_digest(tmp_path / rel))


def test_a_description_change_modifies_no_node(tmp_path: Path) -> None:
    edited = SCHEMA.replace("Orders, cleaned.", "Orders, deduplicated.").replace(
        "The order.", "The order's id.") + "# a comment\n"
    assert _schema_lines(tmp_path, edited) == [NO_NODE]
    # persist_docs of the relation only: a column description is still only documentation
    assert _schema_lines(tmp_path, SCHEMA.replace("The order.", "Id."), ["relation"]) == [NO_NODE]
    # another model's description, even with stg persisting its own
    assert _schema_lines(tmp_path, SCHEMA.replace("Revenue per", "Revenue by"),
                         ["relation", "columns"]) == [NO_NODE]


def test_a_persisted_description_change_modifies_its_node(tmp_path: Path) -> None:
    relation = _schema_lines(tmp_path, SCHEMA.replace("Orders, cleaned.", "Orders."),
                             ["relation"])
    assert relation == [
        "~ model staging.stg (description in models/schema.yml changed; persisted by "
        "persist_docs)",
        "  affects: model marts.mart, test nn_stg, test u_mart",
    ]
    columns = _schema_lines(tmp_path, SCHEMA.replace("The order.", "Id."), ["columns"])
    assert columns[0] == ("~ model staging.stg (column descriptions in models/schema.yml "
                          "changed; persisted by persist_docs)")


def test_any_other_properties_change_modifies_the_nodes(tmp_path: Path) -> None:
    edited = SCHEMA.replace("data_tests: [not_null]", "data_tests: [not_null, unique]")
    assert _schema_lines(tmp_path, edited) == [
        "~ model staging.stg (properties in models/schema.yml changed)",
        "  affects: model marts.mart, test nn_stg, test u_mart",
        "~ properties models/schema.yml (changed; defines test nn_stg, test u_mart)",
    ]


def test_every_changed_file_is_named() -> None:
    before = {**BEFORE, "models/overview.md": "d1", "models/notes.txt": "t1"}
    now = {**before, "models/overview.md": "d2", "seeds/readme.md": "r"}
    del now["models/notes.txt"]
    assert plan_lines(SUMMARY, before, now, PATHS) == [
        "+ file seeds/readme.md (new)",
        "~ file models/overview.md (changed)",
        "- file models/notes.txt (removed)",
    ]
