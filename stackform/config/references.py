"""References from one part of a stack to a block: ``kind.name``, or the bare ``name`` when only
one block has it. Pipeline steps and ``depends_on`` (of a block or a pipeline) use them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stackform.config.extends import is_abstract
from stackform.config.interpolate import Locator, Source
from stackform.config.loader import StackFile
from stackform.config.schema import DEPENDS_ON
from stackform.config.validation import describe
from stackform.diagnostics import Diagnostic, Diagnostics, did_you_mean
from stackform.resource import KeyPath, format_path


@dataclass(frozen=True)
class Addresses:
    """The blocks of a stack, by address and by bare name."""

    addresses: Mapping[str, tuple[str, str]]
    """address -> (kind, name)"""
    by_name: Mapping[str, list[str]]
    """bare name -> the addresses of the blocks that have it"""
    abstract: frozenset[str] = frozenset()
    """The addresses of ``abstract = true`` blocks: bases for ``extends``, never resources."""

    @classmethod
    def of(cls, stack_file: StackFile) -> Addresses:
        addresses: dict[str, tuple[str, str]] = {}
        abstract: set[str] = set()
        for kind, named in stack_file.blocks.items():
            for name, block in named.items():
                if is_abstract(block):
                    abstract.add(f"{kind}.{name}")
                else:
                    addresses[f"{kind}.{name}"] = (kind, name)
        by_name: dict[str, list[str]] = {}
        for address, (_, name) in addresses.items():
            by_name.setdefault(name, []).append(address)
        return cls(addresses, by_name, frozenset(abstract))

    def find(self, ref: str) -> tuple[str | None, str | None]:
        """A step or dependency reference -> (address, None) or (None, problem)."""
        base = next((a for a in self.abstract if ref in (a, a.partition(".")[2])), None)
        if base is not None and ref not in self.addresses and ref not in self.by_name:
            return None, f"'{ref}' is abstract (only a base for `extends`): it is never applied"
        if ref in self.addresses:
            return ref, None
        if "." not in ref and ref in self.by_name:
            matches = self.by_name[ref]
            if len(matches) == 1:
                return matches[0], None
            return None, f"'{ref}' is ambiguous: it names {', '.join(sorted(matches))}"
        return None, f"unknown block '{ref}'"


def block_depends_on(raw: Any, block_path: KeyPath, source: Source, blocks: Addresses,
                     diags: Diagnostics, locate: Locator) -> tuple[str, ...]:
    """A block's ``depends_on`` as addresses; each problem is added to ``diags``."""
    if raw is None:
        return ()
    rel: KeyPath = (DEPENDS_ON,)
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        diags.add(Diagnostic(
            f"expected an array of block addresses, got {describe(raw)}",
            path=format_path((*block_path, *rel)), location=locate(source(rel), False),
            hint='e.g. depends_on = ["loaders.warehouse"]',
        ))
        return ()
    out: list[str] = []
    own = ".".join(str(p) for p in block_path)
    for i, ref in enumerate(raw):
        item: KeyPath = (*rel, i)
        if ref in blocks.addresses:
            if ref == own:
                diags.add(Diagnostic("a block cannot depend on itself",
                                     path=format_path((*block_path, *item)),
                                     location=locate(source(item), False)))
            elif ref not in out:
                out.append(ref)
            continue
        address, problem = blocks.find(ref)
        hint = (f"write the address: did you mean '{address}'?" if address
                else did_you_mean(ref, blocks.addresses))
        if problem and "abstract" in problem:
            diags.add(Diagnostic(f"depends_on {problem}", path=format_path((*block_path, *item)),
                                 location=locate(source(item), False),
                                 hint="depend on the blocks that extend it"))
            continue
        diags.add(Diagnostic(f"depends_on names unknown block '{ref}'",
                             path=format_path((*block_path, *item)),
                             location=locate(source(item), False), hint=hint))
    return tuple(out)
