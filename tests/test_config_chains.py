"""The shape of a pipeline's chains (stackform.config.chains) on providers that declare their
part (ChainsSteps): located errors for misshapen chains, and the bookmark key of each chain."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, ConfigDict

from stackform.config.loader import parse_stack_text
from stackform.config.resolve import resolve
from stackform.diagnostics import Diagnostic
from stackform.errors import ConfigError
from stackform.provider import BaseProvider
from stackform.registry import Registry


class Plugin(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pip_url: str = "x"


def _kind(name: str, role: str | None) -> type:
    attrs: dict[str, Any] = {"kind": name, "Config": Plugin}
    if role is not None:
        attrs["chain_role"] = role
        attrs["__annotations__"] = {"chain_role": ClassVar[str]}
    return type(f"{name.title()}Provider", (BaseProvider,), attrs)


REGISTRY = Registry(extra={"extractors": _kind("extractors", "start"),
                           "mappers": _kind("mappers", "link"),
                           "loaders": _kind("loaders", "end"),
                           "tools": _kind("tools", None)})

BLOCKS = """\
[stack]
name = "s"
[extractors.tap-a]
[extractors.tap-c]
[mappers.m1]
[mappers.m2]
[loaders.target-b]
[loaders.target-d]
[tools.dbt]
"""


def _resolve(steps: str, extra: str = "", tmp_path: Path = Path("/nonexistent")) -> Any:
    text = BLOCKS + f"[pipelines.p]\nsteps = {steps}\n{extra}"
    return resolve(parse_stack_text(text, tmp_path / "stack.toml", REGISTRY), None, REGISTRY,
                   environ={}, strict_secrets=False, check_lock=False)


def _problems(steps: str, extra: str = "") -> list[Diagnostic]:
    with pytest.raises(ConfigError) as info:
        _resolve(steps, extra)
    return list(info.value.diagnostics)


def test_several_chains_and_command_steps_with_their_bookmark_keys() -> None:
    stack = _resolve('["tap-a", "m1", "m2", "target-b", "tap-c", "target-d", "dbt:build", '
                     '"tap-a", "target-d"]')
    steps = stack.pipelines["p"].steps
    assert [s.bookmark for s in steps] == [
        "p.tap-a-to-target-b", None, None, None, "p.tap-c", None, None, "p.tap-a-to-target-d",
        None]


def test_shared_bookmark_keys() -> None:
    stack = _resolve('["tap-a", "m1", "target-b"]', 'bookmark = "shared"\n')
    assert stack.pipelines["p"].steps[0].bookmark == "shared.tap-a-to-target-b"
    [d] = _problems('["tap-a", "target-b"]', 'bookmark = "everyone"\n')
    assert d.path == "pipelines.p.bookmark"


@pytest.mark.parametrize(("steps", "path", "message"), [
    ('["tap-a", "m1"]', "pipelines.p.steps[0]",
     "extractor step 'tap-a' starts a chain that no loader ends"),
    ('["tap-a", "dbt:build", "target-b"]', "pipelines.p.steps[0]",
     "extractor step 'tap-a' starts a chain that no loader ends"),
    ('["tap-a", "tap-c", "target-b"]', "pipelines.p.steps[0]",
     "extractor step 'tap-a' starts a chain that no loader ends"),
    ('["m1", "target-b"]', "pipelines.p.steps[0]", "mapper step 'm1' is outside a chain"),
    ('["tap-a", "target-b", "target-d"]', "pipelines.p.steps[2]",
     "loader step 'target-d' ends no chain: it follows loader step 'target-b'"),
    ('["dbt:build", "target-d"]', "pipelines.p.steps[1]",
     "loader step 'target-d' ends no chain: no extractor starts it"),
    ('["tap-a:sync", "target-b"]', "pipelines.p.steps[0]",
     "step 'tap-a:sync': a chain step takes no ':command'"),
    ('["tap-a", "target-b", "tap-a", "m1", "target-b"]', "pipelines.p.steps[2]",
     "extractor 'tap-a' into loader 'target-b' twice in one pipeline: both chains would keep "
     "one bookmark"),
])
def test_misshapen_chains_are_located_errors(steps: str, path: str, message: str) -> None:
    found = _problems(steps)
    assert [(d.path, d.message) for d in found][:1] == [(path, message)]
    assert found[0].location is not None and found[0].location.line == BLOCKS.count("\n") + 2
    assert found[0].hint


def test_data_flows_within_each_chain_then_into_command_steps() -> None:
    from stackform.lineage.flow import data_upstream

    stack = _resolve('["tap-a", "m1", "target-b", "tap-c", "target-b", "tap-a", "target-d", '
                     '"dbt:build"]')
    assert [s.chain for s in stack.pipelines["p"].steps] == [0, 0, 0, 1, 1, 2, 2, None]
    upstream, warning = data_upstream(stack, {a: () for a in stack.resources})
    assert warning is None  # the extractor twice in one pipeline is no cycle
    assert upstream["extractors.tap-a"] == ()
    assert upstream["loaders.target-b"] == ("extractors.tap-a", "extractors.tap-c",
                                            "mappers.m1")
    assert upstream["loaders.target-d"] == ("extractors.tap-a",)
    assert len(upstream["tools.dbt"]) == 5  # every block before it
