"""The name ``stackform init`` gives a stack when not told one."""

from __future__ import annotations

from pathlib import Path

from stackform.scaffold import default_stack_name


def test_the_default_name_is_the_folders_as_a_name_may_be(tmp_path: Path) -> None:
    assert default_stack_name(tmp_path / "My Data-Stack") == "my_data_stack"
    assert default_stack_name(tmp_path / "--") == "stack"
    assert default_stack_name(tmp_path / "infra" / ".") == "infra"
