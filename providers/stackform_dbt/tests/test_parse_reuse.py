"""The proof that another environment's dbt parse is this one's: Jinja reading the target or
the process environment, and a compiled manifest moved to other target names (real dbt: in
tests/e2e/test_dbt_new_env.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stackform_dbt.parse_reuse import reads_environment
from stackform_dbt.relocate import relocate, target_names


def project(tmp_path: Path, files: dict[str, str]) -> dict[str, str]:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return dict.fromkeys(files, "digest")


def test_jinja_reading_the_target_or_env_vars_is_found(tmp_path: Path) -> None:
    plain = {"dbt_project.yml": "name: p\ntarget-path: target\nclean-targets: [target]\n",
             "models/a.sql": "-- the target table\nselect 1 as target from {{ ref('b') }}\n",
             "macros/m.sql": "{% macro m() %}{% if target.type == 'duckdb' %}1{% endif %}"
                             "{% endmacro %}\n"}
    assert reads_environment(tmp_path, project(tmp_path, plain)) is None
    for name, text in [("models/n.sql", "select '{{ target.name }}'"),
                       ("models/s.sql", "select * from {{ target['schema'] }}.t"),
                       ("macros/e.sql", "{% set x = env_var('HOME') %}"),
                       ("models/p.yml", "models:\n  - name: x\n    config:\n"
                                        "      schema: \"{{ target.schema }}_x\"\n")]:
        found = reads_environment(tmp_path, project(tmp_path, {**plain, name: text}))
        assert found == name
        (tmp_path / name).unlink()


def test_installed_packages_are_read_too(tmp_path: Path) -> None:
    files = project(tmp_path, {"models/a.sql": "select 1"})
    macro = tmp_path / "dbt_packages" / "utils" / "macros" / "x.sql"
    macro.parent.mkdir(parents=True)
    macro.write_text("{{ target.database }}")
    assert reads_environment(tmp_path, files) == "dbt_packages/utils/macros/x.sql"


def manifest(db: str, schema: str) -> dict[str, Any]:
    def rel(s: str, t: str) -> str:
        return f'"{db}"."{s}"."{t}"'
    return {
        "metadata": {"project_name": "p"},
        "nodes": {
            "model.p.stg": {"resource_type": "model", "package_name": "p", "config": {},
                            "database": db, "schema": schema, "relation_name": rel(schema, "stg"),
                            "compiled_code": f"select id from {rel('raw', 'orders')}"},
            "model.p.mart": {"resource_type": "model", "package_name": "p",
                             "config": {"schema": "marts"}, "database": db,
                             "schema": f"{schema}_marts",
                             "relation_name": rel(f"{schema}_marts", "mart"),
                             "compiled_code": f"select id from {rel(schema, 'stg')}"},
        },
        "sources": {"source.p.raw.orders": {
            "resource_type": "source", "package_name": "p", "database": db, "schema": "raw",
            "relation_name": rel("raw", "orders")}},
        "macros": {"macro.dbt.generate_schema_name": {"name": "generate_schema_name",
                                                       "package_name": "dbt"}},
    }


def test_a_manifest_moves_to_another_targets_names() -> None:
    dev = manifest("dev", "analytics_dev")
    assert target_names(dev) == ("dev", "analytics_dev")
    moved = relocate(dev, ("dev", "analytics_dev"), ("prod", "analytics_prod"))
    assert moved == manifest("prod", "analytics_prod")
    assert dev == manifest("dev", "analytics_dev")  # the original is left alone


def test_a_project_naming_relations_itself_is_not_moved() -> None:
    dev = manifest("dev", "analytics_dev")
    dev["macros"]["macro.p.generate_schema_name"] = {"name": "generate_schema_name",
                                                     "package_name": "p"}
    assert relocate(dev, ("dev", "analytics_dev"), ("prod", "analytics_prod")) is None


def test_an_unexpected_relation_name_is_not_guessed() -> None:
    dev = manifest("dev", "analytics_dev")
    dev["nodes"]["model.p.stg"]["relation_name"] = "analytics_dev.stg"  # no quoting, no database
    assert relocate(dev, ("dev", "analytics_dev"), ("prod", "analytics_prod")) is None
