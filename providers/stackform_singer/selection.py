"""What an extractor's selection problems become at plan, apply and run.

:func:`stackform_singer.catalog.check_selection` finds the problems (rules and patterns that
match nothing, replication keys that are not properties, no stream selected); here they become
located diagnostics (plan and apply) and the run's refusal to start a tap that selects nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from stackform.diagnostics import Diagnostic
from stackform.errors import RunError
from stackform.plugins.kit import PluginError
from stackform.provider import Context, RunContext, RunStep, typed_config
from stackform.resource import Resource, redact
from stackform_singer.catalog import Finding, check_selection, selection_of
from stackform_singer.config import ExtractorConfig

AGAIN = "; apply discovers the catalog again, then checks again"


def findings(catalog: Mapping[str, Any], config: ExtractorConfig) -> list[Finding]:
    return check_selection(catalog, config.select, config.metadata,
                           allow_empty=config.allow_empty_selection)


def diagnostics(ctx: Context, desired: Resource, found: Sequence[Finding], *,
                discovers_again: bool = False) -> list[Diagnostic]:
    """``found`` located in the stack file. ``discovers_again`` (the plan of an apply that
    discovers the catalog anew) makes errors warnings: the catalog they come from is about to be
    replaced, and apply checks the new one."""
    out: list[Diagnostic] = []
    for finding in found:
        severity = finding.severity
        message, hint = finding.message, finding.hint
        if _quotes_a_secret(finding, desired):
            message, hint = HIDDEN, None
        if discovers_again and severity == "error":
            severity, message = "warning", message + AGAIN
        out.append(ctx.diagnostic(desired.address, finding.path, message, hint=hint,
                                  severity=severity, key=finding.at_key))
    return out


HIDDEN = ("does not match the tap's catalog (not shown: it is built from a secret, or written "
          "under a key that names one)")


def _quotes_a_secret(finding: Finding, desired: Resource) -> bool:
    """Whether ``finding`` quotes a value of the block that is sensitive. Findings quote the
    rules and metadata written at their path, and below it; the one about ``select`` as a whole
    (no stream selected) quotes only stream names."""
    if finding.path == ("select",):
        return False
    n = len(finding.path)
    return any(p[:n] == finding.path or finding.path[:len(p)] == p for p in desired.sensitive)


def apply_error(errors: Sequence[Diagnostic]) -> PluginError:
    """One error for the apply report, every problem located as the plan would show it."""
    return PluginError("\n".join(d.format() for d in errors))


def require_selected_stream(run: RunContext, tap: RunStep, catalog: Path) -> None:
    """Refuse to start a tap whose selected catalog selects no stream: the run would "succeed"
    having extracted nothing. With ``allow_empty_selection = true`` it is a warning."""
    if selection_of(json.loads(catalog.read_text())).streams:
        return
    config = typed_config(tap.resource, ExtractorConfig)
    address = tap.resource.address
    # State's masked attributes: a rule built from a secret shows as (sensitive).
    shown = json.dumps(redact(tap.state.attributes.get("select", [])))
    what = f"{address} selects no stream (select = {shown})"
    if config.allow_empty_selection:
        warning = f"{what}; allow_empty_selection = true: the tap runs and extracts nothing"
        run.say(f"warning: {warning}")
        run.log(f"# warning: {warning}")
        return
    kind, _, name = address.partition(".")
    raise RunError(
        f"{what}, so the run stops before starting the tap: it would extract nothing. Fix "
        f"select (`stackform plan` names the rules that match nothing), or set "
        f"allow_empty_selection = true in [{kind}.{name}] if extracting nothing is intended")



def schema_warnings(ctx: Context, desired: Resource, discovered: Mapping[str, Any],
                    rules: Mapping[str, Mapping[str, Any]]) -> list[Diagnostic]:
    """A warning at each ``schema`` rule that changes nothing in the discovered catalog."""
    from stackform_singer.catalog.schema import unmatched_schema_rules

    out: list[Diagnostic] = []
    streams = ", ".join(sorted(str(s.get("tap_stream_id") or s.get("stream"))
                               for s in discovered.get("streams") or ()))
    for rule in unmatched_schema_rules(discovered, rules):
        what = (f"stream pattern '{rule[0]}' matches no stream of the tap's catalog"
                if len(rule) == 1 else
                f"property pattern '{rule[1]}' matches no property of the streams '{rule[0]}' "
                "matches")
        out.append(ctx.diagnostic(desired.address, ("schema", *rule),
                                  f"{what}: the override changes nothing",
                                  hint=f"streams: {streams}" if len(rule) == 1 else None,
                                  severity="warning", key=True))
    return out
