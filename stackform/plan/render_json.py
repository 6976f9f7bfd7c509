"""Render a plan as JSON, modelled on Terraform's ``show -json`` plan representation.

Sensitive values appear as ``null`` in ``before``/``after`` and ``true`` in the matching
``before_sensitive``/``after_sensitive`` shape, as Terraform does for consumers that mask.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from stackform.plan.model import Action, Plan
from stackform.resource import is_fingerprint, sensitivity_shape

FORMAT_VERSION = "1.0"


def _nulled(value: Any) -> Any:
    if is_fingerprint(value):
        return None
    if isinstance(value, Mapping):
        return {k: _nulled(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nulled(v) for v in value]
    return value


def _shape(value: Mapping[str, Any] | None) -> Any:
    return False if value is None else sensitivity_shape(dict(value)) or {}


def plan_to_json(plan: Plan) -> dict[str, Any]:
    counts = plan.counts()
    return {
        "format_version": FORMAT_VERSION,
        "stackform_version": plan.tool_version,
        "stack": plan.stack,
        "environment": plan.env,
        "mode": plan.mode.value,
        "lineage": plan.lineage,
        "serial": plan.serial,
        "stack_digest": plan.stack_digest,
        "created_at": plan.created_at,
        "targets": list(plan.targets),
        "resource_changes": [
            {
                "address": c.address,
                "type": c.kind,
                "name": c.name,
                "change": {
                    "actions": c.action.terraform_actions,
                    "before": _nulled(c.before) if c.before is not None else None,
                    "after": _nulled(c.after) if c.after is not None else None,
                    "before_sensitive": _shape(c.before),
                    "after_sensitive": _shape(c.after),
                    "replace_paths": [a.path for a in c.changes if a.force_new],
                },
                "action_reason": c.reason,
                "depends_on": list(c.dependencies),
                "notes": list(c.notes),
            }
            for c in plan.changes
        ],
        "resource_drift": [
            {
                "address": d.address,
                "type": d.kind,
                "change": {
                    "actions": ["delete"] if d.after is None else ["update"],
                    "before": _nulled(d.before),
                    "after": _nulled(d.after) if d.after is not None else None,
                },
            }
            for d in plan.drift
        ],
        "summary": {
            "add": counts[Action.CREATE],
            "change": counts[Action.UPDATE],
            "replace": counts[Action.REPLACE],
            "destroy": counts[Action.DELETE],
        },
        "has_changes": plan.has_changes,
        "git": dict(plan.git),
        "applied_git": dict(plan.applied_git),
        "warnings": list(plan.warnings),
        # docs/lineage.md: {} when no provider of the stack knows lineage
        "impact": dict(plan.impact),
    }


def render_json(plan: Plan) -> str:
    return json.dumps(plan_to_json(plan), indent=2, default=str)
