"""``stackform invoke`` of a dbt block: ``dbt ARGS`` as a pipeline step runs it, with this
environment's profile, project, target and log folders (secrets in dbt's environment, read
by the profile's ``env_var()``, as in a run)."""

from __future__ import annotations

from collections.abc import Sequence

from stackform.inspection import Invocation
from stackform.provider import Context
from stackform.resource import Resource
from stackform_dbt.run import prepare


def dbt_invocation(ctx: Context, resource: Resource, args: Sequence[str]) -> Invocation:
    """``dbt show --select x`` -> dbt with ``--profiles-dir``, ``--project-dir`` and the
    environment's paths (and ``--vars``) added; a bare ``dbt --version`` as it is."""
    inv = prepare(ctx, resource)
    if args and not args[0].startswith("-"):
        argv = inv.args(list(args))
    else:
        argv = [str(inv.executable), *args]
    return Invocation(tuple(argv), inv.env, inv.cwd)
