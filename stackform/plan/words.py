"""What every human-readable rendering of a plan says the same way: the verb of each action and
the form of a value (:mod:`~stackform.plan.render_text`, :mod:`~stackform.plan.render_markdown`).

A value is shown as JSON; a sensitive one as ``(sensitive)`` (the plan holds only its
fingerprint), an absent one as ``(unset)``.
"""

from __future__ import annotations

import json
from typing import Any

from stackform.plan.model import Action
from stackform.resource import SENSITIVE_SHOWN, is_fingerprint, redact

VERB = {
    Action.CREATE: "will be created",
    Action.UPDATE: "will be updated in place",
    Action.REPLACE: "must be replaced",
    Action.DELETE: "will be destroyed",
    Action.NOOP: "is up to date",
}
"""``<address> <verb>``: what happens to a resource."""

UNSET = "(unset)"

FOLD_AT = 100
"""A table or array whose one-line JSON is longer than this is shown folded, one entry per
line; nothing is ever cut: a reviewer must see every value a plan will apply."""


def value_text(value: Any) -> str:
    """A value on one line, as JSON."""
    if is_fingerprint(value):
        return SENSITIVE_SHOWN
    if value is None:
        return UNSET
    return json.dumps(redact(value), ensure_ascii=False, default=str)


def value_lines(value: Any) -> list[str]:
    """A value as JSON: one line, or folded over several when it is a long table or array."""
    text = value_text(value)
    if len(text) <= FOLD_AT or not isinstance(value, dict | list):
        return [text]
    return json.dumps(redact(value), ensure_ascii=False, default=str, indent=2).splitlines()


def format_value(value: Any) -> str:
    """A value on one line, folded values joined (drift entries, notes)."""
    return " ".join(line.strip() for line in value_lines(value))
