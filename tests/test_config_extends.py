"""``extends`` and ``abstract`` on provider blocks (stackform.config.extends): inheritance, the
order of merges with environment overrides, and located errors for bad references."""

from __future__ import annotations

from pathlib import Path

from tests.test_config_resolve import at, problems, run

BASE = """\
[stack]
name = "s"

[environments.dev]
default = true

[environments.prod.override.loaders.base.config]
batch_size_rows = 7

[environments.prod.override.loaders.child.config.options]
threads = 16

[loaders.base]
abstract = true
pip_url = "target-duckdb==0.8"

[loaders.base.config]
path = "base.duckdb"
schemas = ["raw", "staging"]
options = { threads = 2, memory = "1GB" }

[loaders.middle]
extends = "loaders.base"
config = { schemas = ["mid"] }

[loaders.child]
extends = "middle"
config = { path = "child.duckdb", options = { memory = "2GB" } }
"""


def test_chain_merges_tables_and_replaces_lists(tmp_path: Path) -> None:
    stack = run(BASE, tmp_path)
    assert "loaders.base" not in stack.resources  # abstract: never a resource
    child = stack.resources["loaders.child"].attributes
    assert child["pip_url"] == "target-duckdb==0.8"
    assert child["config"] == {"path": "child.duckdb", "batch_size_rows": 1000,
                               "schemas": ["mid"],
                               "options": {"threads": 2, "memory": "2GB"}}
    assert "extends" not in child and "abstract" not in child
    assert stack.resources["loaders.middle"].attributes["config"]["path"] == "base.duckdb"


def test_environment_overrides_apply_after_extends(tmp_path: Path) -> None:
    stack = run(BASE, tmp_path, "prod")
    child = stack.resources["loaders.child"].attributes["config"]
    # The base's override reaches every block extending it; the child's own wins over both.
    assert child["batch_size_rows"] == 7
    assert child["options"] == {"threads": 16, "memory": "2GB"}
    assert stack.resources["loaders.middle"].attributes["config"]["options"]["threads"] == 2


def test_inherited_value_is_located_in_the_base(tmp_path: Path) -> None:
    text = BASE.replace('batch_size_rows = 7', 'batch_size_rows = 1').replace(
        'schemas = ["raw", "staging"]', 'schemas = ["raw", "staging"]\nbatch_size_rows = "x"')
    found = problems(text, tmp_path)
    paths = {d.path: d for d in found}
    assert set(paths) == {"loaders.middle.config.batch_size_rows",
                          "loaders.child.config.batch_size_rows"}
    line = text.splitlines().index('batch_size_rows = "x"') + 1
    assert all(at(d)[0] == line for d in found)


def test_cycle_is_a_located_error(tmp_path: Path) -> None:
    text = ('[stack]\nname = "s"\n'
            '[loaders.a]\nextends = "loaders.b"\npip_url = "x"\nconfig = { path = "p" }\n'
            '[loaders.b]\nextends = "a"\n')
    [d] = problems(text, tmp_path)
    assert d.message == "extends makes a cycle: loaders.a -> loaders.b -> loaders.a"
    assert d.path in ("loaders.b.extends", "loaders.a.extends")
    assert at(d) in ((4, 11), (8, 11))


def test_unknown_other_kind_and_bad_values(tmp_path: Path) -> None:
    text = ('[stack]\nname = "s"\n'
            '[files.f]\npath = "p"\n'
            '[loaders.a]\nextends = "loaders.bse"\n'
            '[loaders.b]\nextends = "files.f"\n'
            '[loaders.c]\nextends = 3\nabstract = "yes"\n'
            '[loaders.base]\nabstract = true\npip_url = "x"\n')
    found = {d.path: d for d in problems(text, tmp_path)}
    assert found["loaders.a.extends"].message == "extends unknown block 'loaders.bse'"
    assert found["loaders.a.extends"].hint == "did you mean 'base'?"
    assert at(found["loaders.a.extends"]) == (6, 11)
    assert "another kind" in found["loaders.b.extends"].message
    assert found["loaders.c.extends"].message.startswith("expected a block address")
    assert found["loaders.c.abstract"].message == "expected true or false, got a string"


def test_abstract_block_is_not_a_step(tmp_path: Path) -> None:
    text = BASE + '[pipelines.p]\nsteps = ["base"]\n'
    [d] = problems(text, tmp_path)
    assert d.path == "pipelines.p.steps[0]"
    assert "abstract" in d.message


def test_abstract_block_is_no_dependency(tmp_path: Path) -> None:
    text = BASE + '[loaders.other]\nextends = "base"\ndepends_on = ["loaders.base"]\n'
    [d] = problems(text, tmp_path)
    assert d.path == "loaders.other.depends_on[0]"
    assert d.message == ("depends_on 'loaders.base' is abstract (only a base for `extends`): "
                         "it is never applied")
