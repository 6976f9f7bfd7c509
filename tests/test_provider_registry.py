"""Providers are checked once, when the registry loads them: a broken package is refused with its
name and what is wrong, and an optional capability a provider does not implement is one core
never asks of it (``BaseProvider`` pre-implements none)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, ConfigDict

from stackform.errors import ProviderLoadError
from stackform.inspection import CONNECTOR_CAPABILITIES
from stackform.provider import (
    CAPABILITIES,
    BaseProvider,
    Context,
)
from stackform.provider_lineage import LINEAGE_CAPABILITIES
from stackform.registry import Registry
from stackform.resource import Resource
from tests.cli_helpers import Runner, write_stack

PACKAGE = "stackform-broken-providers"
ALL = (*CAPABILITIES, *CONNECTOR_CAPABILITIES, *LINEAGE_CAPABILITIES)

BROKEN = '''
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from stackform.provider import BaseProvider


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: str = ""


class Other(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WrongKind(BaseProvider[Settings]):
    kind: ClassVar[str] = "other"
    Config: ClassVar[type[BaseModel]] = Settings


class NoModel(BaseProvider[Settings]):
    kind: ClassVar[str] = "nomodel"
    Config = dict


class BadRead(BaseProvider[Settings]):
    kind: ClassVar[str] = "badread"
    Config: ClassVar[type[BaseModel]] = Settings

    def read(self, ctx):
        return None


class HalfComputed(BaseProvider[Settings]):
    kind: ClassVar[str] = "halfcomputed"
    Config: ClassVar[type[BaseModel]] = Settings
    computed_fields: ClassVar[frozenset[str]] = frozenset({"extra"})


class ForeignConfig(BaseProvider[Settings]):
    kind: ClassVar[str] = "foreign"
    Config: ClassVar[type[BaseModel]] = Other


class Explodes(BaseProvider[Settings]):
    kind: ClassVar[str] = "explodes"
    Config: ClassVar[type[BaseModel]] = Settings

    def __init__(self):
        raise RuntimeError("no licence key")


not_a_class = WrongKind()
'''

ENTRY_POINTS = {
    "wrongkind": "WrongKind",
    "nomodel": "NoModel",
    "badread": "BadRead",
    "halfcomputed": "HalfComputed",
    "foreign": "ForeignConfig",
    "explodes": "Explodes",
    "notaclass": "not_a_class",
}


def _site(root: Path) -> Path:
    """A folder on sys.path holding a real distribution: its module and its dist-info, with
    entry points in the ``stackform.providers`` group like any installed provider's."""
    site = root / "site"
    (site / "broken_providers").mkdir(parents=True)
    (site / "broken_providers" / "__init__.py").write_text(BROKEN)
    info = site / "stackform_broken_providers-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {PACKAGE}\nVersion: 0.1.0\n")
    lines = [f"{kind} = broken_providers:{attr}" for kind, attr in ENTRY_POINTS.items()]
    lines.append("importfails = broken_providers_missing:Provider")
    (info / "entry_points.txt").write_text("[stackform.providers]\n" + "\n".join(lines) + "\n")
    return site


@pytest.fixture
def broken_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    site = _site(tmp_path)
    monkeypatch.syspath_prepend(str(site))
    Registry.entry_points_by_kind.cache_clear()
    yield site
    Registry.entry_points_by_kind.cache_clear()


@pytest.mark.parametrize(("kind", "what"), [
    ("wrongkind", "is not a usable provider: its kind is 'other', not 'wrongkind'"),
    ("nomodel", "is not a usable provider: its Config is not a pydantic model"),
    ("badread", "is not a usable provider: its read does not take (ctx, prior)"),
    ("halfcomputed", "is not a usable provider: it has computed_fields but not "
                     "computed_attributes, which ComputesAttributes needs too"),
    ("foreign", "is not a usable provider: its Config is Other, not the Settings of "
                "BaseProvider[Settings]"),
    ("explodes", "cannot be created: RuntimeError: no licence key"),
    ("notaclass", "is not a usable provider: it is a WrongKind, not a class"),
    ("importfails", "cannot be loaded: ModuleNotFoundError: No module named "
                    "'broken_providers_missing'"),
])
def test_a_broken_entry_point_is_refused_naming_its_package(broken_site: Path, kind: str,
                                                            what: str) -> None:
    registry = Registry()
    assert kind in registry.kinds()  # listing reads metadata only: nothing is refused yet
    with pytest.raises(ProviderLoadError) as info:
        registry.get(kind)
    error = info.value
    assert error.reason.startswith(f"the provider of kind '{kind}' in package {PACKAGE} "
                                   "(broken_provider")
    assert what in error.reason
    assert error.hint == (f"a fault of {PACKAGE}, not of the stack: upgrade or reinstall it, "
                          f"or uninstall it if no stack uses the kind '{kind}'")


def test_every_problem_is_named_at_once() -> None:
    class Many(BaseProvider[Any]):
        kind: ClassVar[str] = "wrong"
        Config = dict

    with pytest.raises(ProviderLoadError) as info:
        Registry(extra={"many": Many}).get("many")
    module = Many.__module__  # the test module, as pytest imported it
    assert info.value.reason == (
        f"the provider of kind 'many' in package {module.split('.')[0]} ({module}:"
        "test_every_problem_is_named_at_once.<locals>.Many, registered in-process) is not a "
        "usable provider: its kind is 'wrong', not 'many'; its Config is not a pydantic model")


@pytest.mark.slow
def test_the_stack_that_uses_a_broken_provider_is_told_where(sf: Runner, project: Path,
                                                             broken_site: Path) -> None:
    write_stack(project, """
        [stack]
        name = "demo"

        [files.a]
        path = "out/a.txt"
        content = "a"

        [wrongkind.x]
        value = "v"
        """)
    result = sf("validate", env={"PYTHONPATH": str(broken_site)})
    assert result.code == 1, result
    assert (f"stack.toml:8:1: error: wrongkind: the provider of kind 'wrongkind' in package "
            f"{PACKAGE} (broken_providers:WrongKind) is not a usable provider: its kind is "
            "'other', not 'wrongkind'") in result.stderr, result
    assert f"hint: a fault of {PACKAGE}, not of the stack" in result.stderr
    assert "Traceback" not in result.output
    # a stack that does not use the kind never loads it
    write_stack(project, '[stack]\nname = "demo"\n[files.a]\npath = "out/a.txt"\n'
                         'content = "a"\n')
    assert sf("validate", env={"PYTHONPATH": str(broken_site)}).code == 0


# -- optional capabilities -------------------------------------------------------------------

class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: str = ""


class Minimal(BaseProvider[Settings]):
    kind: ClassVar[str] = "minimal"
    Config: ClassVar[type[BaseModel]] = Settings


def test_base_provider_implements_no_optional_capability() -> None:
    provider = Registry(extra={"minimal": Minimal}).get("minimal")
    assert [c.__name__ for c in ALL if isinstance(provider, c)] == []


def test_built_in_providers_declare_what_they_do_and_nothing_else() -> None:
    registry = Registry()

    def capabilities(kind: str) -> set[str]:
        return {c.__name__ for c in ALL if isinstance(registry.get(kind), c)}

    assert capabilities("files") == {"WritesLocalFiles", "WatchesPaths"}
    assert capabilities("loaders") == {"WatchesPaths", "ProvidesLineage", "ChainsSteps",
                                       "TakesProcessEnv", "Invokes", "ConfirmsLineage",
                                       "DeclaresSettings", "PlanChecker"}
    assert capabilities("mappers") == {"WatchesPaths", "ChainsSteps", "TakesProcessEnv",
                                       "Invokes", "DeclaresSettings"}
    assert capabilities("extractors") == {"WatchesPaths", "PlanChecker", "StepRunner",
                                          "TakesOptions", "ProvidesLineage", "ChainsSteps",
                                          "TakesProcessEnv", "Invokes", "ListsCatalog",
                                          "DiscoversSource", "DeclaresSettings"}
    assert capabilities("transformers") == {"WatchesPaths", "ChecksUnapplied", "StepRunner",
                                            "Exports", "ProvidesLineage", "TakesProcessEnv",
                                            "Invokes"}
    assert capabilities("utilities") == {"WatchesPaths", "StepRunner", "TakesProcessEnv",
                                         "ChecksStepCommands", "Invokes"}
    assert capabilities("orchestrators") == {"WatchesPaths", "ComputesAttributes",
                                             "DependsOnPipelines", "DeepValidator"}
    assert capabilities("bi") == {"WatchesPaths", "ComputesAttributes", "DeepValidator",
                                  "DependsOnBlocks"}
    assert capabilities("dashboards") == {"WatchesPaths", "ComputesAttributes",
                                          "ChecksUnapplied", "DeepValidator", "DependsOnBlocks",
                                          "Pulls", "ProvidesLineage"}


def test_a_capability_a_provider_lacks_is_never_asked(tmp_path: Path) -> None:
    from stackform.config.loader import parse_stack_text
    from stackform.config.resolve import resolve
    from stackform.deepcheck import deep_check
    from stackform.diagnostics import Diagnostic

    class Checked(Minimal):
        kind: ClassVar[str] = "checked"

        def validate_deep(self, ctx: Context, resource: Resource) -> list[Diagnostic] | None:
            return [Diagnostic("looked deeply", severity="warning")]

    registry = Registry(extra={"minimal": Minimal, "checked": Checked})
    text = '[stack]\nname = "s"\n[minimal.a]\nvalue = "1"\n[checked.b]\nvalue = "2"\n'
    stack_file = parse_stack_text(text, tmp_path / "stack.toml", registry)
    stack = resolve(stack_file, None, registry, environ={})
    report = deep_check([stack], registry, stack_file)
    assert report.checked == ("checked.b (dev)",)
    assert [d.message for d in report.diagnostics] == ["looked deeply"]


def test_config_of_is_the_typed_config() -> None:
    config = Settings(value="x")
    resource = Resource("minimal.a", "minimal", "a", config, config.model_dump(mode="json"))
    assert Minimal.config_of(resource) is config
    assert Minimal.config_of(config) is config

    class Foreign(BaseModel):
        pass

    with pytest.raises(TypeError, match=r"Minimal got a Foreign as its config, not its "
                                        r"Config \(Settings\)"):
        Minimal.config_of(Foreign())
