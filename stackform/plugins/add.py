"""``stackform add``: install a connector, ask it about itself, append its block to the stack.

:func:`prepare` finds what to install (``--pip-url``, else the offline index,
:mod:`stackform.plugins.index`), installs it into the shared venv cache, picks its executable
(:mod:`stackform.plugins.executables`) and asks it ``--about`` (:mod:`stackform.plugins.about`),
recording the answer for later plans. :func:`block_text` writes the block: required settings as
placeholders, secret ones as ``${secret.NAME}`` references, optional ones commented out with
their description and default. :func:`append_block` appends it to the stack file, whose text is
kept byte for byte: the file must be valid and the block's name free (a located error
otherwise, and the file is not touched).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackform.errors import ConfigError, StackformError
from stackform.fileio import atomic_write
from stackform.plugins.about import About, Answer, Setting, ask_about, install_key, record_about
from stackform.plugins.executables import detect
from stackform.plugins.index import IndexEntry, find, unknown
from stackform.registry import Registry
from stackform.secret_keys import is_secret_key

KINDS = ("extractors", "loaders", "transformers")
SINGULAR = {"extractor": "extractors", "loader": "loaders", "transformer": "transformers"}
SDK_OWN = frozenset({"stream_maps", "stream_map_config", "faker_config", "flattening_enabled",
                     "flattening_max_depth", "flattening_max_key_length",
                     "flattening_separator", "batch_config"})
"""Settings every Singer SDK connector takes: listed in one line, not one block each."""

Log = Callable[[str], None]


@dataclass(frozen=True)
class Addition:
    """What ``stackform add`` learnt about one connector, ready to be written as a block."""

    kind: str
    block: str
    pip_url: str
    executable: str | None = None
    entry: IndexEntry | None = None
    about: About | None = None
    unlearnt: str = ""
    """Why the settings are not known (no ``--about``, or it failed); empty when they are."""
    notes: tuple[str, ...] = field(default=())
    python: str | None = None


def default_block_name(name: str, kind: str) -> str:
    """``tap-postgres`` -> ``postgres``; ``pipelinewise-tap-mysql`` -> ``mysql``."""
    if kind == "transformers":
        return "dbt"
    base = name.strip().split("/")[-1].split("==")[0].split("[")[0]
    for prefix in ("tap-", "target-"):
        if prefix in base:
            base = base.split(prefix, 1)[1]
    return re.sub(r"[^A-Za-z0-9_]+", "_", base).strip("_") or "connector"


def check_stack(path: Path, kind: str, block: str, registry: Registry) -> None:
    """The stack file loads without a problem and has no ``[kind.block]`` yet."""
    from stackform.config.loader import load_stack_file

    stack_file = load_stack_file(path, registry)
    if block in (stack_file.data.get(kind) or {}):
        raise ConfigError([stack_file.diagnostic(
            f"[{kind}.{block}] exists already; stackform add changes nothing", (kind, block),
            key=True, hint="choose another block name with --name, or edit that block")])


def prepare(kind: str, name: str, *, pip_url: str | None, executable: str | None,
            block: str, python: str | None = None, log: Log = lambda _m: None) -> Addition:
    """Install the connector and learn what it can say about itself."""
    from stackform.plugins.installs import ensure_venv
    from stackform.plugins.kit import requirement_name
    from stackform.plugins.spec import InstallSpec

    entry = None if pip_url else find(name, kind)
    if pip_url is None:
        if entry is None and kind != "transformers":
            raise unknown(name, kind)
        pip_url = entry.pip_url if entry else name
    venv = ensure_venv(InstallSpec(tuple(pip_url.split()), python), log=log)
    if kind == "transformers":
        return Addition(kind, block, pip_url, entry=entry, python=python)
    notes: list[str] = []
    if executable:
        venv.executable(executable)  # an error naming the scripts the install has
    elif entry is not None and entry.executable in venv.executables():
        executable = entry.executable
    else:
        found = detect(requirement_name(pip_url.split()[0]), venv.executables())
        executable = found.executable
        if found.why:
            notes.append(f"executable: {executable} ({found.why})")
    answer: Answer = ask_about(venv, executable, log=log)
    if answer.about is not None:
        record_about(install_key(pip_url, python, executable), answer.about, executable,
                     venv=venv.key)
    return Addition(kind, block, pip_url, executable, entry, answer.about, answer.reason,
                    tuple(notes), python)


# -- the block's text ----------------------------------------------------------------------------


def _value(value: Any) -> str:
    import tomlkit

    return tomlkit.item(value).as_string()


def _placeholder(setting: Setting) -> Any:
    types = [t for t in setting.types if t != "null"]
    first = types[0] if types else "string"
    return {"integer": 0, "number": 0, "boolean": False, "array": [], "object": {}}.get(
        first, f"<{setting.name}>")


def secret_name(block: str, key: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", f"{block}_{key}".lower()).strip("_")


def _comment(setting: Setting, what: str) -> list[str]:
    import textwrap

    types = "/".join(t for t in setting.types if t != "null") or "any type"
    text = f"{setting.description.rstrip('.') or setting.name} ({what}; {types})"
    return [f"# {line}" for line in textwrap.wrap(text, 97)]


def _setting_lines(addition: Addition, setting: Setting) -> list[str]:
    key = _value(setting.name) if not re.fullmatch(r"[A-Za-z0-9_-]+", setting.name) \
        else setting.name
    if setting.secret or is_secret_key(setting.name):
        ref = secret_name(addition.block, setting.name)
        what = "required, secret" if setting.required else "secret"
        line = f'{key} = "${{secret.{ref}}}"  # stackform secret set {ref}'
        return [*_comment(setting, what), line if setting.required else f"# {line}"]
    known = setting.has_default and setting.default is not None
    value = _value(setting.default if known else _placeholder(setting))
    if setting.required:
        return [*_comment(setting, "required"), f"{key} = {value}"]
    return [*_comment(setting, "optional"), f"# {key} = {value}"]


def _header(addition: Addition) -> list[str]:
    about, entry = addition.about, addition.entry
    who = addition.executable or addition.pip_url.split()[0]
    version = about.version if about and about.version else (entry.version if entry else "")
    described = (about.description if about and about.description
                 else entry.description if entry else "")
    import textwrap

    title = (f"{who}{' ' + version if version else ''}"
             f"{f' ({entry.variant} variant)' if entry else ''}"
             f"{': ' + described if described else ''}")
    lines = [f"# {line}" for line in textwrap.wrap(title, 97)]
    if entry is not None and not entry.maintained:
        lines.append(f"# Note: no release since {entry.last_release}; check that it still "
                     "works for you.")
    if about is not None and about.schema is not None:
        lines.append(f"# Settings from `{who} --about`: validate and plan check them.")
    elif addition.kind != "transformers":
        lines.append(f"# stackform could not learn its settings ({addition.unlearnt}): see "
                     "the connector's documentation.")
    return lines


def block_text(addition: Addition) -> str:
    """The block ``stackform add`` appends, comments included."""
    address = f"{addition.kind}.{addition.block}"
    lines = ["", *_header(addition), f"[{address}]", f"pip_url = {_value(addition.pip_url)}"]
    if addition.python:
        lines.append(f"python = {_value(addition.python)}")
    if addition.kind == "transformers":
        lines += ['project_dir = "transform"  # the dbt project, relative to the stack',
                  '# target = { type = "duckdb", path = "warehouse.duckdb" }']
        return "\n".join(lines) + "\n"
    lines.append(f"executable = {_value(addition.executable)}")
    if addition.kind == "extractors":
        lines.append('# select = ["STREAM.*"]  # the streams and properties to extract; none '
                     "keeps the tap's own")
    lines += ["", f"[{address}.config]"]
    schema = addition.about.schema if addition.about else None
    if schema is None:
        lines.append("# the connector's settings, e.g. host = \"...\"; a secret one as "
                     '"${secret.NAME}"')
        return "\n".join(lines) + "\n"
    top = schema.top_level()
    ordered = sorted((s for n, s in top.items() if n not in SDK_OWN),
                     key=lambda s: (not s.required, 0))
    for setting in ordered:
        lines += _setting_lines(addition, setting)
    own = [n for n in top if n in SDK_OWN]
    if own:
        lines.append(f"# Also the Singer SDK's own settings: {', '.join(own)}")
    return "\n".join(lines) + "\n"


def append_block(path: Path, text: str, kind: str, block: str) -> None:
    """Append ``text`` to the stack file, leaving what is there byte for byte.

    The result must parse to the old document plus exactly the new block; anything else is a
    bug of the block's text, and the file stays as it was."""
    import tomlkit

    before = path.read_text(encoding="utf-8")
    joined = before if before.endswith("\n") or not before else before + "\n"
    after = joined + text
    try:
        old, new = tomlkit.parse(before).unwrap(), tomlkit.parse(after).unwrap()
    except Exception as exc:  # tomlkit's ParseError, or a table defined twice
        raise StackformError(f"the block for {kind}.{block} does not fit the stack file: "
                             f"{exc}", hint="this is a bug in stackform add") from None
    added = (new.get(kind) or {}).get(block)
    rest = {k: v for k, v in new.items()}
    rest[kind] = {n: b for n, b in (new.get(kind) or {}).items() if n != block}
    if not rest[kind] and kind not in old:
        del rest[kind]
    if added is None or rest != old:
        raise StackformError(f"the block for {kind}.{block} would change the stack file beyond "
                             "itself; nothing written", hint="this is a bug in stackform add")
    atomic_write(path, after.encode("utf-8"), path.stat().st_mode & 0o777)
