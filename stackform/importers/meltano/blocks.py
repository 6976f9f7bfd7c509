"""The plugins of a project as blocks: every plugin is given its block(s) first, so that
inheritance, environment overrides and job steps can name plugins declared later or in
another file, then each is converted by its kind (:mod:`.kinds`)."""

from __future__ import annotations

from stackform.importers.meltano.context import Block, Context, block_name
from stackform.importers.meltano.kinds import convert_kind, mapping_blocks, stack_kind_of
from stackform.importers.meltano.plugins import parent_of, settings_of
from stackform.importers.meltano.read import YMap, comments_above


def register(ctx: Context) -> None:
    """Give every plugin its block(s) before any is converted, so that inheritance, overrides
    and job steps can refer to plugins declared later or in other files."""
    for kind, items in ctx.project.plugins.items():
        for p in items:
            target = stack_kind_of(ctx, kind, p)
            if target is None:
                continue
            if kind == "mappers":
                blocks = mapping_blocks(ctx, p)
            else:
                blocks = [Block(target, block_name(p["name"]), p, p["name"])]
            for b in blocks:
                _unique_name(ctx, b, f"plugins.{kind}.{p['name']}")
            ctx.plugins[(kind, p["name"])] = blocks
            for b in blocks:
                ctx.blocks.setdefault(b.step, []).append(b)
    for kind, items in ctx.project.plugins.items():
        for p in items:
            ctx.sensitive[(kind, p["name"])] = _sensitive_chain(ctx, kind, p, 0)


def _unique_name(ctx: Context, block: Block, subject: str) -> None:
    """Stack names allow fewer characters than Meltano's (``tap.x`` -> ``tap-x``), so two
    Meltano names may become one: the second gets a suffix."""
    taken = {b.name for bs in ctx.plugins.values() for b in bs if b.kind == block.kind}
    wanted = block.name
    suffix = 2
    while block.name in taken:
        block.name = f"{wanted}-{suffix}"
        suffix += 1
    if block.name != block.step:
        ctx.report.mapped(block.plugin.at(), subject, f"named {block.address} (stack names "
                          "allow letters, digits, - and _, once per kind)")


def _sensitive_chain(ctx: Context, kind: str, p: YMap, depth: int) -> set[str]:
    names = {str(s["name"]) for s in settings_of(p)
             if s.get("sensitive") is True or s.get("kind") in ("password", "oauth")}
    parent = parent_of(ctx, kind, p)
    if parent is not None and depth < 20:
        names |= _sensitive_chain(ctx, kind, parent, depth + 1)
    return names


def convert(ctx: Context) -> None:
    for kind, items in ctx.project.plugins.items():
        for p in items:
            blocks = ctx.plugins.get((kind, p["name"]))
            if blocks is None:
                _unplaced(ctx, kind, p)
                continue
            for b in blocks:
                ctx.comment((b.kind, b.name), comments_above(ctx.project, p))
            convert_kind(ctx, kind, p, blocks)


def _unplaced(ctx: Context, kind: str, p: YMap) -> None:
    subject = f"plugins.{kind}.{p['name']}"
    if kind == "files":
        ctx.report.dropped(p.at(), subject, "a file bundle: the files it added to the project "
                           "are in the project already; the bundle itself has no block")
    elif kind == "transforms":
        ctx.report.person(p.at(), subject, "a legacy dbt transform package: add it to the dbt "
                          "project's packages.yml instead")
