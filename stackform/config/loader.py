"""Finding ``stack.toml``, reading it, and checking its structure with located diagnostics.

:func:`load_stack_file` parses the text, validates the core sections (:mod:`.schema`, its errors
worded by :mod:`.validation`) and the shape of provider blocks, and raises every problem at once
as one :class:`~stackform.errors.ConfigError`. Provider fields are validated later, per environment,
after interpolation (:mod:`.resolve`), since ``${var.x}`` may only become an integer there.

Valid text is read with the standard library's ``tomllib``; text it refuses is parsed again
with tomlkit (the library ``stackform fmt`` rewrites the file with) for its worded, placed
error. Neither keeps positions of values: locations come from :class:`.SourceMap`, built only
when a diagnostic needs one; it also finds the tables tomlkit lets through defined twice.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from stackform import __version__
from stackform.config.locate import Duplicate, SourceMap
from stackform.config.schema import CORE_SECTIONS, NAME_RE, CoreSections
from stackform.config.validation import describe, validation_diagnostics
from stackform.diagnostics import Diagnostic, Diagnostics, Location, did_you_mean
from stackform.envnames import ENV_NAME_RE
from stackform.errors import ConfigError, StackformError, os_reason
from stackform.limits import too_deep
from stackform.registry import Registry
from stackform.resource import KeyPath, format_path

STACK_FILE = "stack.toml"

@dataclass(frozen=True)
class StackFile:
    """A parsed, structurally valid stack file. Not yet resolved for an environment."""

    path: Path
    text: str
    data: Mapping[str, Any]
    """The whole document as plain Python values."""
    core: CoreSections
    blocks: Mapping[str, Mapping[str, Mapping[str, Any]]]
    """Provider blocks, raw: kind -> name -> fields, in file order."""

    @property
    def dir(self) -> Path:
        return self.path.parent

    @property
    def name(self) -> str:
        return self.core.stack.name

    @cached_property
    def source_map(self) -> SourceMap:
        return SourceMap(self.text)

    def location(self, path: KeyPath, key: bool = False) -> Location:
        """Where ``path`` is written (its nearest written ancestor when it is not)."""
        sm = self.source_map
        pos = sm.locate_key(path) if key else sm.locate(path)
        line, column = pos or (1, 1)
        return Location(self.path, line, column)

    def diagnostic(
        self, message: str, path: KeyPath, *, hint: str | None = None, key: bool = False,
        source: KeyPath | None = None, severity: typing.Literal["error", "warning"] = "error",
    ) -> Diagnostic:
        """A diagnostic about ``path``, located at ``source`` (default: ``path`` itself)."""
        return Diagnostic(
            message,
            path=format_path(path),
            location=self.location(path if source is None else source, key),
            hint=hint,
            severity=severity,
        )


def find_stack_file(directory: Path | None = None, file: Path | None = None) -> Path:
    """The stack file to use: ``file`` if given (relative to ``directory``), else
    ``directory/stack.toml``; ``directory`` defaults to the current one."""
    # Absolute, so ${stack.dir} and the plan's digest do not depend on where we were started.
    base = (directory if directory is not None else Path.cwd()).absolute()
    if file is not None:
        path = file if file.is_absolute() else base / file
        if not path.is_file():
            raise StackformError(
                f"no stack file at {path}",
                hint="check the --file path, or create one with `stackform init`",
            )
        return path
    path = base / STACK_FILE
    if not path.is_file():
        raise StackformError(
            f"no {STACK_FILE} in {base}",
            hint=f"run `stackform init` to create one, or point at it with --file "
            f"(run from the folder holding {STACK_FILE})",
        )
    return path


# Below tomlkit's own limit (100 levels of arrays, inline tables or dotted-key parts).
_TOMLKIT_NESTING = 90

_TOML_POS = re.compile(r"\s*at line (\d+) col (\d+)\s*$")
_DUPLICATE = re.compile(r"already exists|redefinition", re.IGNORECASE)


def _toml_error(path: Path, error: Exception, text: str) -> ConfigError:
    message = str(error)
    if m := _TOML_POS.search(message):
        message = message[: m.start()]
    if _DUPLICATE.search(message):
        # tomlkit names no position for some duplicates and the end of a table for others;
        # the source map knows both definitions.
        duplicates = SourceMap(text).duplicates()
        if duplicates:
            return ConfigError([_duplicate(path, duplicates[0])])
    # tomlkit counts columns from 0; editors and our diagnostics from 1.
    line = getattr(error, "line", None)
    column = getattr(error, "col", None)
    column = column + 1 if isinstance(column, int) else None
    diagnostic = Diagnostic(
        f"invalid TOML: {message[:1].lower()}{message[1:]}",
        location=Location(path, line or 1, column or 1),
        hint="see https://toml.io for the syntax",
    )
    return ConfigError([diagnostic])


def _duplicate(path: Path, dup: Duplicate) -> Diagnostic:
    return Diagnostic(
        f"defined twice; first at line {dup.first[0]}, column {dup.first[1]}",
        path=format_path(dup.path),
        location=Location(path, *dup.again),
        hint="merge the two definitions, or remove one",
    )


def _newlines(text: str) -> str:
    """Line ends as text mode reads them: ``\\r\\n`` and a lone ``\\r`` become ``\\n``."""
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def decode_stack_bytes(data: bytes, path: Path) -> str:
    """The file's text; bytes that are not UTF-8 are a ConfigError at the first bad byte."""
    try:
        return _newlines(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        before = _newlines(data[: exc.start].decode("utf-8"))
        line = before.count("\n") + 1
        column = len(before) - (before.rfind("\n") + 1) + 1
        raise ConfigError([Diagnostic(
            f"not UTF-8 text: {exc.reason} (byte 0x{data[exc.start]:02x})",
            location=Location(path, line, column),
            hint="save the file as UTF-8",
        )]) from None


def load_stack_file(path: Path, registry: Registry) -> StackFile:
    """Parse and structurally validate ``path``; raises one ConfigError listing every problem."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise StackformError(f"cannot read {path}: {os_reason(exc)}") from None
    return parse_stack_text(decode_stack_bytes(data, path), path, registry)


def parse_stack_text(text: str, path: Path, registry: Registry) -> StackFile:
    """:func:`load_stack_file` on text already read (``path`` is used for locations)."""
    data = _parse_toml(text, path)
    sm: list[SourceMap] = []

    def source_map() -> SourceMap:
        # Built only when a diagnostic needs a location: scanning costs as much as parsing.
        if not sm:
            sm.append(SourceMap(text))
        return sm[0]

    def locate(p: KeyPath, key: bool) -> Location:
        pos = source_map().locate_key(p) if key else source_map().locate(p)
        line, column = pos or (1, 1)
        return Location(path, line, column)

    def diag(message: str, p: KeyPath, hint: str | None = None, key: bool = False) -> Diagnostic:
        return Diagnostic(message, path=format_path(p), location=locate(p, key), hint=hint)

    diags = Diagnostics()
    blocks = _provider_blocks(data, registry, diags, diag)
    core_data = {k: data[k] for k in CORE_SECTIONS if k in data}
    core: CoreSections | None = None
    try:
        core = CoreSections.model_validate(core_data)
    except ValidationError as exc:
        diags.extend(validation_diagnostics(exc, core_data, CoreSections, (), locate))
    _check_core(data, blocks, diags, diag)
    diags.raise_if_errors()
    assert core is not None  # validation errors were raised above
    stack_file = StackFile(path=path, text=text, data=data, core=core, blocks=blocks)
    if sm:
        stack_file.__dict__["source_map"] = sm[0]
    return stack_file


def _parse_toml(text: str, path: Path) -> dict[str, Any]:
    """The document as plain values; a ConfigError, located, when it is not valid TOML.

    The standard library's reader is strict (it refuses every duplicate key or table) and about
    ten times faster than tomlkit, so valid text is read with it alone. Text it refuses goes
    through tomlkit, which words and places its errors as ``stackform fmt`` does and merges some
    tables defined twice (out of order) that the source map still reports.
    """
    import tomllib

    try:
        parsed = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError, ValueError):
        pass
    else:
        # tomlkit refuses keys and values nested past its limit, which tomllib reads: such
        # text goes through tomlkit too, so both readers accept exactly the same files.
        if too_deep(parsed, _TOMLKIT_NESTING) is None:
            return parsed
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    try:
        data: dict[str, Any] = tomlkit.parse(text).unwrap()
    except (TOMLKitError, ValueError) as exc:
        raise _toml_error(path, exc, text) from None
    if duplicates := SourceMap(text).duplicates():
        raise ConfigError([_duplicate(path, duplicates[0])])
    return data


def _provider_blocks(
    data: Mapping[str, Any],
    registry: Registry,
    diags: Diagnostics,
    diag: Callable[..., Diagnostic],
) -> dict[str, dict[str, dict[str, Any]]]:
    """The provider blocks of the document (every top-level table that is not a core section),
    kind -> name -> fields; an unknown kind, a block that is not a table or a bad block name
    is added to ``diags``."""
    kinds = registry.kinds()
    blocks: dict[str, dict[str, dict[str, Any]]] = {}
    for top, value in data.items():
        if top in CORE_SECTIONS:
            continue
        if top not in registry:
            hint = did_you_mean(top, [*CORE_SECTIONS, *kinds])
            installed = f"installed provider kinds: {', '.join(kinds) or 'none'}"
            diags.add(diag(f"unknown section '{top}'", (top,),
                           hint=f"{hint} ({installed})" if hint else installed, key=True))
            continue
        if not isinstance(value, dict):
            diags.add(diag(f"expected a table of '{top}' blocks, got {describe(value)}", (top,),
                           hint=f"write blocks as [{top}.NAME]"))
            continue
        kind_blocks: dict[str, dict[str, Any]] = {}
        for name, block in value.items():
            if not NAME_RE.fullmatch(name):
                diags.add(diag(f"invalid block name '{name}'", (top, name), key=True,
                               hint="use letters, digits, '-' and '_', starting with a letter"))
            if not isinstance(block, dict):
                diags.add(diag(f"expected a table, got {describe(block)}", (top, name),
                               hint=f"write the block as [{top}.{name}]"))
                continue
            kind_blocks[name] = block
        blocks[top] = kind_blocks

    return blocks


def _table(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _check_core(
    data: Mapping[str, Any],
    blocks: Mapping[str, Mapping[str, Any]],
    diags: Diagnostics,
    diag: Callable[..., Diagnostic],
) -> None:
    """Checks beyond types, on the raw data so they run even when some section is mistyped
    (that problem is reported by validation; this one is reported too)."""
    requires = _table(data.get("stack")).get("requires")
    if isinstance(requires, str):
        from packaging.specifiers import InvalidSpecifier, SpecifierSet

        try:
            satisfied = SpecifierSet(requires).contains(__version__, prereleases=True)
        except InvalidSpecifier:
            satisfied = True  # reported by validation
        if not satisfied:
            diags.add(diag(
                f"this stack requires stackform {requires}; this is {__version__}",
                ("stack", "requires"),
                hint=f"install a matching version: `uv pip install 'stackform{requires}'`",
            ))
    for name in _table(data.get("vars")):
        if not NAME_RE.fullmatch(name):
            diags.add(diag(f"invalid var name '{name}'", ("vars", name), key=True,
                           hint="use letters, digits, '-' and '_', starting with a letter"))
    environments = _table(data.get("environments"))
    defaults = [n for n, e in environments.items() if _table(e).get("default") is True]
    for name in defaults[1:]:
        diags.add(diag(
            f"environments '{defaults[0]}' and '{name}' are both marked default",
            ("environments", name, "default"),
            hint="mark at most one environment `default = true`",
        ))
    for env_name, env in environments.items():
        if not ENV_NAME_RE.fullmatch(env_name):
            diags.add(diag(f"invalid environment name '{env_name}'", ("environments", env_name),
                           key=True, hint="use lower-case letters, digits, '-' and '_'"))
        for var in _table(_table(env).get("vars")):
            if not NAME_RE.fullmatch(var):
                diags.add(diag(f"invalid var name '{var}'",
                               ("environments", env_name, "vars", var), key=True))
        for kind, named in _table(_table(env).get("override")).items():
            base = ("environments", env_name, "override", kind)
            if kind not in blocks:
                hint = did_you_mean(kind, blocks)
                diags.add(diag(f"override of '{kind}', which has no blocks in this stack",
                               base, key=True, hint=hint))
                continue
            for name in _table(named):
                if name not in blocks[kind]:
                    hint = did_you_mean(name, blocks[kind])
                    diags.add(diag(f"override of unknown block '{kind}.{name}'", (*base, name),
                                   key=True, hint=hint))
    for name in _table(data.get("pipelines")):
        if not NAME_RE.fullmatch(name):
            diags.add(diag(f"invalid pipeline name '{name}'", ("pipelines", name), key=True,
                           hint="use letters, digits, '-' and '_', starting with a letter"))
