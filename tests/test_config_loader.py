"""Tests for finding and loading stack files (stackform.config.loader)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, ConfigDict

from stackform.config.loader import find_stack_file, load_stack_file, parse_stack_text
from stackform.diagnostics import Diagnostic
from stackform.errors import ConfigError, StackformError
from stackform.provider import BaseProvider
from stackform.registry import Registry


class FilesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str
    content: str = ""


class FilesProvider(BaseProvider):
    kind = "files"
    Config: ClassVar[type[BaseModel]] = FilesConfig


class LoadersProvider(BaseProvider):
    kind = "loaders"
    Config: ClassVar[type[BaseModel]] = FilesConfig


REGISTRY = Registry(extra={"files": FilesProvider, "loaders": LoadersProvider})


def load(text: str, tmp_path: Path) -> Any:
    path = tmp_path / "stack.toml"
    path.write_text(text)
    return load_stack_file(path, REGISTRY)


def problems(text: str, tmp_path: Path) -> list[Diagnostic]:
    with pytest.raises(ConfigError) as info:
        load(text, tmp_path)
    return list(info.value.diagnostics)


def one(text: str, tmp_path: Path) -> Diagnostic:
    found = problems(text, tmp_path)
    assert len(found) == 1, [d.format() for d in found]
    return found[0]


def at(d: Diagnostic) -> tuple[int, int]:
    assert d.location is not None
    return d.location.line, d.location.column


GOOD = """\
[stack]
name = "jaffle"
requires = ">=0.1"

[vars]
x = 1

[environments.dev]
per_developer = true
default = true

[environments.prod]
protected = true
[environments.prod.override.files.a]
content = "prod"

[files.a]
path = "a.txt"

[loaders.b]
path = "b"
depends_on = ["files.a"]

[pipelines.daily]
steps = ["a", "b"]
"""


def test_loads_a_good_file(tmp_path: Path) -> None:
    sf = load(GOOD, tmp_path)
    assert sf.name == "jaffle"
    assert sf.dir == tmp_path
    assert sf.core.environments["prod"].protected
    assert sf.core.default_environment == "dev"
    assert sf.core.state.backend == "local"
    assert list(sf.blocks) == ["files", "loaders"]
    assert sf.blocks["loaders"]["b"]["depends_on"] == ["files.a"]
    assert sf.data["vars"] == {"x": 1}
    # Valid text needs no locations: the source map is built by the first diagnostic.
    assert "source_map" not in sf.__dict__
    assert sf.location(("files", "a", "path")).line == 18
    assert "source_map" in sf.__dict__


def test_bad_toml_is_located(tmp_path: Path) -> None:
    d = one('[stack]\nname = "x"\nbad = = 1\n', tmp_path)
    assert d.message.startswith("invalid TOML")
    assert at(d) == (3, 7)
    assert d.location is not None and d.location.file == tmp_path / "stack.toml"


def test_bad_toml_at_end_of_document(tmp_path: Path) -> None:
    d = one('[stack]\nname = "x', tmp_path)
    assert d.message.startswith("invalid TOML")
    assert d.location is not None and d.location.line == 2


def test_unknown_section_did_you_mean(tmp_path: Path) -> None:
    d = one('[stack]\nname = "x"\n[loader.b]\npath = "p"\n', tmp_path)
    assert d.message == "unknown section 'loader'"
    assert d.hint is not None and "did you mean 'loaders'?" in d.hint
    assert "installed provider kinds:" in d.hint
    assert all(k in d.hint for k in ("files", "loaders"))
    assert at(d) == (3, 1)
    assert d.path == "loader"


def test_unknown_key_in_core_section(tmp_path: Path) -> None:
    d = one('[stack]\nname = "x"\nrequire = ">=0.1"\n', tmp_path)
    assert d.message == "unknown key 'require'"
    assert d.hint == "did you mean 'requires'?"
    assert d.path == "stack.require"
    assert at(d) == (3, 1)


def test_unknown_key_nested_in_environment(tmp_path: Path) -> None:
    d = one('[stack]\nname = "x"\n[environments.prod]\nprotectd = true\n', tmp_path)
    assert d.message == "unknown key 'protectd'"
    assert d.hint == "did you mean 'protected'?"
    assert d.path == "environments.prod.protectd"


def test_wrong_types_are_human(tmp_path: Path) -> None:
    found = problems(
        '[stack]\nname = 5\n[state]\nbackend = "ftp"\n[environments.p]\nprotected = "yes"\n',
        tmp_path,
    )
    by_path = {d.path: d for d in found}
    assert by_path["stack.name"].message == "expected a string, got an integer"
    assert at(by_path["stack.name"]) == (2, 8)
    assert by_path["state.backend"].message == "expected 'local' or 's3', got 'ftp'"
    assert by_path["environments.p.protected"].message == "expected true or false, got a string"


def test_missing_stack_table(tmp_path: Path) -> None:
    d = one('[files.a]\npath = "x"\n', tmp_path)
    assert d.message == "missing required table [stack]"
    assert at(d) == (1, 1)


def test_missing_required_key_points_at_table(tmp_path: Path) -> None:
    d = one('[vars]\na = 1\n\n[stack]\ndescription = "d"\n', tmp_path)
    assert d.message == "missing required key 'name'"
    assert d.path == "stack.name"
    assert at(d) == (4, 1)


def test_stack_name_and_requires_checks(tmp_path: Path) -> None:
    d = one('[stack]\nname = "Bad Name"\n', tmp_path)
    assert "lower-case" in d.message
    d = one('[stack]\nname = "x"\nrequires = "not a spec"\n', tmp_path)
    assert "not a version specifier" in d.message
    d = one('[stack]\nname = "x"\nrequires = ">=99"\n', tmp_path)
    assert d.message.startswith("this stack requires stackform >=99")
    assert d.path == "stack.requires" and at(d) == (3, 12)


def test_blocks_must_be_tables_with_valid_names(tmp_path: Path) -> None:
    found = problems(
        '[stack]\nname = "x"\n[files]\na = 1\n[files."b.c"]\npath = "p"\n[loaders]\n', tmp_path
    )
    messages = {(d.path, d.message) for d in found}
    assert ("files.a", "expected a table, got an integer") in messages
    assert ("files.b.c", "invalid block name 'b.c'") in messages
    assert len(found) == 2
    text = 'files = [1]\n[stack]\nname = "x"\n'
    d = one(text, tmp_path)
    assert d.message == "expected a table of 'files' blocks, got an array"


def test_two_default_environments(tmp_path: Path) -> None:
    d = one(
        '[stack]\nname = "x"\n[environments.a]\ndefault = true\n'
        "[environments.b]\ndefault = true\n",
        tmp_path,
    )
    assert "both marked default" in d.message
    assert d.path == "environments.b.default" and at(d) == (6, 11)


def test_override_must_name_existing_blocks(tmp_path: Path) -> None:
    found = problems(
        '[stack]\nname = "x"\n[files.alpha]\npath = "p"\n'
        "[environments.prod.override.files.alpah]\npath = 'q'\n"
        "[environments.prod.override.loader.x]\npath = 'q'\n",
        tmp_path,
    )
    assert [d.message for d in found] == [
        "override of unknown block 'files.alpah'",
        "override of 'loader', which has no blocks in this stack",
    ]
    assert found[0].hint == "did you mean 'alpha'?"
    assert at(found[0]) == (5, 1)


def test_pipeline_steps_must_not_be_empty(tmp_path: Path) -> None:
    d = one('[stack]\nname = "x"\n[pipelines.p]\nsteps = []\n', tmp_path)
    assert (d.path, d.message) == ("pipelines.p.steps", "must not be empty")
    assert at(d) == (4, 9)


def test_every_problem_is_reported_together(tmp_path: Path) -> None:
    text = """\
[stack]
name = "x"
nmae = "y"

[state]
backend = 3

[environments.a]
default = true
[environments.b]
default = true

[filez.q]
path = 1

[pipelines.p]
steps = "a"
"""
    found = problems(text, tmp_path)
    assert len(found) == 5
    lines = [d.location.line for d in found if d.location]
    assert lines == sorted(lines)
    text = str(ConfigError(found))
    assert "stack.toml:3:1: error: stack.nmae: unknown key 'nmae'" in text


def test_find_stack_file(tmp_path: Path) -> None:
    with pytest.raises(StackformError) as info:
        find_stack_file(tmp_path)
    assert info.value.hint is not None and "stackform init" in info.value.hint
    (tmp_path / "stack.toml").write_text('[stack]\nname = "x"\n')
    assert find_stack_file(tmp_path) == tmp_path / "stack.toml"
    (tmp_path / "other.toml").write_text('[stack]\nname = "x"\n')
    assert find_stack_file(tmp_path, Path("other.toml")) == tmp_path / "other.toml"
    with pytest.raises(StackformError):
        find_stack_file(tmp_path, Path("nope.toml"))


def test_find_stack_file_defaults_to_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    (tmp_path / "stack.toml").write_text('[stack]\nname = "x"\n')
    monkeypatch.chdir(tmp_path)
    assert find_stack_file() == tmp_path / "stack.toml"


def test_unreadable_and_non_utf8(tmp_path: Path) -> None:
    with pytest.raises(StackformError):
        load_stack_file(tmp_path / "missing.toml", REGISTRY)
    path = tmp_path / "stack.toml"
    path.write_bytes(b'[stack]\nname = "\xff"\n')
    with pytest.raises(ConfigError):
        load_stack_file(path, REGISTRY)


@pytest.mark.parametrize(("data", "line", "column", "byte"), [
    (b'[stack]\nname = "\xff"\n', 2, 9, 0xFF),
    (b'[stack]\r\nname = "x"\r\n# caf\xc3\xa9 \xc3(\n', 3, 8, 0xC3),  # columns count chars
    (b'\x80', 1, 1, 0x80),
    (b'[stack]\nname = "x"\n\n[files.a]\npath = "\xe2\x82"\n', 5, 9, 0xE2),  # cut short
])
def test_invalid_utf8_is_located_at_the_first_bad_byte(tmp_path: Path, data: bytes, line: int,
                                                       column: int, byte: int) -> None:
    path = tmp_path / "stack.toml"
    path.write_bytes(data)
    with pytest.raises(ConfigError) as info:
        load_stack_file(path, REGISTRY)
    (d,) = info.value.diagnostics
    assert at(d) == (line, column)
    assert d.message.startswith("not UTF-8 text: ")
    assert d.message.endswith(f"(byte 0x{byte:02x})")


@pytest.mark.parametrize(("text", "line", "column", "path", "first"), [
    # tomlkit accepts this one (other tables between the two, and only new keys in the second)
    ('[stack]\nname = "x"\n[files.a]\npath = "p"\n[vars]\n[files.b]\npath = "q"\n'
     '[files.a]\ncontent = "c"\n', 8, 1, "files.a", "line 3, column 1"),
    # tomlkit gives these no position at all
    ('[stack]\nname = "x"\n[files.a]\npath = "p"\n[files.a.vars]\n[files.a.vars]\n',
     6, 1, "files.a.vars", "line 5, column 1"),
    ('[stack]\nname = "x"\n[files.a]\npath = "p"\nvars = {k = 1, k = 2}\n',
     5, 16, "files.a.vars.k", "line 5, column 9"),
    # and these the line after the table, or column 0
    ('[stack]\nname = "x"\n[files.a]\npath = "p"\n[vars]\nx = 1\n[files.a]\npath = "q"\n',
     7, 1, "files.a", "line 3, column 1"),
    ('[stack]\nname = "x"\nname = "y"\n', 3, 1, "stack.name", "line 2, column 1"),
])
def test_duplicates_are_located_at_the_second_definition_naming_the_first(
        text: str, line: int, column: int, path: str, first: str, tmp_path: Path) -> None:
    d = one(text, tmp_path)
    assert at(d) == (line, column)
    assert d.path == path
    assert d.message == f"defined twice; first at {first}"


def test_parse_stack_text_without_a_file() -> None:
    sf = parse_stack_text('[stack]\nname = "x"\n', Path("virtual.toml"), REGISTRY)
    assert sf.name == "x"
