"""Hostile stack files and state through the real ``stackform`` script: control characters
show as escapes everywhere, and every problem is reported where it is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_helpers import Result, Runner, assert_clean_error, state_path

pytestmark = pytest.mark.slow

RAW = ("\x1b", "\r", "\u202e")
"""Written into names and values as TOML escapes; none may reach the output raw."""


def write_bytes(project: Path, data: bytes) -> None:
    (project / "stack.toml").write_bytes(data)


def assert_escaped(text: str, *shown: str) -> None:
    for raw in RAW:
        assert raw not in text, repr(text)
    for escape in shown:
        assert escape in text, text


def test_validate_errors_escape_a_hostile_block_name(sf: Runner, project: Path) -> None:
    write_bytes(project, b'[stack]\nname = "t"\n\n'
                         b'[files."a\\u001b[31mred\\r\\u202e"]\npath = "x"\ncontent = "y"\n')
    result = sf("validate")
    assert_clean_error(result)
    assert_escaped(result.output, "a\\x1b[31mred\\r\\u202e")
    assert "stack.toml:4:1: error: files.a\\x1b[31mred\\r\\u202e: invalid block name" in (
        result.stderr)


HOSTILE_VALUES = (
    b'[stack]\nname = "t"\n\n'
    b'[files.evil]\npath = "out/x.txt"\ncontent = "hi\\u001b[31m\\r\\u202e"\n\n'
    b'[files.tpl]\npath = "out/y.txt"\ntemplate = "t.tmpl"\n'
    b'vars = { "k\\u001b[31m\\r\\u202e" = "v\\u001b[31m", name = "x" }\n'
)


def write_hostile_values(project: Path) -> None:
    (project / "t.tmpl").write_text("hello $name\n")
    write_bytes(project, HOSTILE_VALUES)


def test_plan_text_escapes_a_hostile_value_and_key(sf: Runner, project: Path) -> None:
    write_hostile_values(project)
    result = sf("plan")
    assert result.code == 0, result
    assert_escaped(result.output, '"hi\\u001b[31m\\r\\u202e"', '"k\\u001b[31m\\r\\u202e"')


@pytest.fixture
def hostile(sf: Runner, project: Path) -> Runner:
    """The hostile stack, applied; then its state is edited to hold a block name with control
    characters (state may come from anywhere: a pushed file, another tool)."""
    write_hostile_values(project)
    assert sf("apply", "--auto-approve").code == 0
    path = state_path(project)
    doc = json.loads(path.read_text())
    doc["resources"]["files.e\x1b[31m\r\u202evil"] = doc["resources"].pop("files.evil")
    path.write_text(json.dumps(doc, indent=2))
    return sf


def test_plan_text_and_state_list_escape_a_block_name_from_state(hostile: Runner) -> None:
    result = hostile("plan")
    assert result.code == 0, result
    assert_escaped(result.output, "  - files.e\\x1b[31m\\r\\u202evil\n",
                   '"hi\\u001b[31m\\r\\u202e"')
    listed = hostile("state", "list")
    assert_escaped(listed.output, "files.e\\x1b[31m\\r\\u202evil")


def test_markdown_escapes_them_on_screen_and_in_the_file(hostile: Runner, project: Path) -> None:
    result = hostile("plan", "--format", "markdown", "--out-markdown", "plan.md")
    assert result.code == 0, result
    written = (project / "plan.md").read_text()
    for text in (result.stdout, written):
        assert_escaped(text, "<code>- files.e\\x1b[31m\\r\\u202evil</code>",
                       '"hi\\u001b[31m\\r\\u202e"')


def test_json_stays_valid_json_that_round_trips_the_values(hostile: Runner) -> None:
    result: Result = hostile("plan", "--format", "json")
    assert result.code == 0, result
    assert_escaped(result.stdout)
    doc = json.loads(result.stdout)
    addresses = {c["address"] for c in doc["resource_changes"]}
    assert "files.e\x1b[31m\r\u202evil" in addresses


CYCLE_IN_PROD = b"""[stack]
name = "t"

[environments.dev]
default = true

[environments.prod]

[files.a]
path = "a"
content = "a"

[files.b]
path = "b"
content = "b"
depends_on = ["files.a"]

[environments.prod.override.files.a]
depends_on = ["files.b"]
"""


def test_a_cycle_only_in_another_environment_is_located_by_validate(sf: Runner,
                                                                    project: Path) -> None:
    write_bytes(project, CYCLE_IN_PROD)
    assert sf("validate", "--one-env").code == 0  # dev alone has no cycle
    result = sf("validate")
    assert_clean_error(result)
    assert ("stack.toml:19:14: error: files.a.depends_on: dependency cycle: "
            "files.b -> files.a -> files.b") in result.stderr, result


SECRET = "s3cr3t-Zq9"
SECRET_IN_FILE_NAMES = b"""[stack]
name = "t"

[vars]
dir = "out/${secret.token}"

[files.a]
path = "${var.dir}/a.txt"
content = "a"

[files.b]
path = "b.txt"
template = "t-${secret.token}.tmpl"

[files.c]
path = "c.txt"
content = "token=${secret.token}"
"""


def test_a_secret_in_a_file_name_is_a_located_error(sf: Runner, project: Path) -> None:
    write_bytes(project, SECRET_IN_FILE_NAMES)
    expected = [
        "stack.toml:8:8: error: files.a.path: names a file, so it may not hold a secret",
        "stack.toml:13:12: error: files.b.template: names a file, so it may not hold a secret",
    ]
    result = sf("validate")  # no secret needed to see it
    assert_clean_error(result)
    assert [line for line in result.stderr.splitlines() if ": error: " in line] == [
        f"{e}: plans, state and logs show it" for e in expected], result
    planned = sf("plan", env={"STACKFORM_SECRET_TOKEN": SECRET})
    assert_clean_error(planned)
    assert all(e in planned.stderr for e in expected), planned
    assert SECRET not in planned.output
    assert not (project / "out").exists()
