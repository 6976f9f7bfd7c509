"""``select`` rules: validating, parsing and matching them.

The rule semantics are described in :mod:`stackform_singer.catalog`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from stackform_singer.catalog.streams import SelectionError

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


def rule_problems(select: Sequence[str]) -> list[tuple[int, str]]:
    """``(index, message)`` for each malformed rule, in the order given."""
    problems: list[tuple[int, str]] = []
    for index, rule in enumerate(select):
        if not isinstance(rule, str):
            problems.append((index, f"a rule is a string, not {type(rule).__name__}"))
            continue
        shown = json.dumps(rule)
        body = rule[1:] if rule.startswith("!") else rule
        problem: str | None
        if rule != rule.strip():
            problem = "remove the surrounding whitespace"
        elif not rule:
            problems.append((index, "a rule cannot be empty"))
            continue
        elif not body:
            problem = "'!' needs a rule to exclude, e.g. \"!orders.note\""
        elif body.startswith("!"):
            problem = "use a single '!'"
        elif set(body) == {"."}:
            problem = "expected 'stream' or 'stream.property'"
        elif body.startswith("."):
            problem = "the stream name before '.' is missing"
        elif body.endswith("."):
            problem = "the property after '.' is missing (use 'stream.*')"
        elif ".." in body:
            problem = "empty property name between dots"
        else:
            problem = _glob_error(body)
        if problem is not None:
            problems.append((index, f"{shown}: {problem}"))
    return problems


def validate_rules(select: Sequence[str]) -> list[str]:
    """One message per malformed rule, in the order given; empty when all are usable."""
    return [f"select[{index}]: {message}" for index, message in rule_problems(select)]


def _parse(select: Sequence[str]) -> list[_Rule]:
    errors = validate_rules(select)
    if errors:
        raise SelectionError(errors)
    return [
        _Rule(raw=r, negated=r.startswith("!"), body=r[1:] if r.startswith("!") else r)
        for r in select
    ]
