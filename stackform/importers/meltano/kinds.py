"""What is particular to each kind of plugin: Singer taps and targets, mappers (one block per
mapping), utilities and their commands, dbt transformers and their target, Airflow."""

from __future__ import annotations

import re
from typing import Any

from stackform.importers.meltano.context import Block, Context, block_name
from stackform.importers.meltano.plugins import (
    STACK_KIND,
    common,
    config_value,
    env_table,
    leftovers,
    parent_of,
    settings_defaults,
    singer_extras,
)
from stackform.importers.meltano.read import YMap

_DBT_ADAPTER = re.compile(r"\bdbt-(?!core\b)([a-z0-9]+)")
DBT_DROPPED = {
    "profiles_dir": "stackform writes each environment's profiles.yml itself",
    "target": "the profile's target is named after the stackform environment",
    "target_path": "dbt's default is used", "log_path": "dbt's default is used",
    "packages_path": "dbt's default is used", "skip_pre_invoke": "a Meltano hook switch",
    "models": "choose models in the pipeline step (dbt:run --select ...)",
    "source_schema": "a Meltano convenience: use dbt sources' own schema",
    "target_schema": "a Meltano convenience: use target.schema",
}
DEFAULT_DAGS = "orchestrate/airflow/dags"


def stack_kind_of(ctx: Context, kind: str, p: YMap) -> str | None:
    """The stack kind a plugin becomes; ``None`` for those that become no block."""
    if kind in ("files", "transforms"):
        return None
    if kind in ("transformers", "utilities") and dbt_adapter(ctx, kind, p) is not None \
            and str(p["name"]).startswith("dbt"):
        return "transformers"
    if kind == "transformers":
        return "utilities"
    if kind == "orchestrators" and "airflow" not in str(p["name"]).lower():
        return "utilities"
    return STACK_KIND[kind]


def dbt_adapter(ctx: Context, kind: str, p: YMap, depth: int = 0) -> str | None:
    """The dbt adapter a plugin installs (``postgres`` for ``dbt-postgres``)."""
    for text in (p.get("pip_url"), p.get("name")):
        m = _DBT_ADAPTER.search(str(text or ""))
        if m:
            return m.group(1)
    parent = parent_of(ctx, kind, p)
    return dbt_adapter(ctx, kind, parent, depth + 1) if parent and depth < 20 else None


def mapping_blocks(ctx: Context, p: YMap) -> list[Block]:
    out: list[Block] = []
    mappings = p.get("mappings")
    for m in mappings if isinstance(mappings, list) else []:
        if isinstance(m, YMap) and isinstance(m.get("name"), str | int):
            out.append(Block("mappers", block_name(str(m["name"])), p, str(m["name"]), m))
    return out


def convert_kind(ctx: Context, kind: str, p: YMap, blocks: list[Block]) -> None:
    subject = f"plugins.{kind}.{p['name']}"
    if not blocks:
        ctx.report.person(p.at(), subject, "a mapper without mappings: Meltano runs a mapper "
                          "through its mappings only, so it has no block")
        return
    target = blocks[0].kind
    if kind == "mappers":
        for b in blocks:
            _mapper(ctx, kind, p, b)
    elif target in ("extractors", "loaders"):
        _singer(ctx, kind, p, blocks[0])
    elif target == "transformers":
        _dbt(ctx, kind, p, blocks[0])
    elif target == "orchestrators":
        _airflow(ctx, kind, p, blocks[0])
    else:
        _utility(ctx, kind, p, blocks[0])
    for b in blocks:
        settings_defaults(ctx, kind, p, b)
        _wrapper(ctx, kind, p, b)
    if target != STACK_KIND.get(kind):
        ctx.report.mapped(p.at(), subject, f"-> [{blocks[0].address}]")


def _singer(ctx: Context, kind: str, p: YMap, block: Block) -> None:
    subject = f"plugins.{kind}.{p['name']}"
    done = common(ctx, kind, p, block) | {"config"}
    table = ctx.table(block.kind, block.name)
    config = config_value(ctx, kind, p, p.get("config"), p.at("config"), subject)
    config = {k: v for k, v in config.items() if not k.startswith("_")}
    if config:
        table.setdefault("config", {}).update(config)
    if kind == "extractors":
        done |= singer_extras(ctx, p, table, subject)
        if "select" not in table and "extends" not in table:
            _default_select(ctx, p, table, subject)
    ctx.report.mapped(p.at(), subject, f"-> [{block.address}]")
    leftovers(ctx, kind, p, done)


def _default_select(ctx: Context, p: YMap, table: dict[str, Any], subject: str) -> None:
    """Meltano selects ``*.*`` when ``select`` is not given, for a tap that takes a catalog;
    stackform's empty ``select`` keeps the tap's own defaults, which may select nothing."""
    caps = p.get("capabilities")
    takes_catalog = isinstance(caps, list) and bool({"catalog", "properties"} & set(caps))
    if takes_catalog or (caps is None and p.get("variant") is not None):
        table["select"] = ["*.*"]
        ctx.report.mapped(p.at(), subject, "select = [\"*.*\"]: Meltano's default selection "
                          "(every stream and property) written out")


def _mapper(ctx: Context, kind: str, p: YMap, block: Block) -> None:
    subject = f"plugins.{kind}.{p['name']}"
    done = common(ctx, kind, p, block) | {"config", "mappings"}
    table = ctx.table(block.kind, block.name)
    config = config_value(ctx, kind, p, p.get("config"), p.at("config"), subject)
    assert block.mapping is not None
    mapping = block.mapping
    own = config_value(ctx, kind, p, _null_maps(ctx, mapping.get("config"), mapping.at(),
                                                subject), mapping.at("config"), subject)
    merged = {**config, **own}
    if merged:
        table.setdefault("config", {}).update(merged)
    ctx.report.mapped(mapping.at(), subject, f"mapping {block.step} -> [{block.address}] "
                      "(the mapper's config with the mapping's over it)")
    if block is ctx.plugins[(kind, p["name"])][0]:
        leftovers(ctx, kind, p, done)


def _null_maps(ctx: Context, config: Any, where: str, subject: str) -> Any:
    """A null in ``stream_maps`` means "leave it out" to a mapper; TOML has no null, and
    meltano-map-transform reads the string ``__NULL__`` the same way."""
    if not isinstance(config, dict) or not isinstance(config.get("stream_maps"), dict):
        return config
    maps: dict[str, Any] = {}
    for stream, body in config["stream_maps"].items():
        if body is None or (isinstance(body, dict) and None in body.values()):
            ctx.report.mapped(where, subject, f"stream_maps.{stream}: null -> \"__NULL__\"")
        maps[stream] = "__NULL__" if body is None else \
            {k: "__NULL__" if v is None else v for k, v in body.items()} \
            if isinstance(body, dict) else body
    return {**config, "stream_maps": maps}


def _wrapper(ctx: Context, kind: str, p: YMap, block: Block) -> None:
    """Meltano's extension wrappers (``dbt-ext``, ``*-ext``, ``*_invoker``) run a tool the
    Meltano way; stackform runs the tool itself."""
    table = ctx.table(block.kind, block.name)
    subject = f"plugins.{kind}.{p['name']}"
    pip_url = table.get("pip_url")
    if block.kind == "transformers" and isinstance(pip_url, str):
        kept = [r for r in pip_url.split() if "dbt-ext" not in r]
        if len(kept) != len(pip_url.split()):
            table["pip_url"] = " ".join(kept)
            ctx.report.dropped(p.at("pip_url"), subject, "dbt-ext in pip_url: Meltano's "
                               "wrapper of dbt; stackform runs dbt itself")
    elif "-ext" in str(pip_url) or str(table.get("executable", "")).endswith("_invoker"):
        ctx.report.person(p.at(), subject, "a Meltano extension (EDK) wrapper: it runs the "
                          "tool the Meltano way; check that executable and commands run the "
                          "tool itself")


def _utility(ctx: Context, kind: str, p: YMap, block: Block) -> None:
    subject = f"plugins.{kind}.{p['name']}"
    done = common(ctx, kind, p, block) | {"config", "commands"}
    table = ctx.table(block.kind, block.name)
    config = config_value(ctx, kind, p, p.get("config"), p.at("config"), subject)
    if config:
        table.setdefault("config", {}).update(config)
    commands = p.get("commands")
    if isinstance(commands, dict):
        table["commands"] = {name: _command(ctx, p, name, spec, subject)
                             for name, spec in commands.items() if spec is not None}
    ctx.report.mapped(p.at(), subject, f"-> [{block.address}]")
    leftovers(ctx, kind, p, done)


def _command(ctx: Context, p: YMap, name: str, spec: Any, subject: str) -> Any:
    if not isinstance(spec, dict):
        return ctx.interp.text(str(spec), secret=False, where=p.at("commands"))
    out: dict[str, Any] = {"args": ctx.interp.text(str(spec.get("args", "")), secret=False,
                                                   where=p.at("commands"))}
    if isinstance(spec.get("env"), dict) and spec["env"]:
        out["env"] = env_table(ctx, spec["env"], p.at("commands"))
    for key in spec:
        if key in ("args", "env"):
            continue
        if key == "description":
            ctx.report.dropped(p.at("commands"), subject, f"commands.{name}.description")
        else:
            ctx.report.person(p.at("commands"), subject, f"commands.{name}.{key} has no "
                              "equivalent (a command runs the utility's executable with args)")
    return out


def _dbt(ctx: Context, kind: str, p: YMap, block: Block) -> None:
    subject = f"plugins.{kind}.{p['name']}"
    done = common(ctx, kind, p, block) | {"config", "commands"}
    table = ctx.table(block.kind, block.name)
    if table.pop("executable", None) is not None:
        ctx.report.dropped(p.at("executable"), subject, "executable: stackform runs the "
                           "`dbt` of the adapter's install")
    adapter = dbt_adapter(ctx, kind, p) or "duckdb"
    config = config_value(ctx, kind, p, p.get("config"), p.at("config"), subject)
    fields = dbt_fields(ctx, config, adapter, p.at("config"), subject,
                        base=parent_of(ctx, kind, p) is None)
    for key, value in fields.items():
        if isinstance(value, dict):
            table.setdefault(key, {}).update(value)
        else:
            table[key] = value
    if isinstance(p.get("commands"), dict):
        ctx.report.mapped(p.at("commands"), subject, "commands: used to spell out the "
                          "`NAME:COMMAND` steps of jobs (dbt's arguments)")
    ctx.report.mapped(p.at(), subject, f"-> [{block.address}] (adapter {adapter})")
    leftovers(ctx, kind, p, done)


def dbt_fields(ctx: Context, config: dict[str, Any], adapter: str, where: str, subject: str,
               *, base: bool) -> dict[str, Any]:
    """A Meltano dbt config as the fields of a ``[transformers]`` block (or an override of
    one): ``project_dir``, and the connection as ``target``."""
    out: dict[str, Any] = {}
    target: dict[str, Any] = {}
    for key, value in config.items():
        if key == "project_dir":
            project_dir = _relative(str(value))
            if project_dir != "transform":
                out["project_dir"] = project_dir
        elif key in DBT_DROPPED:
            ctx.report.dropped(where, subject, f"config.{key}: {DBT_DROPPED[key]}")
        elif key == "port" and isinstance(value, str) and value.isdigit():
            target[key] = int(value)
        else:
            target[key] = value
    if base:
        target = {"type": adapter, **target}
        if adapter not in ("duckdb", "postgres"):
            ctx.report.person(where, subject, f"dbt-{adapter}: stackform's dbt targets are "
                              "duckdb and postgres; validate names this target until it is "
                              "one of them")
        elif adapter == "postgres" and not {"user", "dbname"} <= set(target):
            ctx.report.person(where, subject, "the PostgreSQL target lacks user or dbname "
                              "(Meltano takes them from DBT_* variables): set them in target")
        elif adapter == "duckdb" and "path" not in target:
            target["path"] = "warehouse/${stack.env}.duckdb"
            ctx.report.mapped(where, subject, "target.path: stackform's default DuckDB file")
    if target:
        out["target"] = target
    return out


def _relative(path: str) -> str:
    """A path below the Meltano project root, relative (the stack's folder is the root)."""
    for prefix in ("${stack.dir}/", "./"):
        if path.startswith(prefix):
            path = path[len(prefix):]
    return path.rstrip("/") or "."


def _airflow(ctx: Context, kind: str, p: YMap, block: Block) -> None:
    subject = f"plugins.{kind}.{p['name']}"
    done = common(ctx, kind, p, block, package=False) | {"config", "pip_url", "executable"}
    table = ctx.table(block.kind, block.name)
    config = config_value(ctx, kind, p, p.get("config"), p.at("config"), subject)
    core = config.get("core") if isinstance(config.get("core"), dict) else {}
    dags = config.get("core.dags_folder", (core or {}).get("dags_folder", DEFAULT_DAGS))
    table["dags_path"] = _relative(str(dags))
    ctx.report.mapped(p.at(), subject, f"-> [{block.address}], dags_path = "
                      f"\"{table['dags_path']}\": one DAG per scheduled pipeline")
    if p.get("pip_url"):
        ctx.report.person(p.at("pip_url"), subject, "pip_url left out: stackform deploys DAG "
                          "files and does not run Airflow; set pip_url = \"apache-airflow==X\" "
                          "in the block to check every DAG with that Airflow before deploying")
    other = sorted(k for k in config if k not in ("core", "core.dags_folder"))
    if other or (isinstance(core, dict) and set(core) - {"dags_folder"}):
        ctx.report.dropped(p.at("config"), subject, "Airflow's own settings (webserver, "
                           "database...): they belong to the Airflow deployment")
    leftovers(ctx, kind, p, done)
