"""Finding ``stack.toml``, reading it, and checking its structure with located diagnostics.

:func:`load_stack_file` parses the text, validates the core sections (:mod:`.schema`) and the
shape of provider blocks, and raises every problem at once as one
:class:`~stackform.errors.ConfigError`. Provider fields are validated later, per environment,
after interpolation (:mod:`.resolve`), since ``${var.x}`` may only become an integer there.

Parsing uses tomlkit, the same library ``stackform fmt`` rewrites the file with, so both agree
on what is valid. tomlkit keeps no positions of values: locations come from
:class:`.SourceMap`, which also finds the tables tomlkit lets through defined twice.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from stackform import __version__
from stackform.config.locate import Duplicate, SourceMap
from stackform.config.schema import (
    CORE_SECTIONS,
    NAME_RE,
    CoreSections,
)
from stackform.diagnostics import Diagnostic, Diagnostics, Location, did_you_mean
from stackform.envnames import ENV_NAME_RE
from stackform.errors import ConfigError, StackformError, os_reason
from stackform.registry import Registry
from stackform.resource import KeyPath, format_path

STACK_FILE = "stack.toml"

Locator = Callable[[KeyPath, bool], Location | None]
"""(source key path, point at the key rather than the value) -> location."""


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
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    try:
        data = tomlkit.parse(text).unwrap()
    except (TOMLKitError, ValueError) as exc:
        raise _toml_error(path, exc, text) from None
    # tomlkit merges a table defined twice when other tables sit between the two (its
    # out-of-order tables) and the second adds only new keys: the source map still sees it.
    source_map = SourceMap(text)
    if duplicates := source_map.duplicates():
        raise ConfigError([_duplicate(path, duplicates[0])])

    def locate(p: KeyPath, key: bool) -> Location:
        pos = source_map.locate_key(p) if key else source_map.locate(p)
        line, column = pos or (1, 1)
        return Location(path, line, column)

    def diag(message: str, p: KeyPath, hint: str | None = None, key: bool = False) -> Diagnostic:
        return Diagnostic(message, path=format_path(p), location=locate(p, key), hint=hint)

    diags = Diagnostics()
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
    stack_file.__dict__["source_map"] = source_map
    return stack_file


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
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    requires = _table(data.get("stack")).get("requires")
    if isinstance(requires, str):
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


# -- pydantic errors as located diagnostics ------------------------------------------------------

_EXPECTED = {
    "string_type": "a string",
    "str_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "float_type": "a number",
    "float_parsing": "a number",
    "list_type": "an array",
    "tuple_type": "an array",
    "set_type": "an array",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
    "dataclass_type": "a table",
    "none_required": "nothing",
    "date_type": "a date",
    "datetime_type": "a date-time",
    "time_type": "a time",
    "path_type": "a path",
    "url_type": "a URL",
    "url_parsing": "a URL",
    "enum": "one of the allowed values",
}


def describe(value: Any) -> str:
    """``an integer``, ``a table``...: how a TOML value's type reads in a message."""
    import datetime as dt

    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, dt.datetime):
        return "a date-time"
    if isinstance(value, dt.date):
        return "a date"
    if isinstance(value, dt.time):
        return "a time"
    if value is None:
        return "nothing"
    return type(value).__name__


def _loc_to_path(loc: tuple[int | str, ...], data: Any, error_type: str) -> KeyPath:
    """pydantic's ``loc`` as a key path into ``data``, skipping union-member tags."""
    path: list[str | int] = []
    cur = data
    last = len(loc) - 1
    for n, item in enumerate(loc):
        in_dict = isinstance(cur, dict) and item in cur
        in_list = isinstance(cur, list) and isinstance(item, int) and 0 <= item < len(cur)
        if in_dict or in_list:
            path.append(item)
            cur = cur[item]
        elif n == last and error_type == "missing" and isinstance(item, str):
            path.append(item)
            cur = None
        # else: a union tag ("str", "function-after[...]") or a key the data lacks: skip it
    return tuple(path)


def _unwrap(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        for member in members:
            inner = _unwrap(member)
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                return inner
        return _unwrap(members[0]) if len(members) == 1 else annotation
    return annotation


def fields_at(model: type[BaseModel] | None, path: KeyPath) -> list[str]:
    """The field names (aliases where set) of the model found at ``path`` under ``model``."""
    annotation: Any = model
    for key in path:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            by_key = {f.alias or n: f for n, f in annotation.model_fields.items()}
            field = by_key.get(str(key)) or annotation.model_fields.get(str(key))
            if field is None:
                return []
            annotation = field.annotation
            continue
        origin = typing.get_origin(annotation)
        args = typing.get_args(annotation)
        if origin in (list, tuple, set, frozenset) and args:
            annotation = args[0]
        elif origin in (dict, Mapping) and len(args) == 2:
            annotation = args[1]
        else:
            return []
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [f.alias or n for n, f in annotation.model_fields.items()]
    return []


def _got(value: Any) -> str:
    if isinstance(value, str) and len(value) <= 40:
        return repr(value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return repr(value)
    return describe(value)


def validation_diagnostics(
    error: ValidationError,
    data: Any,
    model: type[BaseModel] | None,
    prefix: KeyPath,
    locate: Locator,
    source: Callable[[KeyPath], KeyPath] | None = None,
) -> list[Diagnostic]:
    """One short, located diagnostic per problem pydantic found in ``data``.

    ``prefix`` turns a path inside ``data`` into the key path shown to the user; ``source`` maps
    a path inside ``data`` to where it is written (an environment override, say), by default
    ``prefix + path``.
    """
    to_source = source or (lambda rel: (*prefix, *rel))
    # Several errors on one path come from a union: fold "expected" parts into one message.
    grouped: dict[KeyPath, list[dict[str, Any]]] = {}
    for err in error.errors(include_url=False):
        rel = _loc_to_path(tuple(err["loc"]), data, err["type"])
        grouped.setdefault(rel, []).append(dict(err))
    out: list[Diagnostic] = []
    for rel, errs in grouped.items():
        shown = format_path((*prefix, *rel))
        expected = [_EXPECTED[e["type"]] for e in errs if e["type"] in _EXPECTED]
        if len(expected) == len(errs) and len(errs) > 1:
            names = list(dict.fromkeys(expected))
            message = f"expected {' or '.join(names)}, got {describe(errs[0].get('input'))}"
            out.append(Diagnostic(message, path=shown, location=locate(to_source(rel), False)))
            continue
        for one in errs:
            message, hint, at_key = _message(one, model, rel)
            out.append(Diagnostic(message, path=shown, location=locate(to_source(rel), at_key),
                                  hint=hint))
    return out


def _message(err: Mapping[str, Any], model: type[BaseModel] | None, rel: KeyPath
             ) -> tuple[str, str | None, bool]:
    kind = err["type"]
    value = err.get("input")
    ctx = err.get("ctx") or {}
    last = rel[-1] if rel else ""
    if kind == "missing":
        if rel and isinstance(last, str) and len(rel) == 1 and model is CoreSections:
            return f"missing required table [{last}]", f"add a [{last}] table", False
        return f"missing required key '{last}'", None, False
    if kind == "extra_forbidden":
        return f"unknown key '{last}'", did_you_mean(str(last), fields_at(model, rel[:-1])), True
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {describe(value)}", None, False
    if kind == "literal_error":
        return f"expected {ctx.get('expected', 'an allowed value')}, got {_got(value)}", None, False
    if kind == "too_short" and ctx.get("min_length") == 1:
        return "must not be empty", None, False
    msg = str(err.get("msg", "invalid value"))
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    # A provider's own error (PydanticCustomError) may carry a hint, and ask to point at the key.
    hint = ctx.get("hint") if isinstance(ctx.get("hint"), str) else None
    return msg[:1].lower() + msg[1:], hint, ctx.get("at_key") is True
