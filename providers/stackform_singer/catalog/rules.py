"""``select`` rules: validating, parsing and matching them, and finding rules that match nothing.

The rule semantics are described in :mod:`stackform_singer.catalog`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from stackform_singer.catalog.streams import SelectionError, _hits, _streams, _StreamView

# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class _Rule:
    raw: str
    negated: bool
    body: str

    def target(self, stream_id: str) -> tuple[bool, str | None]:
        """Whether the rule names ``stream_id``, and its property pattern (None: whole stream)."""
        if self.body == stream_id:
            return True, None
        if self.body.startswith(stream_id + "."):
            stream_pat, prop = stream_id, self.body[len(stream_id) + 1 :]
        else:
            stream_pat, dot, prop = self.body.partition(".")
            if not dot:
                return fnmatchcase(stream_id, stream_pat), None
            if not fnmatchcase(stream_id, stream_pat):
                return False, None
        return True, (None if _is_whole(prop) else prop)


def _is_whole(prop: str) -> bool:
    return bool(prop) and set(prop) == {"*"}


def _glob_error(pattern: str) -> str | None:
    """Why ``pattern`` is not a usable fnmatch pattern, or None (fnmatch itself never says)."""
    i, n = 0, len(pattern)
    while i < n:
        if pattern[i] == "[":
            j = i + 1
            if j < n and pattern[j] == "!":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            close = pattern.find("]", j)
            if close < 0:
                return "has an unclosed '[' (write '[[]' for a literal '[')"
            i = close + 1
        else:
            i += 1
    return None


def validate_rules(select: Sequence[str]) -> list[str]:
    """One message per malformed rule, in the order given; empty when all are usable."""
    errors: list[str] = []
    for index, rule in enumerate(select):
        where = f"select[{index}]"
        if not isinstance(rule, str):
            errors.append(f"{where}: a rule is a string, not {type(rule).__name__}")
            continue
        shown = json.dumps(rule)
        if rule != rule.strip():
            errors.append(f"{where} {shown}: remove the surrounding whitespace")
            continue
        body = rule[1:] if rule.startswith("!") else rule
        if not rule:
            errors.append(f"{where}: a rule cannot be empty")
        elif not body:
            errors.append(f"{where} {shown}: '!' needs a rule to exclude, e.g. \"!orders.note\"")
        elif body.startswith("!"):
            errors.append(f"{where} {shown}: use a single '!'")
        elif set(body) == {"."}:
            errors.append(f"{where} {shown}: expected 'stream' or 'stream.property'")
        elif body.startswith("."):
            errors.append(f"{where} {shown}: the stream name before '.' is missing")
        elif body.endswith("."):
            errors.append(f"{where} {shown}: the property after '.' is missing (use 'stream.*')")
        elif ".." in body:
            errors.append(f"{where} {shown}: empty property name between dots")
        elif (problem := _glob_error(body)) is not None:
            errors.append(f"{where} {shown}: {problem}")
    return errors


def _parse(select: Sequence[str]) -> list[_Rule]:
    errors = validate_rules(select)
    if errors:
        raise SelectionError(errors)
    return [
        _Rule(raw=r, negated=r.startswith("!"), body=r[1:] if r.startswith("!") else r)
        for r in select
    ]


def unmatched_rules(catalog: Mapping[str, Any], select: Sequence[str]) -> list[str]:
    """Rules (as written, in order) that name no stream or property of ``catalog``.

    A typo otherwise selects (or excludes) nothing without a word. Malformed rules are left to
    :func:`validate_rules` and are not reported here.
    """
    views = [_StreamView(s, create=False) for s in _streams(catalog)]
    out: list[str] = []
    for raw in select:
        if not isinstance(raw, str) or validate_rules([raw]):
            continue
        rule = _Rule(raw=raw, negated=raw.startswith("!"), body=raw.lstrip("!"))
        hit = False
        for view in views:
            named, prop = rule.target(view.id)
            if named and (prop is None or any(_hits([prop], p) for p in view.paths)):
                hit = True
                break
        if not hit:
            out.append(raw)
    return out
