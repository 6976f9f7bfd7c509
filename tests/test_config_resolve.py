"""Tests for resolving a stack file for one environment (stackform.config.resolve)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field

from stackform.config.loader import parse_stack_text
from stackform.config.model import ResolvedStack
from stackform.config.resolve import resolve
from stackform.diagnostics import Diagnostic
from stackform.errors import ConfigError, SecretError, StackformError
from stackform.provider import BaseProvider
from stackform.registry import Registry


class FilesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str
    content: str = ""
    mode: int = 0o644
    tags: list[str] = Field(default_factory=list)


class FilesProvider(BaseProvider):
    kind = "files"
    Config: ClassVar[type[BaseModel]] = FilesConfig


class LoaderSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str
    batch_size_rows: int = 1000
    schemas: list[str] = Field(default_factory=list)
    options: dict[str, Any] = Field(default_factory=dict)


class LoaderConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pip_url: str
    config: LoaderSettings
    password: str = ""


class LoadersProvider(BaseProvider):
    kind = "loaders"
    Config: ClassVar[type[BaseModel]] = LoaderConfig
    sensitive_fields = frozenset({"password"})


class TransformersProvider(BaseProvider):
    kind = "transformers"
    Config: ClassVar[type[BaseModel]] = FilesConfig


REGISTRY = Registry(extra={"files": FilesProvider, "loaders": LoadersProvider,
                           "transformers": TransformersProvider})


class FakeSecrets:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, name: str) -> str:
        if name not in self.values:
            raise SecretError(f"secret '{name}' is not set", hint=f"stackform secret set {name}")
        return self.values[name]


STACK = """\
[stack]
name = "jaffle"

[vars]
warehouse = "wh/${stack.env}.duckdb"
rows = 100
schemas = ["raw", "staging"]

[environments.dev]
per_developer = true
default = true

[environments.prod]
protected = true
vars = { warehouse = "/srv/prod.duckdb", rows = 50000 }

[environments.prod.override.loaders.warehouse.config]
schemas = ["prod_raw"]
options = { threads = 8 }

[environments.prod.override.loaders.warehouse]
pip_url = "target-duckdb==0.9"

[files.orders]
path = "data/orders.jsonl"
tags = ["a", "b"]

[loaders.warehouse]
pip_url = "target-duckdb==0.8"
password = "${secret.db_password}"
depends_on = ["files.orders"]

[loaders.warehouse.config]
path = "${var.warehouse}"
batch_size_rows = "${var.rows}"
schemas = "${var.schemas}"
options = { threads = 2, dsn = "duckdb://u:${secret.db_password}@x" }

[transformers.dbt]
path = "transform"

[pipelines.daily]
steps = ["orders", "warehouse", "dbt:build --select x", "transformers.dbt"]
schedule = "0 6 * * *"
depends_on = ["files.orders"]
"""


def parse(text: str, tmp_path: Path) -> Any:
    return parse_stack_text(text, tmp_path / "stack.toml", REGISTRY)


def run(text: str, tmp_path: Path, env: str | None = None, **kwargs: Any) -> ResolvedStack:
    kwargs.setdefault("secrets", FakeSecrets({"db_password": "hunter2"}))
    kwargs.setdefault("developer", "alice")
    kwargs.setdefault("environ", {})
    return resolve(parse(text, tmp_path), env, REGISTRY, **kwargs)


def problems(text: str, tmp_path: Path, env: str | None = None, **kwargs: Any
             ) -> list[Diagnostic]:
    with pytest.raises(ConfigError) as info:
        run(text, tmp_path, env, **kwargs)
    return list(info.value.diagnostics)


def at(d: Diagnostic) -> tuple[int, int]:
    assert d.location is not None
    return d.location.line, d.location.column


def test_default_per_developer_environment(tmp_path: Path) -> None:
    stack = run(STACK, tmp_path)
    assert stack.env == "dev-alice"
    assert stack.environment.name == "dev" and stack.environment.per_developer
    assert stack.name == "jaffle" and stack.dir == tmp_path
    assert stack.state == {"backend": "local"}
    wh = stack.resources["loaders.warehouse"]
    assert wh.attributes["config"]["path"] == "wh/dev-alice.duckdb"
    assert wh.attributes["config"]["batch_size_rows"] == 100
    assert wh.attributes["config"]["schemas"] == ["raw", "staging"]
    assert wh.depends_on == ("files.orders",)
    assert "depends_on" not in wh.attributes
    assert isinstance(wh.config, LoaderConfig)
    assert wh.sensitive == {("password",), ("config", "options", "dsn")}
    assert stack.resources["files.orders"].attributes == {
        "path": "data/orders.jsonl", "content": "", "mode": 0o644, "tags": ["a", "b"]}


def test_prod_overrides_and_vars(tmp_path: Path) -> None:
    stack = run(STACK, tmp_path, "prod")
    assert stack.env == "prod" and stack.environment.protected
    wh = stack.resources["loaders.warehouse"].attributes
    assert wh["pip_url"] == "target-duckdb==0.9"
    assert wh["config"]["path"] == "/srv/prod.duckdb"
    assert wh["config"]["batch_size_rows"] == 50000
    assert wh["config"]["schemas"] == ["prod_raw"]  # arrays are replaced
    assert wh["config"]["options"] == {"threads": 8, "dsn": "duckdb://u:hunter2@x"}


def test_explicit_developer_environment_name(tmp_path: Path) -> None:
    stack = run(STACK, tmp_path, "dev-bob")
    assert stack.env == "dev-bob" and stack.environment.name == "dev"


def test_pipelines(tmp_path: Path) -> None:
    daily = run(STACK, tmp_path).pipelines["daily"]
    assert [(s.address, s.command) for s in daily.steps] == [
        ("files.orders", None), ("loaders.warehouse", None),
        ("transformers.dbt", "build --select x"), ("transformers.dbt", None)]
    assert daily.steps[2].raw == "dbt:build --select x"
    assert daily.schedule == "0 6 * * *" and daily.depends_on == ("files.orders",)
    assert daily.address == "pipelines.daily"


def test_undeclared_environments_accept_any_name(tmp_path: Path) -> None:
    text = '[stack]\nname = "s"\n[files.a]\npath = "${stack.env}"\n'
    assert run(text, tmp_path).env == "dev"
    stack = run(text, tmp_path, "qa")
    assert stack.resources["files.a"].attributes["path"] == "qa"
    assert not stack.environment.declared


def test_unknown_environment(tmp_path: Path) -> None:
    [d] = problems(STACK, tmp_path, "prd")
    assert d.message == "unknown environment 'prd'"
    assert d.hint == "did you mean 'prod'?"
    assert at(d) == (9, 1)


def test_no_default_environment(tmp_path: Path) -> None:
    text = '[stack]\nname = "s"\n[environments.prod]\n'
    [d] = problems(text, tmp_path)
    assert "no --env given" in d.message and d.hint is not None and "prod" in d.hint


def test_provider_validation_errors_are_located(tmp_path: Path) -> None:
    text = """\
[stack]
name = "s"
[vars]
n = "many"
[files.a]
path = 3
colour = "red"
mode = "${var.n}"
[loaders.w]
pip_url = "x"
[loaders.w.config]
pth = "p"
"""
    found = {d.path: d for d in problems(text, tmp_path)}
    assert found["files.a.path"].message == "expected a string, got an integer"
    assert at(found["files.a.path"]) == (6, 8)
    assert found["files.a.colour"].message == "unknown key 'colour'"
    assert found["files.a.mode"].message == "expected an integer, got a string"
    assert at(found["files.a.mode"]) == (8, 8)
    assert found["loaders.w.config.pth"].message == "unknown key 'pth'"
    assert found["loaders.w.config.pth"].hint == "did you mean 'path'?"
    assert at(found["loaders.w.config.pth"]) == (12, 1)
    assert found["loaders.w.config.path"].message == "missing required key 'path'"
    assert at(found["loaders.w.config.path"]) == (11, 1)


def test_override_errors_point_at_the_override(tmp_path: Path) -> None:
    text = """\
[stack]
name = "s"
[environments.dev]
[environments.prod.override.files.a]
mode = "x"
[files.a]
path = "p"
"""
    [d] = problems(text, tmp_path, "prod")
    assert d.path == "files.a.mode"
    assert at(d) == (5, 8)
    assert run(text, tmp_path, "dev").resources["files.a"].attributes["mode"] == 0o644


def test_unknown_var_located_at_reference(tmp_path: Path) -> None:
    text = '[stack]\nname = "s"\n[vars]\nwarehouse = "w"\n[files.a]\npath = "${var.warehous}"\n'
    [d] = problems(text, tmp_path)
    assert (d.path, d.message, d.hint) == ("files.a.path", "unknown var 'warehous'",
                                          "did you mean 'warehouse'?")
    assert at(d) == (6, 8)


def test_var_cycle(tmp_path: Path) -> None:
    text = ('[stack]\nname = "s"\n[vars]\na = "${var.b}"\nb = "${var.a}"\n'
            '[files.x]\npath = "${var.a}"\n')
    [d] = problems(text, tmp_path)
    assert "cycle: a -> b -> a" in d.message
    assert at(d) == (4, 5)


def test_var_cycle_that_nothing_uses(tmp_path: Path) -> None:
    # docs/stack-file.md: a cycle between vars is an error, used or not
    text = ('[stack]\nname = "s"\n[vars]\nok = "o"\na = "${var.b}"\nb = "${var.a}"\n'
            '[environments.dev]\n[environments.prod.vars]\nc = "${var.c}"\n'
            '[files.x]\npath = "${var.ok}"\n')
    [d] = problems(text, tmp_path)
    assert (d.path, d.message) == ("vars.a", "vars refer to each other in a cycle: a -> b -> a")
    assert at(d) == (5, 5)
    found = problems(text, tmp_path, env="prod")
    assert [(d.path, at(d)) for d in found] == [("vars.a", (5, 5)),
                                               ("environments.prod.vars.c", (9, 5))]


def test_secrets_strict_and_lenient(tmp_path: Path) -> None:
    [d] = problems(STACK, tmp_path, secrets=FakeSecrets({}))
    assert d.message == "secret 'db_password' is not set"
    assert d.path == "loaders.warehouse.password"
    stack = run(STACK, tmp_path, secrets=None, strict_secrets=False)
    wh = stack.resources["loaders.warehouse"]
    assert wh.attributes["password"] == "<secret db_password>"
    assert ("password",) in wh.sensitive


def test_default_secret_store_reads_environment(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring.core
    from keyrings.alt.file import PlaintextKeyring

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    previous = keyring.core.get_keyring()
    keyring.core.set_keyring(PlaintextKeyring())
    try:
        stack = run(STACK, tmp_path, secrets=None,
                    environ={"STACKFORM_SECRET_DB_PASSWORD": "from-env"})
    finally:
        keyring.core.set_keyring(previous)
    assert stack.resources["loaders.warehouse"].attributes["password"] == "from-env"


def test_sensitive_fields_always_sensitive(tmp_path: Path) -> None:
    text = ('[stack]\nname = "s"\n[loaders.w]\npip_url = "x"\npassword = "literal"\n'
            '[loaders.w.config]\npath = "p"\n')
    assert run(text, tmp_path).resources["loaders.w"].sensitive == {("password",)}


def test_bad_references(tmp_path: Path) -> None:
    text = """\
[stack]
name = "s"
[files.dbt]
path = "a"
depends_on = ["files.dbx", "dbt", "files.dbt", 3]
[transformers.dbt]
path = "b"
depends_on = "files.dbt"
[files.orders]
path = "o"
depends_on = ["orders", "files.dbt"]
[pipelines.p]
steps = ["dbt", "ordrs", "orders:", "transformers.dbt:run"]
depends_on = ["q", "nope", "p"]
[pipelines.q]
steps = ["files.orders"]
"""
    found = [(d.path, d.message, d.hint) for d in problems(text, tmp_path)]
    assert found == [
        ("files.dbt.depends_on", "expected an array of block addresses, got an array",
         'e.g. depends_on = ["loaders.warehouse"]'),
        ("transformers.dbt.depends_on", "expected an array of block addresses, got a string",
         'e.g. depends_on = ["loaders.warehouse"]'),
        ("files.orders.depends_on[0]", "depends_on names unknown block 'orders'",
         "write the address: did you mean 'files.orders'?"),
        ("pipelines.p.steps[0]",
         "step 'dbt' is ambiguous: it names files.dbt, transformers.dbt",
         "write it as one of files.dbt, transformers.dbt"),
        ("pipelines.p.steps[1]", "unknown step 'ordrs'", "did you mean 'orders'?"),
        ("pipelines.p.steps[2]", "step 'orders:' has an empty command after ':'",
         "write 'orders' or 'orders:COMMAND'"),
        ("pipelines.p.depends_on[1]", "depends_on names unknown pipeline or block 'nope'",
         None),
        ("pipelines.p.depends_on[2]", "a pipeline cannot depend on itself", None),
    ]


def test_self_dependency(tmp_path: Path) -> None:
    text = '[stack]\nname = "s"\n[files.a]\npath = "a"\ndepends_on = ["files.a"]\n'
    [d] = problems(text, tmp_path)
    assert d.message == "a block cannot depend on itself" and at(d) == (5, 15)


def test_state_section_is_interpolated(tmp_path: Path) -> None:
    text = ('[stack]\nname = "s"\n[state]\nbackend = "s3"\nbucket = "b-${stack.env}"\n'
            'prefix = "${environ.PREFIX}"\n')
    stack = run(text, tmp_path, "qa", environ={"PREFIX": "team/"})
    assert stack.state == {"backend": "s3", "bucket": "b-qa", "prefix": "team/"}
    [d] = problems(text, tmp_path)
    assert d.path == "state.prefix" and d.message == "environment variable 'PREFIX' is not set"


def test_pipeline_schedule_interpolated(tmp_path: Path) -> None:
    text = ('[stack]\nname = "s"\n[vars]\ncron = "0 6 * * *"\n[files.a]\npath = "a"\n'
            '[pipelines.p]\nsteps = ["a"]\nschedule = "${var.cron}"\n')
    assert run(text, tmp_path).pipelines["p"].schedule == "0 6 * * *"


def test_digest_is_stable_and_hides_secrets(tmp_path: Path) -> None:
    from stackform.resource import fingerprinter

    fp = fingerprinter("lineage")
    a = run(STACK, tmp_path).digest(fp)
    assert a == run(STACK, tmp_path).digest(fp)
    assert a != run(STACK, tmp_path, secrets=FakeSecrets({"db_password": "other"})).digest(fp)


def test_thousand_blocks_resolve(tmp_path: Path) -> None:
    """A large stack resolves whole (its speed is measured by benchmarks/plan_noop.py)."""
    parts = ['[stack]\nname = "big"\n[vars]\nroot = "out"\n']
    for i in range(1000):
        parts.append(f'[files.f{i}]\npath = "${{var.root}}/f{i}.txt"\ncontent = "n {i}"\n'
                     f'tags = ["a", "b"]\n')
    text = "\n".join(parts)
    path = tmp_path / "stack.toml"
    path.write_text(text)
    from stackform.config.loader import load_stack_file

    stack = resolve(load_stack_file(path, REGISTRY), None, REGISTRY, environ={},
                    secrets=FakeSecrets({}))  # type: ignore[arg-type]
    assert len(stack.resources) == 1000
    assert stack.resources["files.f999"].attributes["path"] == "out/f999.txt"


# -- property: malformed stack files only ever give located ConfigErrors ---------------------

FRAGMENTS = [
    '[stack]\nname = "s"\n',
    '[stack]\nname = 5\n',
    '[stack]\nname = "s"\nrequires = ">=99"\n',
    '[stack]\nnme = "s"\n',
    "[state]\nbackend = 'ftp'\n",
    "[state]\nbucket = '${var.nope}'\n",
    "[vars]\na = '${var.b}'\nb = '${var.a}'\n",
    "[vars]\nx = 1\nt = { k = [1, 2] }\n",
    "[environments.prod]\ndefault = true\nvars = { x = '${secret.s}' }\n",
    "[environments.dev]\nper_developer = 'yes'\n",
    "[environments.dev]\noverride = { files = { a = { mode = 'x' } } }\n",
    "[environments.qa]\noverride.files.zz.path = 'p'\n",
    "[files.a]\npath = '${var.x}'\nmode = '${var.t}'\n",
    "[files.b]\npath = 3\n",
    "[files.c]\npath = '${environ.NOPE}'\ndepends_on = ['files.a', 'zz']\n",
    "[files.d]\npath = '${oops'\ncontent = '${secret.s} ${var.t}'\n",
    "[files]\ne = 1\n",
    "[transformers.a]\npath = 'x${stack.nme}'\n",
    "[loaders.w]\npip_url = 1\nconfig = 'x'\n",
    "[loaders.v]\npip_url = 'x'\nconfig = { path = '${var.t}', extra = 1 }\n",
    "[pipelines.p]\nsteps = ['a', 'nope:x', 'a:']\ndepends_on = ['q']\n",
    "[pipelines.q]\nsteps = []\n",
    "[pipelines.r]\nsteps = 'a'\n",
    "[unknown.x]\ny = 1\n",
    "junk = = 1\n",
    "[files.\"bad.name\"]\npath = 'x'\n",
    'x = """unterminated\n',
    "[files.a]\n",
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=8),
       st.sampled_from([None, "prod", "dev", "qa", "dev-x", "BAD NAME"]),
       st.booleans())
def test_malformed_stacks_only_give_located_config_errors(
    fragments: list[str], env: str | None, strict: bool
) -> None:
    text = "".join(fragments)
    path = Path("/nonexistent/stack.toml")
    try:
        sf = parse_stack_text(text, path, REGISTRY)
        resolve(sf, env, REGISTRY, environ={}, secrets=FakeSecrets({}),  # type: ignore[arg-type]
                strict_secrets=strict, developer="dev1")
    except ConfigError as exc:
        assert exc.diagnostics
        assert any(d.location is not None for d in exc.diagnostics)
        for d in exc.diagnostics:
            assert d.message
            if d.location is not None:
                assert d.location.line >= 1 and d.location.column >= 1
                assert d.location.line <= text.count("\n") + 1
    except StackformError:
        pass


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(STACK)), st.integers(0, 3),
                          st.text(st.sampled_from(list("[]{}=\"'.,#$\n x1")), max_size=3)),
                min_size=1, max_size=4),
       st.sampled_from([None, "prod", "dev-x"]))
def test_mutated_stack_only_gives_located_config_errors(
    edits: list[tuple[int, int, str]], env: str | None
) -> None:
    text = STACK
    for pos, cut, insert in edits:
        pos = min(pos, len(text))
        text = text[:pos] + insert + text[pos + cut:]
    try:
        sf = parse_stack_text(text, Path("/x/stack.toml"), REGISTRY)
        resolve(sf, env, REGISTRY, environ={}, secrets=FakeSecrets({}),  # type: ignore[arg-type]
                strict_secrets=False, developer="dev1")
    except ConfigError as exc:
        assert exc.diagnostics
        assert any(d.location is not None for d in exc.diagnostics)
    except StackformError:
        pass


@pytest.mark.parametrize(("schedule", "message"), [
    ("every day", "'every day' is not a cron expression: five fields"),
    ("0 6 * * * *", "is not a cron expression"),
    ("@dialy", "unknown schedule preset '@dialy'"),
])
def test_schedule_shape_is_checked_where_it_is_written(tmp_path: Path, schedule: str,
                                                       message: str) -> None:
    text = (f'[stack]\nname = "s"\n[vars]\ncron = "{schedule}"\n[files.a]\npath = "a"\n'
            '[pipelines.p]\nsteps = ["a"]\nschedule = "${var.cron}"\n')
    [d] = problems(text, tmp_path)
    assert d.path == "pipelines.p.schedule" and at(d) == (9, 12)
    assert message in d.message


def test_presets_and_an_empty_schedule(tmp_path: Path) -> None:
    base = '[stack]\nname = "s"\n[files.a]\npath = "a"\n[pipelines.p]\nsteps = ["a"]\n'
    assert run(base + 'schedule = "@daily"\n', tmp_path).pipelines["p"].schedule == "@daily"
    assert run(base + 'schedule = " "\n', tmp_path).pipelines["p"].schedule is None


class ScheduleCounter(BaseProvider):
    """Computes, from the whole stack, which pipelines are scheduled."""

    kind = "counters"
    Config: ClassVar[type[BaseModel]] = FilesConfig
    computed_fields = frozenset({"scheduled"})
    extra_key: ClassVar[str | None] = None

    def computed_attributes(self, stack: ResolvedStack, resource: Any) -> dict[str, Any]:
        if resource.attributes["path"] == "refuse":
            raise StackformError("this block cannot be scheduled", hint="do something")
        found = {"scheduled": sorted(p.name for p in stack.pipelines.values() if p.schedule)}
        return {**found, self.extra_key: 1} if self.extra_key else found


def test_computed_attributes_derive_from_the_whole_stack(tmp_path: Path) -> None:
    registry = Registry(extra={"files": FilesProvider, "counters": ScheduleCounter})
    text = ('[stack]\nname = "s"\n[files.a]\npath = "a"\n[counters.c]\npath = "{p}"\n'
            '[pipelines.p]\nsteps = ["a"]\nschedule = "0 6 * * *"\n[pipelines.q]\nsteps = ["a"]\n')
    def load(path: str, reg: Registry = registry) -> ResolvedStack:
        file = parse_stack_text(text.replace("{p}", path), tmp_path / "stack.toml", reg)
        return resolve(file, None, reg, environ={})

    stack = load("x")
    assert stack.resources["counters.c"].attributes == {
        "path": "x", "content": "", "mode": 0o644, "tags": [], "scheduled": ["p"]}
    with pytest.raises(ConfigError) as info:
        load("refuse")
    [d] = info.value.diagnostics
    assert (d.path, d.message, d.hint, at(d)) == (
        "counters.c", "this block cannot be scheduled", "do something", (5, 1))
    ScheduleCounter.extra_key = "content"  # a Config field: a provider bug
    try:
        with pytest.raises(StackformError, match="computed attributes content"):
            load("x", Registry(extra={"files": FilesProvider, "counters": ScheduleCounter}))
    finally:
        ScheduleCounter.extra_key = None


def test_providers_locate_keys_where_the_environment_writes_them(tmp_path: Path) -> None:
    lines = STACK.splitlines()

    def line_of(text: str) -> int:
        return next(i for i, line in enumerate(lines, 1) if line.startswith(text))

    prod, dev = run(STACK, tmp_path, "prod"), run(STACK, tmp_path, "dev")
    override = prod.locate("loaders.warehouse", ("config", "schemas"), False)
    assert override is not None and override.line == line_of('schemas = ["prod_raw"]')
    base = dev.locate("loaders.warehouse", ("config", "schemas"), False)
    assert base is not None and base.line == line_of('schemas = "${var.schemas}"')
    pip_url = prod.locate("loaders.warehouse", ("pip_url",), True)
    assert pip_url is not None and (pip_url.line, pip_url.column) == (
        line_of('pip_url = "target-duckdb==0.9"'), 1)
    # A key the block does not write: its nearest written ancestor, the block.
    missing = dev.locate("files.orders", ("mode",), False)
    assert missing is not None and missing.line == line_of("[files.orders]")
    assert dev.locate("files.nothing", ("path",), False) is None


# -- dependency cycles, located per environment (stackform.graph) ----------------------------

CYCLES = """\
[stack]
name = "s"
[environments.dev]
[environments.prod]
[files.a]
path = "a"
[files.b]
path = "b"
depends_on = ["files.a"]
[files.c]
path = "c"
[pipelines.p]
steps = ["c"]
[environments.prod.override.files.a]
depends_on = ["files.b"]
"""


def test_cycles_are_located_in_the_environment_that_makes_them(tmp_path: Path) -> None:
    from stackform.errors import GraphError
    from stackform.graph import checked_dependencies, located_cycle

    sf = parse(CYCLES, tmp_path)
    assert checked_dependencies(sf, resolve(sf, "dev", REGISTRY, environ={})) is not None
    with pytest.raises(ConfigError) as info:
        checked_dependencies(sf, resolve(sf, "prod", REGISTRY, environ={}))
    [d] = info.value.diagnostics
    assert (d.path, at(d)) == ("files.a.depends_on", (15, 14))
    assert d.message == "dependency cycle: files.b -> files.a -> files.b"
    # without an override, the first written depends_on or steps of the cycle
    [d] = located_cycle(sf, "dev", GraphError("x", cycle=("files.a", "files.b"))).diagnostics
    assert (d.path, at(d)) == ("files.b.depends_on", (9, 14))
    [d] = located_cycle(sf, "dev", GraphError("x", cycle=("files.c", "pipelines.p"))).diagnostics
    assert (d.path, at(d)) == ("pipelines.p.steps", (13, 9))
    # nothing written (a cycle through a schedule): the first block of the cycle
    [d] = located_cycle(sf, "dev", GraphError("x", cycle=("files.c",))).diagnostics
    assert (d.path, at(d)) == ("files.c", (10, 1))


# -- a secret may not be part of a file's name (stackform.config.filenames) ----------------------


@pytest.mark.parametrize(("field", "names"), [
    ("path", True), ("template", True), ("dags_path", True), ("project_dir", True),
    ("key_file", True), ("content", False), ("pathname", False), ("vars", False),
])
def test_which_fields_name_a_file(field: str, names: bool) -> None:
    from stackform.config.filenames import names_a_file

    assert names_a_file(field) is names


def test_a_secret_in_a_file_name_is_located_where_it_is_written(tmp_path: Path) -> None:
    text = ('[stack]\nname = "s"\n[vars]\nd = "out/${secret.db_password}"\n'
            '[state]\npath = "${var.d}"\n'
            '[files.a]\npath = "${var.d}/a"\ncontent = "${secret.db_password}"\n'
            '[files.b]\npath = "b"\n'
            '[loaders.w]\npip_url = "x"\npassword = "${secret.db_password}"\n'
            'config = { path = "${secret.db_password}" }\n'  # nested: not a file's name here
            '[environments.dev]\n[environments.prod.override.files.b]\n'
            'path = "${secret.db_password}"\n')
    for strict in (True, False):  # validate resolves without secrets: the same errors
        found = problems(text, tmp_path, env="prod", strict_secrets=strict)
        assert [(d.path, at(d)) for d in found] == [
            ("state.path", (6, 8)), ("files.a.path", (8, 8)), ("files.b.path", (18, 8))]
        assert all(d.message.startswith("names a file, so it may not hold a secret")
                   for d in found)
    assert "files.b" in run(text.replace("/${secret.db_password}", "").replace(
        '[state]\npath = "${var.d}"\n', ""), tmp_path).resources


def test_nesting_state_could_not_hold_is_a_located_error(tmp_path: Path) -> None:
    """What validates must be recordable: state refuses attributes deeper than the limit."""
    from stackform.limits import MAX_NESTING

    def stack(depth: int) -> str:
        value = '"x"'
        for _ in range(depth):
            value = "{ a = " + value + " }"
        return ('[stack]\nname = "s"\n[loaders.w]\npip_url = "x"\n'
                f'[loaders.w.config]\npath = "p"\noptions = {{ v = {value} }}\n')

    [problem] = problems(stack(MAX_NESTING + 5), tmp_path)
    assert "nest deeper than 64 levels" in problem.message
    assert problem.path.startswith("loaders.w.config.options.v.a.a")
    assert at(problem)[0] == 7
    fine = run(stack(MAX_NESTING - 5), tmp_path)
    from stackform.state.schema import check_document
    from stackform.testing.state_conformance import make_state

    doc = make_state().to_json()
    recorded = dict(fine.resources["loaders.w"].attributes)
    doc["resources"]["extractors.tap_0"]["attributes"] = recorded
    assert check_document(doc) is None


def test_stack_env_id_is_identifier_safe(tmp_path: Path) -> None:
    text = ('[stack]\nname = "s"\n[environments.dev]\nper_developer = true\n'
            '[files.a]\npath = "${stack.env}.txt"\ncontent = "raw_${stack.env_id}"\n')
    stack = run(text, tmp_path, developer="dana-o")
    assert stack.env == "dev-dana-o"
    assert stack.resources["files.a"].attributes["content"] == "raw_dev_dana_o"
