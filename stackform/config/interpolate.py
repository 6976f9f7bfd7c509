"""``${...}`` interpolation in stack-file values, with sensitivity tracking.

Namespaces: ``${var.NAME}`` (``[vars]`` merged with the environment's vars), ``${secret.NAME}``
(a :class:`SecretSource`), ``${environ.NAME}`` (the process environment), ``${stack.env}``,
``${stack.env_id}`` (the environment name as a SQL identifier part), ``${stack.dir}``,
``${stack.name}``. ``$${`` is a literal ``${``.

A string that is exactly one ``${var.X}`` takes the var's own value and type (an integer, an
array, a table); anything else is string substitution. Vars may use other vars and secrets;
cycles are reported, even between vars nothing uses (:meth:`Interpolator.check_cycles`). Any
value built from a secret, directly or through vars, is *sensitive*:
:meth:`Interpolator.interpolate` returns the key paths of the smallest sensitive leaves so that
state stores fingerprints and plans show ``(sensitive)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from stackform.diagnostics import Diagnostic, Diagnostics, Location, did_you_mean
from stackform.errors import SecretError
from stackform.resource import KeyPath, format_path

NAMESPACES = ("var", "secret", "environ", "stack")
STACK_ATTRIBUTES = ("env", "env_id", "dir", "name")
_EXPR = re.compile(r"\s*([A-Za-z_]+)\.([A-Za-z0-9_-]+)\s*")
MAX_VAR_DEPTH = 64
"""How deep vars may use vars (``a`` uses ``b`` uses ``c``...): resolving them recurses."""
_SYNTAX_HINT = (
    "write ${var.NAME}, ${secret.NAME}, ${environ.NAME} or ${stack.env}; $${ is a literal ${"
)

Locator = Callable[[KeyPath, bool], Location | None]
Source = Callable[[KeyPath], KeyPath]


class SecretSource(Protocol):
    """Where ``${secret.NAME}`` values come from (:class:`stackform.secrets.SecretStore`)."""

    def get(self, name: str) -> str:
        """The secret's value; raises :class:`~stackform.errors.SecretError` when missing."""
        ...


@dataclass(frozen=True)
class Ref:
    """One ``${namespace.name}`` in a string; ``start``/``end`` are offsets in that string."""

    namespace: str
    name: str
    start: int
    end: int

    @property
    def text(self) -> str:
        return f"${{{self.namespace}.{self.name}}}"


class TemplateError(ValueError):
    """A string's ``${...}`` syntax is broken; the message says how."""


def parse_template(text: str) -> list[str | Ref]:
    """``"a ${var.x} b"`` -> ``["a ", Ref(var, x), " b"]``; literal parts have ``$${`` unescaped.

    Namespaces are not checked here (that needs context); syntax is.
    """
    parts: list[str | Ref] = []
    buf: list[str] = []
    i, n = 0, len(text)
    while i < n:
        j = text.find("$", i)
        if j < 0:
            buf.append(text[i:])
            break
        buf.append(text[i:j])
        if text.startswith("$${", j):
            buf.append("${")
            i = j + 3
        elif text.startswith("${", j):
            k = text.find("}", j + 2)
            if k < 0:
                raise TemplateError(f"unclosed '${{' in {text!r}")
            m = _EXPR.fullmatch(text, j + 2, k)
            if not m:
                raise TemplateError(f"bad interpolation '{text[j:k + 1]}'")
            if joined := "".join(buf):
                parts.append(joined)
            buf = []
            parts.append(Ref(m.group(1), m.group(2), j, k + 1))
            i = k + 1
        else:
            buf.append("$")
            i = j + 1
    if joined := "".join(buf):
        parts.append(joined)
    return parts


def references(value: Any, path: KeyPath = ()) -> Iterator[tuple[KeyPath, Ref]]:
    """Every well-formed ``${...}`` in a nested value, with the key path of its string."""
    if isinstance(value, str):
        if "${" in value:
            try:
                parts = parse_template(value)
            except TemplateError:
                return
            for part in parts:
                if isinstance(part, Ref):
                    yield path, part
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from references(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from references(v, (*path, i))


def secret_placeholder(name: str) -> str:
    return f"<secret {name}>"


_FAILED = object()


@dataclass
class _Var:
    value: Any
    sensitive: frozenset[KeyPath]


@dataclass
class Interpolator:
    """Resolves ``${...}`` in values of one stack and environment; collects diagnostics.

    ``vars`` are raw (uninterpolated) values; ``var_sources`` says where each is written so
    problems inside a var point there. ``locate`` turns a source key path into a location.
    """

    vars: Mapping[str, Any]
    var_sources: Mapping[str, KeyPath]
    stack: Mapping[str, str]
    environ: Mapping[str, str]
    locate: Locator
    secrets: SecretSource | None = None
    strict_secrets: bool = True
    diagnostics: Diagnostics = field(default_factory=Diagnostics)
    _resolved: dict[str, _Var | object] = field(default_factory=dict)
    _active: list[str] = field(default_factory=list)
    _secret_cache: dict[str, str | None] = field(default_factory=dict)
    _reported: set[tuple[str, ...]] = field(default_factory=set)

    def interpolate(
        self, value: Any, prefix: KeyPath = (), source: Source | None = None
    ) -> tuple[Any, set[KeyPath]]:
        """``value`` with every ``${...}`` resolved, and the sensitive key paths inside it
        (relative to ``value``). ``prefix`` is the value's key path as shown to the user;
        ``source`` maps a path inside ``value`` to where it is written (default ``prefix``)."""
        sensitive: set[KeyPath] = set()
        src = source or (lambda rel: (*prefix, *rel))
        out = self._walk(value, (), prefix, src, sensitive)
        return out, sensitive

    def _walk(self, value: Any, rel: KeyPath, prefix: KeyPath, src: Source,
              sensitive: set[KeyPath]) -> Any:
        if isinstance(value, str):
            if "$" not in value:
                return value
            return self._string(value, rel, prefix, src, sensitive)
        if isinstance(value, dict):
            return {k: self._walk(v, (*rel, k), prefix, src, sensitive) for k, v in value.items()}
        if isinstance(value, list):
            return [self._walk(v, (*rel, i), prefix, src, sensitive) for i, v in enumerate(value)]
        return value

    def _error(self, message: str, rel: KeyPath, prefix: KeyPath, src: Source,
               hint: str | None = None) -> None:
        self.diagnostics.add(Diagnostic(
            message, path=format_path((*prefix, *rel)), location=self.locate(src(rel), False),
            hint=hint,
        ))

    def _string(self, text: str, rel: KeyPath, prefix: KeyPath, src: Source,
                sensitive: set[KeyPath]) -> Any:
        try:
            parts = parse_template(text)
        except TemplateError as exc:
            self._error(str(exc), rel, prefix, src, _SYNTAX_HINT)
            return text
        if len(parts) == 1 and isinstance(parts[0], Ref) and parts[0].namespace == "var":
            var = self._var(parts[0].name, rel, prefix, src)
            if var is None:
                return text
            sensitive.update((*rel, *p) for p in var.sensitive)
            return var.value
        out: list[str] = []
        secret = False
        for part in parts:
            if isinstance(part, str):
                out.append(part)
                continue
            resolved = self._ref(part, rel, prefix, src)
            if resolved is None:
                out.append(part.text)
                continue
            piece, is_secret = resolved
            out.append(piece)
            secret = secret or is_secret
        if secret:
            sensitive.add(rel)
        return "".join(out)

    def _ref(self, ref: Ref, rel: KeyPath, prefix: KeyPath, src: Source
             ) -> tuple[str, bool] | None:
        """A reference inside a string: its text and whether it is secret; None on error."""
        ns, name = ref.namespace, ref.name
        if ns == "var":
            var = self._var(name, rel, prefix, src)
            if var is None:
                return None
            if isinstance(var.value, dict | list):
                kind = "a table" if isinstance(var.value, dict) else "an array"
                self._error(f"var '{name}' is {kind}; it cannot be part of a string", rel,
                            prefix, src, hint=f"use \"${{var.{name}}}\" alone as the whole value")
                return None
            if isinstance(var.value, bool):
                return ("true" if var.value else "false"), bool(var.sensitive)
            return str(var.value), bool(var.sensitive)
        if ns == "secret":
            value = self._secret(name, rel, prefix, src)
            return None if value is None else (value, True)
        if ns == "environ":
            if name in self.environ:
                return self.environ[name], False
            self._error(f"environment variable '{name}' is not set", rel, prefix, src,
                        hint=f"export {name}=... before running stackform")
            return None
        if ns == "stack":
            if name in self.stack:
                return self.stack[name], False
            self._error(f"unknown stack attribute '{name}' in '{ref.text}'", rel, prefix, src,
                        hint=did_you_mean(name, STACK_ATTRIBUTES)
                        or "use ${stack.env}, ${stack.env_id}, ${stack.dir} or "
                        "${stack.name}")
            return None
        self._error(f"unknown namespace '{ns}' in '{ref.text}'", rel, prefix, src,
                    hint=did_you_mean(ns, NAMESPACES) or _SYNTAX_HINT)
        return None

    def _secret(self, name: str, rel: KeyPath, prefix: KeyPath, src: Source) -> str | None:
        if name not in self._secret_cache:
            value: str | None = None
            error: SecretError | None = None
            if self.secrets is not None:
                try:
                    value = self.secrets.get(name)
                except SecretError as exc:
                    error = exc
            if value is None and self.strict_secrets:
                if error is None:
                    error = SecretError(f"secret '{name}' is not available",
                                        hint=f"`stackform secret set {name}`")
                self._error(error.reason, rel, prefix, src, error.hint)
                # Later uses of the same missing secret stay quiet: one report is enough.
                self._secret_cache[name] = None
                return None
            self._secret_cache[name] = value if value is not None else secret_placeholder(name)
        return self._secret_cache[name]

    def _var(self, name: str, rel: KeyPath, prefix: KeyPath, src: Source) -> _Var | None:
        done = self._resolved.get(name)
        if isinstance(done, _Var):
            return done
        if done is _FAILED:
            return None
        if name not in self.vars:
            self._error(f"unknown var '{name}'", rel, prefix, src,
                        hint=did_you_mean(name, self.vars) or "declare it under [vars]")
            return None
        if name in self._active:
            cycle = (*self._active[self._active.index(name):], name)
            # None of them can have a value (whether or not this cycle was reported already).
            self._resolved.update(dict.fromkeys(cycle, _FAILED))
            self._cycle(cycle)
            return None
        if len(self._active) >= MAX_VAR_DEPTH:
            source = self.var_sources[self._active[0]]
            self.diagnostics.add(Diagnostic(
                f"vars use vars more than {MAX_VAR_DEPTH} deep, starting here",
                path=format_path(source), location=self.locate(source, False),
                hint="give one of the vars along the chain a plain value",
            ))
            self._resolved.update(dict.fromkeys(self._active, _FAILED))
            return None
        self._active.append(name)
        try:
            var_src = self.var_sources[name]
            before = len(self.diagnostics)
            value, sensitive = self.interpolate(self.vars[name], var_src)
        finally:
            self._active.pop()
        if len(self.diagnostics) > before or self._resolved.get(name) is _FAILED:
            # The var's own problem is reported at the var; its users stay quiet.
            self._resolved[name] = _FAILED
            return None
        var = _Var(value, frozenset(sensitive))
        self._resolved[name] = var
        return var

    def _cycle(self, cycle: tuple[str, ...]) -> None:
        """Report ``a -> b -> a`` once, at the var it starts from."""
        key = tuple(sorted(cycle[:-1]))
        if key in self._reported:
            return
        self._reported.add(key)
        first = cycle[0]
        self.diagnostics.add(Diagnostic(
            f"vars refer to each other in a cycle: {' -> '.join(cycle)}",
            path=format_path(self.var_sources[first]),
            location=self.locate(self.var_sources[first], False),
            hint="make one of them a plain value",
        ))

    def check_cycles(self) -> None:
        """Report every cycle between vars, whether or not a value uses them: a var that can
        never have a value is a mistake either way. Other problems of an unused var (an unset
        environment variable, say) stay quiet until something uses it."""
        uses = {name: [ref.name for _path, ref in references(value)
                       if ref.namespace == "var" and ref.name in self.vars]
                for name, value in self.vars.items()}
        # Depth-first, without recursion: a long chain of vars must not exhaust the stack.
        done: set[str] = set()
        for start in self.vars:
            if start in done:
                continue
            path, on_path = [start], {start}
            todo = [iter(uses[start])]
            while todo:
                following = next(todo[-1], None)
                if following is None:
                    on_path.discard(path[-1])
                    done.add(path.pop())
                    todo.pop()
                elif following in on_path:
                    self._cycle((*path[path.index(following):], following))
                elif following not in done:
                    path.append(following)
                    on_path.add(following)
                    todo.append(iter(uses[following]))
