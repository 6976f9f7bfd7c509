"""Core knows no provider's specifics: what a resource is built from (``plan --changed-since``),
which pipelines it depends on (the graph) and which switches a plan takes
(``--provider-option``, ``--refresh-catalog``) are each a provider hook, and a provider without
the hook is left alone."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, ConfigDict

from stackform.config.loader import parse_stack_text
from stackform.config.model import ResolvedStack
from stackform.config.resolve import resolve
from stackform.errors import ConfigError
from stackform.graph import resource_dependencies
from stackform.plan.changed import WHOLE_FILE, blast_radius
from stackform.provider import BaseProvider
from stackform.registry import Registry
from stackform.resource import Resource
from tests.cli_helpers import Runner, plan_json, write_stack


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=T", *args], cwd=cwd,
        check=True, capture_output=True, text=True,
        env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1"}).stdout


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


# -- plan --changed-since: what the built-in providers watch ---------------------------------

BUILT_IN = """
[stack]
name = "demo"

[extractors.orders]
pip_url = "./plugins/tap-orders"

[loaders.warehouse]
pip_url = "target-jsonl==0.1.3"

[transformers.dbt]
pip_url = "dbt-duckdb==1.9.1"

[transformers.marts]
pip_url = "dbt-duckdb==1.9.1"
project_dir = "marts"

[files.c]
path = "out/c.txt"
template = "templates/c.tmpl"

[pipelines.daily]
steps = ["orders", "warehouse"]
schedule = "0 6 * * *"

[orchestrators.airflow]
dags_path = "dags"
"""


@pytest.mark.slow
def test_changed_since_finds_what_the_providers_watch(sf: Runner, project: Path) -> None:
    write_stack(project, BUILT_IN)
    _write(project, {
        "plugins/tap-orders/tap_orders.py": "print('v1')\n",
        "transform/dbt_project.yml": "name: demo\n",  # the transformer's default project_dir
        "transform/models/a.sql": "select 1\n",
        "marts/dbt_project.yml": "name: marts\n",
        "templates/c.tmpl": "c\n",
        ".gitignore": ".stackform/\nout/\ndags/\n",
    })
    _git(project, "init", "-q", "-b", "main")
    _git(project, "add", "-A")
    _git(project, "commit", "-qm", "init")
    _write(project, {"plugins/tap-orders/tap_orders.py": "print('v2')\n",
                     "transform/models/a.sql": "select 2\n",
                     "templates/c.tmpl": "c changed\n"})

    changed = plan_json(sf("plan", "--format", "json", "--changed-since", "main"))[
        "changed_since"]
    assert changed["reasons"] == {
        "extractors.orders": ["pip_url changed: plugins/tap-orders/tap_orders.py"],
        "transformers.dbt": ["project_dir changed: transform/models/a.sql"],
        "files.c": ["template changed: templates/c.tmpl"],
    }
    # the orchestrator schedules the pipeline that runs the extractor
    assert changed["downstream"] == ["orchestrators.airflow"]


# -- a provider without a hook is skipped, whatever its kind or attributes -------------------

class TemplatedConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    template: str = ""
    project_dir: str = ""
    pip_url: str = ""


class Plain(BaseProvider):
    """Attributes named like the built-in providers' own, and no hook at all."""

    kind = "plain"
    Config: ClassVar[type[BaseModel]] = TemplatedConfig


class Orchestrators(Plain):
    kind = "orchestrators"


class Watching(Plain):
    kind = "watching"

    def watched_paths(self, stack: ResolvedStack, resource: Resource) -> list[tuple[str, str]]:
        return [("sources", "src")]


class Scheduling(Plain):
    kind = "scheduling"
    names: ClassVar[list[str]] = ["daily"]

    def pipeline_dependencies(self, stack: ResolvedStack, resource: Resource) -> list[str]:
        return self.names


REGISTRY = Registry(extra={"plain": Plain, "orchestrators": Orchestrators,
                           "watching": Watching, "scheduling": Scheduling})

STACK = """
[stack]
name = "s"

[plain.a]
template = "t.tmpl"
project_dir = "transform"
pip_url = "./plugin"

[orchestrators.o]

[watching.w]

[scheduling.s]

[pipelines.daily]
steps = ["plain.a"]
schedule = "@daily"
"""


def _resolved(tmp_path: Path, text: str = STACK) -> tuple[Any, ResolvedStack]:
    stack_file = parse_stack_text(textwrap.dedent(text), tmp_path / "stack.toml", REGISTRY)
    return stack_file, resolve(stack_file, None, REGISTRY, environ={})


def test_changed_since_asks_only_providers_that_watch(tmp_path: Path) -> None:
    (tmp_path / "plugin").mkdir()
    stack_file, stack = _resolved(tmp_path)
    changes: dict[Path, set[int] | None] = {
        tmp_path / name: WHOLE_FILE
        for name in ("t.tmpl", "transform/a.sql", "plugin/x.py", "src/y.py")}
    changed = blast_radius(stack_file, stack, REGISTRY, "main", None, tmp_path, changes)
    # plain.a's template, project_dir and pip_url mean nothing to core
    assert dict(changed.touched) == {"watching.w": ("sources changed: src/y.py",)}


def test_pipeline_dependencies_come_from_the_provider_only(tmp_path: Path) -> None:
    _, stack = _resolved(tmp_path)
    deps = resource_dependencies(stack)
    assert deps["scheduling.s"] == ("plain.a",)  # through pipelines.daily
    assert deps["orchestrators.o"] == ()  # a kind's name makes no edge
    assert stack.pipeline_dependencies == {"scheduling.s": ("daily",)}


def test_a_pipeline_the_stack_lacks_is_a_located_error(tmp_path: Path) -> None:
    Scheduling.names = ["nightly"]
    try:
        with pytest.raises(ConfigError) as info:
            _resolved(tmp_path)
    finally:
        Scheduling.names = ["daily"]
    [problem] = info.value.diagnostics
    assert problem.path == "scheduling.s"
    assert "pipelines the stack does not have: nightly" in problem.message
    line = textwrap.dedent(STACK).splitlines().index("[scheduling.s]") + 1
    assert problem.location is not None and problem.location.line == line


def test_the_orchestrator_depends_on_what_its_scheduled_pipelines_run(tmp_path: Path) -> None:
    from stackform.session import open_session

    write_stack(tmp_path, """
        [stack]
        name = "demo"

        [files.a]
        path = "out/a.txt"
        content = "a"

        [files.b]
        path = "out/b.txt"
        content = "b"

        [pipelines.daily]
        steps = ["a"]
        schedule = "0 6 * * *"

        [pipelines.adhoc]
        steps = ["b"]

        [orchestrators.airflow]
        dags_path = "dags"
        """)
    stack = open_session(tmp_path, None, None, strict_secrets=False).stack
    assert resource_dependencies(stack)["orchestrators.airflow"] == ("files.a",)


# -- provider options ------------------------------------------------------------------------

FILES = """
[stack]
name = "demo"

[files.a]
path = "out/a.txt"
content = "a"
"""


@pytest.mark.slow
def test_provider_options_are_the_providers_and_refresh_catalog_still_works(
        sf: Runner, project: Path) -> None:
    write_stack(project, FILES)
    unknown = sf("plan", "--provider-option", "refresh_catalogue")
    assert unknown.code == 1, unknown
    assert "no installed provider takes the option 'refresh_catalogue'" in unknown.stderr
    assert "refresh_catalog" in unknown.stderr.split("options the providers take:")[1]

    no_refresh = sf("plan", "--refresh-catalog", "--refresh=false")
    assert no_refresh.code == 1, no_refresh
    assert ("the option refresh_catalog of the extractors provider needs refreshing; drop "
            "--refresh=false") in no_refresh.stderr

    # Declared by the Singer extractors, so accepted (as always) even by a stack without one;
    # a saved plan records it, and the apply must state it, in either spelling.
    saved = sf("plan", "--refresh-catalog", "-o", "p.sfplan")
    assert saved.code == 0, saved
    assert "stackform apply --provider-option refresh_catalog p.sfplan" in saved.stderr
    refused = sf("apply", "p.sfplan")
    assert refused.code == 1, refused
    assert ("the saved plan was made with --provider-option refresh_catalog, but the apply "
            "command states none") in refused.stderr
    assert sf("apply", "--provider-option", "refresh_catalog", "p.sfplan").code == 0
    again = sf("plan", "--provider-option", "refresh_catalog", "-o", "q.sfplan")
    assert again.code == 0, again
    applied = sf("apply", "--refresh-catalog", "q.sfplan")
    assert applied.code == 0, applied


# -- blocks that name other blocks, and values one block offers another -----------------------

class Offering(Plain):
    kind = "offering"
    exported_fields: ClassVar[frozenset[str]] = frozenset({"schema"})
    offered: ClassVar[dict[str, str]] = {"schema": "analytics_dev"}

    def exports(self, stack: ResolvedStack, resource: Resource) -> dict[str, str]:
        return dict(self.offered)


class Following(Plain):
    kind = "following"
    computed_fields: ClassVar[frozenset[str]] = frozenset({"schema_seen"})
    needs: ClassVar[list[str]] = ["offering.o"]

    def block_dependencies(self, stack: ResolvedStack, resource: Resource) -> list[str]:
        return self.needs

    def computed_attributes(self, stack: ResolvedStack, resource: Resource) -> dict[str, str]:
        return {"schema_seen": stack.exports["offering.o"]["schema"]}


LINKED = Registry(extra={"offering": Offering, "following": Following})
LINKED_STACK = """
[stack]
name = "s"

[following.f]

[offering.o]
"""


def _linked(tmp_path: Path) -> ResolvedStack:
    stack_file = parse_stack_text(textwrap.dedent(LINKED_STACK), tmp_path / "stack.toml", LINKED)
    return resolve(stack_file, None, LINKED, environ={})


def test_a_block_depends_on_the_blocks_its_provider_names_and_reads_their_exports(
        tmp_path: Path) -> None:
    stack = _linked(tmp_path)
    assert stack.block_dependencies == {"following.f": ("offering.o",)}
    assert resource_dependencies(stack)["following.f"] == ("offering.o",)
    assert stack.exports == {"offering.o": {"schema": "analytics_dev"}}
    assert stack.resources["following.f"].attributes["schema_seen"] == "analytics_dev"


@pytest.mark.parametrize(("what", "message"), [
    ("needs", "following.f depends on blocks the stack does not have: offering.gone"),
    ("offered", "provider offering exports other, which it does not declare in exported_fields"),
])
def test_a_wrong_dependency_or_export_is_a_located_error(tmp_path: Path, what: str,
                                                         message: str) -> None:
    owner, broken = ((Following, ["offering.gone"]) if what == "needs"
                     else (Offering, {"other": "x"}))
    saved = getattr(owner, what)
    setattr(owner, what, broken)
    try:
        with pytest.raises(ConfigError) as info:
            _linked(tmp_path)
    finally:
        setattr(owner, what, saved)
    [problem] = info.value.diagnostics
    assert message in problem.message
    block = "[following.f]" if what == "needs" else "[offering.o]"
    line = textwrap.dedent(LINKED_STACK).splitlines().index(block) + 1
    assert problem.location is not None and problem.location.line == line
