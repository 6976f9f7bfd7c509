"""A stack resolved for one environment: what the plan compares with state."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackform.diagnostics import Diagnostic, Locator, no_location
from stackform.resource import Fingerprinter, Resource


@dataclass(frozen=True)
class Step:
    """One pipeline step: the resource it runs and, for ``dbt:build --select x``, a command."""

    raw: str
    address: str
    command: str | None = None
    bookmark: str | None = None
    """For the step that starts a chain (an extractor): the key of the chain's bookmark
    (:mod:`stackform.config.chains`)."""
    chain: int | None = None
    """The index of the chain the step belongs to within its pipeline (None: a step of its
    own)."""


@dataclass(frozen=True)
class Pipeline:
    name: str
    steps: tuple[Step, ...]
    schedule: str | None = None
    depends_on: tuple[str, ...] = ()
    bookmark: str = "pipeline"
    """``"pipeline"``: each chain's bookmark is the pipeline's own; ``"shared"``: shared with
    every pipeline that runs the same extractor into the same loader."""

    @property
    def address(self) -> str:
        return f"pipelines.{self.name}"


@dataclass(frozen=True)
class EnvironmentSettings:
    """How an environment behaves (from ``[environments.NAME]``, defaults when undeclared)."""

    name: str
    """The declared name (``dev``)."""
    protected: bool = False
    per_developer: bool = False
    default: bool = False
    declared: bool = False
    branches: tuple[str, ...] = ()
    """fnmatch patterns of the branches a protected environment accepts applies from; empty
    means the repository's default branch."""


@dataclass(frozen=True)
class ResolvedStack:
    """Every desired resource of one environment, interpolated and validated."""

    name: str
    env: str
    """The effective environment name (``dev-alice`` for a per-developer ``dev``)."""
    file: Path
    dir: Path
    environment: EnvironmentSettings
    state: Mapping[str, Any]
    """The ``[state]`` table (backend and its settings), interpolated."""
    resources: Mapping[str, Resource]
    pipelines: Mapping[str, Pipeline] = field(default_factory=dict)
    warnings: tuple[Diagnostic, ...] = ()
    pipeline_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Resource address -> the names of the pipelines it depends on, as its provider says
    (:class:`~stackform.provider.DependsOnPipelines`: an orchestrator, the pipelines it
    schedules). Derived from the pipelines, so not part of the digest."""
    block_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Resource address -> the addresses of the blocks it depends on beyond ``depends_on``, as
    its provider says (:class:`~stackform.provider.DependsOnBlocks`). Derived, not digested."""
    exports: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Resource address -> the values it offers other blocks
    (:class:`~stackform.provider.Exports`), e.g. the schema a dbt block builds into."""
    locate: Locator = field(default=no_location, compare=False, repr=False)
    """Where a key path inside a resource's block is written (see
    :data:`stackform.diagnostics.Locator`): providers locate what they find at plan and apply."""

    def digest(self, fingerprint: Fingerprinter) -> str:
        """A hash of everything desired, with secrets as fingerprints: equal iff same stack."""
        doc = {
            "name": self.name,
            "env": self.env,
            "resources": {
                a: {"kind": r.kind, "attributes": r.masked(fingerprint),
                    "depends_on": list(r.depends_on)}
                for a, r in sorted(self.resources.items())
            },
            "pipelines": {
                n: {"steps": [s.raw for s in p.steps], "schedule": p.schedule,
                    "depends_on": list(p.depends_on),
                    # Only when set: digests of stacks that do not use it stay the same.
                    **({"bookmark": p.bookmark} if p.bookmark != "pipeline" else {})}
                for n, p in sorted(self.pipelines.items())
            },
        }
        canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str)
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
