"""What the steps of one import share: the project read, the stack being built, the report."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from stackform.importers.meltano.interpolation import Interpolator
from stackform.importers.meltano.read import Project, YMap
from stackform.importers.meltano.report import Report

_BLOCK_BAD = re.compile(r"[^A-Za-z0-9_-]+")


def block_name(name: str) -> str:
    """A stackform block, pipeline or var name for a Meltano name (``tap.x`` -> ``tap-x``)."""
    out = _BLOCK_BAD.sub("-", name).strip("-") or "unnamed"
    return out if re.match(r"[A-Za-z_]", out) else f"_{out}"


@dataclass
class Block:
    """One stack block made from a Meltano plugin (a mapper gives one per mapping)."""

    kind: str
    name: str
    plugin: YMap
    step: str = ""
    """The name Meltano's jobs use for it: the plugin's, or the mapping's for a mapper."""
    mapping: YMap | None = None

    @property
    def address(self) -> str:
        return f"{self.kind}.{self.name}"


@dataclass
class Context:
    """The state of one import."""

    project: Project
    report: Report = field(default_factory=Report)
    interp: Interpolator = field(init=False)
    stack: dict[str, Any] = field(default_factory=dict)
    comments: dict[tuple[str, ...], list[str]] = field(default_factory=dict)
    """Comment lines to put above a table, by its key path (``("extractors", "tap-x")``)."""
    blocks: dict[str, list[Block]] = field(default_factory=dict)
    """Meltano step name -> the blocks it stands for (several for a name used by two kinds)."""
    plugins: dict[tuple[str, str], list[Block]] = field(default_factory=dict)
    """(Meltano kind, plugin name) -> its blocks."""
    sensitive: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    """(Meltano kind, plugin name) -> the names of its sensitive settings."""
    parents: set[str] = field(default_factory=set)
    """Addresses of blocks another block extends."""

    def __post_init__(self) -> None:
        self.interp = Interpolator(self.report)

    def table(self, *path: str) -> dict[str, Any]:
        """The table at ``path`` of the stack being built, made on first use."""
        node = self.stack
        for key in path:
            node = node.setdefault(key, {})
        return node

    def comment(self, path: tuple[str, ...], lines: list[str]) -> None:
        if lines:
            self.comments.setdefault(path, []).extend(lines)

    def step_address(self, block: Block) -> str:
        """How a pipeline step names a block: its bare name unless another kind uses it."""
        same = [b for bs in self.blocks.values() for b in bs if b.name == block.name]
        return block.name if len({b.kind for b in same}) <= 1 else block.address
