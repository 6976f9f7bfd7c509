"""A block as the stack wants it in one environment: the block it ``extends`` (itself resolved
the same way), the block's own keys over it, then the environment's override.

``extends = "extractors.tap-base"`` (or the bare ``"tap-base"``) names a block of the same kind;
chains are allowed, cycles are errors. Tables merge key by key and anything else is replaced
(:func:`~stackform.config.merge.deep_merge`, the rule of environment overrides), so a child
writes only what differs. ``abstract = true`` marks a block that is only a base: it is never a
resource (not applied, not installed, not a step). Both keys belong to core, like
``depends_on``; every merged value keeps where it is written, so a diagnostic about an inherited
value points at the base's line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stackform.config.loader import StackFile
from stackform.config.merge import deep_merge
from stackform.config.validation import describe
from stackform.diagnostics import Diagnostic, Diagnostics, did_you_mean
from stackform.resource import KeyPath, format_path

EXTENDS = "extends"
ABSTRACT = "abstract"
CORE_BLOCK_KEYS = (EXTENDS, ABSTRACT)
"""Keys of a provider block that core takes out before the provider sees the block."""

Merged = tuple[dict[str, Any], dict[KeyPath, KeyPath]]
"""A block's values and, for each value not written in the block itself, where it is written."""


def is_abstract(block: Mapping[str, Any]) -> bool:
    return block.get(ABSTRACT) is True


@dataclass
class BlockMerger:
    """Merges each block of one stack for one environment (once; bases are shared)."""

    stack_file: StackFile
    overrides: Mapping[str, Mapping[str, Any]]
    """The environment's ``override`` tables: kind -> name -> fields."""
    env_name: str
    diags: Diagnostics
    _done: dict[tuple[str, str], Merged | None] = field(default_factory=dict)
    _open: list[tuple[str, str]] = field(default_factory=list)

    def merged(self, kind: str, name: str) -> Merged | None:
        """The block with its bases and the environment's override merged in, or None when
        its ``extends`` is wrong (a located diagnostic, once)."""
        key = (kind, name)
        if key not in self._done:
            self._open.append(key)
            try:
                self._done[key] = self._merge(kind, name)
            finally:
                self._open.pop()
        return self._done[key]

    def _merge(self, kind: str, name: str) -> Merged | None:
        raw = self.stack_file.blocks[kind][name]
        self._check_abstract(kind, name, raw)
        own = {k: v for k, v in raw.items() if k not in CORE_BLOCK_KEYS}
        value: dict[str, Any] = own
        origins: dict[KeyPath, KeyPath] = {}
        if EXTENDS in raw:
            base_name = self._target(kind, name, raw[EXTENDS])
            if base_name is None:
                return None
            base = self.merged(kind, base_name)
            if base is None:
                return None  # the base's own problem is reported at the base
            base_value, base_origins = base
            origins = {(k,): (kind, base_name, k) for k in base_value}
            origins.update(base_origins)
            value = deep_merge(base_value, own, (), (kind, name), origins)
        override = self.overrides.get(kind, {}).get(name)
        if override:
            value = deep_merge(value, override, (),
                               ("environments", self.env_name, "override", kind, name), origins)
        return value, origins

    def _target(self, kind: str, name: str, ref: Any) -> str | None:
        """The name of the block ``ref`` names, or None (a diagnostic at ``extends``)."""
        path: KeyPath = (kind, name, EXTENDS)
        named = self.stack_file.blocks[kind]
        if not isinstance(ref, str):
            self._problem(f"expected a block address such as \"{kind}.base\", got "
                          f"{describe(ref)}", path)
            return None
        ref_kind, dot, base = ref.partition(".")
        if not dot:
            ref_kind, base = kind, ref
        if ref_kind != kind:
            self._problem(f"extends '{ref}', a block of another kind: a {kind} block can only "
                          f"extend a {kind} block", path,
                          hint=f"name one of [{kind}.*], e.g. \"{kind}.NAME\"")
            return None
        if base not in named:
            self._problem(f"extends unknown block '{kind}.{base}'", path,
                          hint=did_you_mean(base, [n for n in named if n != name]))
            return None
        if (kind, base) in self._open:
            cycle = [n for k, n in self._open[self._open.index((kind, base)):]]
            chain = " -> ".join(f"{kind}.{n}" for n in [*cycle, base])
            self._problem(f"extends makes a cycle: {chain}", path,
                          hint="a block cannot inherit from itself, even through others")
            return None
        return base

    def _check_abstract(self, kind: str, name: str, raw: Mapping[str, Any]) -> None:
        if ABSTRACT in raw and not isinstance(raw[ABSTRACT], bool):
            self._problem(f"expected true or false, got {describe(raw[ABSTRACT])}",
                          (kind, name, ABSTRACT), hint="abstract = true marks a block that "
                          "is only a base for `extends`")

    def _problem(self, message: str, path: KeyPath, hint: str | None = None) -> None:
        self.diags.add(Diagnostic(message, path=format_path(path),
                                  location=self.stack_file.location(path), hint=hint))
