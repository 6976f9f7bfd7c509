"""The interface every provider implements, and what core hands it.

A provider owns one kind of block (``files``, ``extractors``...). Core knows only this module:
it never imports a provider by name, and knows no provider's specifics. Every provider has the
:class:`Provider` interface; whatever more it can do is an optional capability, a protocol of its
own (:data:`CAPABILITIES`) core asks about with ``isinstance``. Providers are registered under
the ``stackform.providers`` entry-point group and checked when they are loaded (see
:mod:`stackform.registry` and :mod:`stackform.provider_checks`); the built-in ones the same way.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Generic,
    Protocol,
    TypeVar,
    cast,
    runtime_checkable,
)

from stackform.diagnostics import Locator, no_location
from stackform.provider_settings import DeclaresSettings
from stackform.provider_steps import ChainsSteps, ChecksStepCommands, TakesProcessEnv
from stackform.resource import Fingerprinter, KeyPath, Resource, ResourceState

if TYPE_CHECKING:
    from pydantic import BaseModel

    from stackform.config.model import ResolvedStack, Step
    from stackform.diagnostics import Diagnostic, Severity
    from stackform.runs.model import StepOutcome

Outputs = dict[str, Any]


@dataclass(frozen=True)
class Context:
    """What a provider may know and use while it works on one environment."""

    env: str
    stack_name: str
    stack_dir: Path
    work_dir: Path
    """A folder of this stack's environment's own (``.stackform/envs/<stack>/<env>``) for
    rendered files."""
    fingerprint: Fingerprinter
    log: Callable[[str], None] = lambda _message: None
    cancel: threading.Event = field(default_factory=threading.Event)
    options: Mapping[str, Any] = field(default_factory=dict)
    locate: Locator = no_location
    warn: Callable[[Diagnostic], None] = lambda _diagnostic: None
    """Report a warning about the resource being applied: apply shows it in its report (a
    ``create``/``update`` that finds something the user must know, short of failing)."""

    def resolve_path(self, path: str | Path) -> Path:
        """A path from the stack file, relative to the stack's folder."""
        return Path(stack_path(self.stack_dir, path))

    def diagnostic(self, address: str, path: KeyPath, message: str, *,
                   hint: str | None = None, severity: Severity = "error",
                   key: bool = False) -> Diagnostic:
        """A diagnostic about ``path`` inside the block of ``address``, located where the stack
        file writes it (like :meth:`StackFile.diagnostic`, from a provider)."""
        from stackform.diagnostics import Diagnostic
        from stackform.resource import format_path

        kind, _, name = address.partition(".")
        return Diagnostic(message, path=format_path((kind, name, *path)),
                          location=self.locate(address, path, key), hint=hint,
                          severity=severity)


def make_context(
    stack: ResolvedStack,
    fingerprint: Fingerprinter,
    log: Callable[[str], None] = lambda _m: None,
    options: Mapping[str, Any] | None = None,
) -> Context:
    """The context providers work in for ``stack``'s environment."""
    return Context(
        env=stack.env,
        stack_name=stack.name,
        stack_dir=stack.dir,
        work_dir=stack.dir / ".stackform" / "envs" / stack.name / stack.env,
        fingerprint=fingerprint,
        log=log,
        options=dict(options or {}),
        locate=stack.locate,
    )


def stack_path(stack_dir: str | Path, path: str | Path) -> str:
    """A path written in the stack file: ``~`` expanded, relative to the stack's folder.

    A string: what a path becomes is needed for every block of a large stack, and building
    ``Path`` objects costs more than the rest."""
    return os.path.join(stack_dir, os.path.expanduser(path))


@dataclass(frozen=True)
class Unapplied:
    """Files a resource is built from, beyond its block, that changed since its last apply (a
    dbt project's SQL and YAML): see :meth:`ChecksUnapplied.unapplied`."""

    what: str
    """What they are, for messages: ``"dbt project files"``."""
    paths: tuple[str, ...]
    """The changed, added and removed files, relative to the stack's folder, sorted."""

    SHOWN: ClassVar[int] = 5

    def listed(self) -> str:
        """``transform/models/a.sql, transform/models/b.sql and 3 more``."""
        shown = ", ".join(self.paths[:self.SHOWN])
        more = len(self.paths) - self.SHOWN
        return shown + (f" and {more} more" if more > 0 else "")


@runtime_checkable
class Provider(Protocol):
    """One kind of block: its schema, and how to read, create, update and delete it.

    What every provider has; :class:`BaseProvider` gives defaults for all but ``create``.
    Anything more is an optional capability, a protocol of its own below (:data:`CAPABILITIES`),
    that core asks about with ``isinstance`` before using it."""

    kind: ClassVar[str]
    Config: ClassVar[type[BaseModel]]
    force_new: ClassVar[frozenset[str]]
    """Top-level attributes whose change means replace rather than update in place."""
    sensitive_fields: ClassVar[frozenset[str]]
    """Top-level attributes always treated as sensitive, even when written literally."""

    def read(self, ctx: Context, prior: ResourceState) -> ResourceState | None:
        """The resource as it is now, or ``None`` when it is gone."""

    def create(self, ctx: Context, desired: Resource) -> Outputs: ...

    def update(self, ctx: Context, prior: ResourceState, desired: Resource) -> Outputs: ...

    def delete(self, ctx: Context, prior: ResourceState) -> None: ...

    def plan_notes(self, ctx: Context, prior: ResourceState | None, desired: Resource | None
                   ) -> list[str]:
        """Extra lines for the plan (selection changes, affected models...)."""


ConfigT = TypeVar("ConfigT", bound="BaseModel")
ModelT = TypeVar("ModelT", bound="BaseModel")


def typed_config(source: Resource | BaseModel, model: type[ModelT], who: str = "a provider"
                 ) -> ModelT:
    """``source``'s validated config (or ``source`` itself) as ``model``; anything else is a
    bug and a ``TypeError``. :meth:`BaseProvider.config_of` for code outside the provider
    class (a provider's run or check modules)."""
    config = source.config if isinstance(source, Resource) else source
    if not isinstance(config, model):
        raise TypeError(f"{who} got a {type(config).__name__} as its config, not its Config "
                        f"({model.__name__})")
    return config


class BaseProvider(Generic[ConfigT]):
    """Defaults for :class:`Provider` and nothing more: ``read`` trusts state, ``update``
    re-creates in place, ``delete`` and ``plan_notes`` do nothing; ``create`` is the
    provider's own. No optional capability is implemented here, so ``isinstance(provider,
    PlanChecker)`` is true only of a provider that checks its plans.

    Generic over the block's ``Config`` (``class MyProvider(BaseProvider[MyConfig])``, with
    ``Config = MyConfig``): :meth:`config_of` then gives a ``MyConfig``, and the registry
    refuses a provider whose ``Config`` is not one."""

    kind: ClassVar[str]
    Config: ClassVar[type[BaseModel]]
    force_new: ClassVar[frozenset[str]] = frozenset()
    sensitive_fields: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def config_of(cls, source: Resource | BaseModel) -> ConfigT:
        """A resource's validated ``Config`` (or that ``Config`` itself), typed as this
        provider's: core always hands a provider its own ``Config``, so anything else is a
        bug and a ``TypeError``."""
        return cast(ConfigT, typed_config(source, cls.Config, cls.__name__))

    def read(self, ctx: Context, prior: ResourceState) -> ResourceState | None:
        return prior

    def create(self, ctx: Context, desired: Resource) -> Outputs:
        raise NotImplementedError

    def update(self, ctx: Context, prior: ResourceState, desired: Resource) -> Outputs:
        return self.create(ctx, desired)

    def delete(self, ctx: Context, prior: ResourceState) -> None:
        return None

    def plan_notes(self, ctx: Context, prior: ResourceState | None, desired: Resource | None
                   ) -> list[str]:
        return []


# -- optional capabilities ----------------------------------------------------------------------
#
# Each is a protocol a provider implements when it has the capability; core asks
# ``isinstance(provider, X)`` (once per kind where it loops over blocks: a runtime protocol check
# costs more than a block) and leaves a provider without it alone. A provider may name them
# among its bases, so mypy checks its signatures; the registry checks them when it loads the
# provider either way (docs/providers.md).


@runtime_checkable
class PlanChecker(Protocol):
    """A provider that checks its blocks at every plan."""

    def plan_diagnostics(self, ctx: Context, prior: ResourceState | None,
                         desired: Resource) -> list[Diagnostic]:
        """Problems of the block found at every plan, whatever its action (a no-op too), from
        what the last apply recorded (an extractor's discovered catalog): warnings join the
        plan's warnings, an error stops the plan. Make them with :meth:`Context.diagnostic`.

        Keep it cheap (it runs for every resource of the kind at every plan) and free of
        changes; return the same findings for an unchanged world."""


@runtime_checkable
class ComputesAttributes(Protocol):
    """A provider deriving attributes from the whole stack."""

    computed_fields: ClassVar[frozenset[str]]
    """The attributes :meth:`computed_attributes` may return, never ``Config`` fields."""

    def computed_attributes(self, stack: ResolvedStack, resource: Resource
                            ) -> Mapping[str, Any]:
        """Attributes derived from the block *and the rest of the stack*, added to the desired
        attributes when the stack is resolved (Terraform's computed attributes).

        An orchestrator derives one entry per scheduled pipeline here, so the plan shows a
        schedule change as a change of the orchestrator. Keys must be in
        :attr:`computed_fields`. Called for every resolve, so keep it cheap and free of I/O;
        raise :class:`~stackform.errors.StackformError` for a problem the stack file must fix
        (it is reported at the block)."""


@runtime_checkable
class WritesLocalFiles(Protocol):
    """A provider whose blocks write local files."""

    def written_paths(self, config: BaseModel) -> Mapping[KeyPath, str]:
        """The local files a block writes, each by the key path (within the block) of the value
        that names it, as written in the stack (relative to the stack's folder, or absolute).

        Core refuses, at that key, a block that would write one of stackform's own files
        (see :mod:`stackform.ownfiles`). Called for every resolve with the validated
        ``Config``: keep it free of I/O."""


@runtime_checkable
class ChecksUnapplied(Protocol):
    """A provider whose resources are built from files beyond their block."""

    def unapplied(self, ctx: Context, prior: ResourceState, desired: Resource
                  ) -> Unapplied | None:
        """The files ``desired`` is built from, beyond its block, that changed since the apply
        that recorded ``prior``, or ``None`` when the recorded state is still what the stack
        wants.

        Those files are the desired side, like the stack file: the plan shows the resource as
        an update (never as drift), and ``stackform run`` refuses to run it in a protected
        environment and warns elsewhere. Called at plan for every resource whose attributes
        are unchanged, and by ``stackform run`` for every step: keep it cheap and
        deterministic."""


@runtime_checkable
class DeepValidator(Protocol):
    """A provider with a deeper check than its schema."""

    def validate_deep(self, ctx: Context, resource: Resource) -> list[Diagnostic] | None:
        """``stackform validate --deep``: check the resource with its real tool (an
        orchestrator imports its generated DAGs), changing nothing that is deployed.

        Return the problems found (an empty list when none), or ``None`` when this resource
        has no check beyond its schema."""


@runtime_checkable
class WatchesPaths(Protocol):
    """A provider whose resources are built from files beyond their block (a template, a dbt
    project, a plugin developed in the repository): ``plan --changed-since`` marks a resource
    touched when one of them changed."""

    def watched_paths(self, stack: ResolvedStack, resource: Resource
                      ) -> Sequence[tuple[str, str | Path]]:
        """``(what, path)`` for each file or folder ``resource`` is built from: ``what`` names
        it in the plan (``"template"``, ``"project_dir"``), ``path`` is absolute or relative
        to the stack's folder; a folder covers every file under it. Called only by
        ``plan --changed-since``, for every resource of the kind: no I/O beyond looking at
        paths, no changes."""


@runtime_checkable
class DependsOnPipelines(Protocol):
    """A provider whose resources depend on pipelines (an orchestrator on the pipelines it
    schedules): every resource those pipelines run is applied before it."""

    def pipeline_dependencies(self, stack: ResolvedStack, resource: Resource
                              ) -> Iterable[str]:
        """The names of the pipelines of ``stack`` that ``resource`` depends on. Called when
        the stack is resolved, for every block of the kind: keep it cheap and free of I/O."""


@runtime_checkable
class DependsOnBlocks(Protocol):
    """A provider whose resources depend on other blocks its settings name (a dashboard on its
    BI server's block): those are applied before it, as if named in ``depends_on``."""

    def block_dependencies(self, stack: ResolvedStack, resource: Resource) -> Iterable[str]:
        """The addresses (``kind.name``) of the blocks of ``stack`` that ``resource`` depends
        on. Called when the stack is resolved, for every block of the kind: keep it cheap and
        free of I/O; an address the stack has no block for is an error at the block."""


@runtime_checkable
class Exports(Protocol):
    """A provider whose blocks offer values to other providers' blocks (a dbt block: the schema
    it builds into in this environment), so that a provider never reads another's settings."""

    exported_fields: ClassVar[frozenset[str]]
    """The names :meth:`exports` may return."""

    def exports(self, stack: ResolvedStack, resource: Resource) -> Mapping[str, Any]:
        """Values of ``resource`` for other blocks, computed from its desired attributes and
        the stack (``stack.env``), before any provider's ``computed_attributes``: they read
        them as ``stack.exports[address][name]``. Keys must be in :attr:`exported_fields`. No
        I/O; raise :class:`~stackform.errors.StackformError` for a problem the stack file must
        fix (reported at the block)."""


@runtime_checkable
class Pulls(Protocol):
    """A provider whose objects people also edit in their own tool (a dashboard built in
    Superset): ``stackform pull`` writes what is deployed back into the files the block is
    built from, for review and commit."""

    def pull(self, ctx: Context, resource: Resource) -> Sequence[str]:
        """Write the deployed object of ``resource`` (in ``ctx.env``) back into the files it is
        built from, and say what changed, one line each (``wrote dashboards/<uuid>.yaml``).
        Never write a secret into those files, nor state: pulling changes only the
        repository. Raise :class:`~stackform.errors.StackformError` when the object cannot
        be read (not applied yet, server unreachable)."""


@dataclass(frozen=True)
class ProviderOption:
    """A switch a provider takes while planning (``stackform plan --provider-option NAME``):
    when given, ``ctx.options[name]`` is ``True`` for every provider call of that plan and of
    the apply of its saved plan."""

    name: str
    """An identifier (``refresh_catalog``)."""
    help: str
    """One line for the user: what it does."""
    needs_refresh: bool = False
    """It acts while refreshing (in ``read``): refused with ``--refresh=false``."""


@runtime_checkable
class TakesOptions(Protocol):
    """A provider with switches of its own for plan and apply (see :class:`ProviderOption`)."""

    provider_options: ClassVar[tuple[ProviderOption, ...]]


# -- running pipelines --------------------------------------------------------------------------


@dataclass(frozen=True)
class RunStep:
    """One step of a pipeline as a provider runs it: the desired resource (secrets included,
    in memory only), what the last apply recorded for it, and its provider."""

    step: Step
    resource: Resource
    state: ResourceState
    provider: Provider
    unapplied: Unapplied | None = None
    """Files the resource is built from that changed since its last apply: they run as they
    are now (only in an unprotected environment)."""


class Bookmarks(Protocol):
    """The run-state store's bookmarks of one environment, as a step may use them."""

    def get(self, key: str) -> Mapping[str, Any] | None: ...

    def put(self, key: str, value: Mapping[str, Any]) -> None:
        """Store durably before returning (called as soon as a loader confirms a state)."""


@dataclass(frozen=True)
class RunContext:
    """What a provider gets to run pipeline steps: its usual context and the run's services."""

    ctx: Context
    run_id: str
    pipeline: str
    bookmarks: Bookmarks
    log: Callable[[str], None]
    """Append a line to the run's log file (both plugins' stderr go there)."""
    say: Callable[[str], None] = lambda _m: None
    """A short progress line for the person or scheduler watching the run."""
    full_refresh: bool = False
    sample: int | None = None
    """``stackform test --sample N``: stop each stream after N records (a bounded test run)."""


@runtime_checkable
class StepRunner(Protocol):
    """A provider whose blocks can be pipeline steps (``stackform run``)."""

    def run_steps(self, run: RunContext, steps: Sequence[RunStep]) -> tuple[int, StepOutcome]:
        """Run ``steps[0]`` (and any following steps it consumes, as an extractor consumes its
        loader); return how many steps it consumed (at least 1) and what happened.

        ``steps`` are the pipeline's steps from this one to the last, in order. A failure is
        an outcome with ``status="failed"`` and an ``error`` (the run stops there), or a
        :class:`~stackform.errors.StackformError`; stop when ``run.ctx.cancel`` is set."""


CAPABILITIES: tuple[type, ...] = (
    PlanChecker, ComputesAttributes, WritesLocalFiles, DeclaresSettings, ChecksUnapplied,
    DeepValidator, WatchesPaths, DependsOnPipelines, DependsOnBlocks, Exports, Pulls,
    TakesOptions, StepRunner, ChainsSteps, TakesProcessEnv, ChecksStepCommands,
)
"""Every optional capability core asks providers about (docs/providers.md lists them); those of
pipeline chains and process environments live in :mod:`stackform.provider_steps`; those of
lineage are :data:`stackform.provider_lineage.LINEAGE_CAPABILITIES`."""
