"""Running a tap's discovery: the catalog of streams it can extract.

Used by apply (the extractor's catalog) and by a run on a machine without that catalog.
"""

from __future__ import annotations

import json
from typing import Any

from stackform.plugins.kit import PluginError, run_command, runtime_dir, write_private
from stackform.provider import Context
from stackform.resource import Resource
from stackform_singer.plugin import full_config

DISCOVER_TIMEOUT = 900.0


def discover(ctx: Context, desired: Resource, executable: str, env: dict[str, str]
             ) -> dict[str, Any]:
    """Run the tap's discovery with its full config in a private runtime folder."""
    with runtime_dir(ctx, "discover") as tmp:
        write_private(tmp / "config.json", full_config(desired))
        done = run_command([executable, "--config", str(tmp / "config.json"), "--discover"],
                           env=env, timeout=DISCOVER_TIMEOUT, cancel=ctx.cancel,
                           what=f"{desired.address}: discovery", cwd=ctx.stack_dir,
                           runtime=tmp, log=ctx.log)
    try:
        catalog = json.loads(done.stdout)
    except json.JSONDecodeError as exc:
        raise PluginError(f"{desired.address}: discovery did not print a JSON catalog "
                          f"({exc})") from exc
    if not isinstance(catalog, dict) or not isinstance(catalog.get("streams"), list):
        raise PluginError(f"{desired.address}: discovery printed no 'streams' list")
    return catalog
