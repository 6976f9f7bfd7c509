"""``stackform pull``: what a person built in a deployed tool, written back into the repository.

A dashboard is built by clicking in Superset's dev server, not by editing YAML; pulling writes
it into the block's asset folder, where the diff is reviewed and committed and the next plan
carries it to the other environments. Providers opt in through
:class:`~stackform.provider.Pulls`; core knows no kind by name. Pulling writes only the files
the provider names: never state, never a secret.
"""

from __future__ import annotations

import uuid

from stackform.errors import StackformError
from stackform.provider import Pulls, make_context
from stackform.resource import fingerprinter
from stackform.session import Session


def pull_block(session: Session, address: str) -> list[str]:
    """Pull ``address`` in the session's environment; what changed, one line each."""
    stack = session.stack
    resource = stack.resources.get(address)
    if resource is None:
        pullable = sorted(a for a, r in stack.resources.items()
                          if isinstance(session.registry.get(r.kind), Pulls))
        raise StackformError(
            f"{address} is not a block of the stack in environment {stack.env}",
            hint=f"blocks that can be pulled: {', '.join(pullable)}" if pullable
            else "no block of this stack can be pulled")
    provider = session.registry.get(resource.kind)
    if not isinstance(provider, Pulls):
        raise StackformError(
            f"{address}: {resource.kind} blocks have nothing to pull",
            hint="pull brings back what people edit in a deployed tool, such as a dashboard "
            "built in Superset")
    ctx = make_context(stack, fingerprinter(str(uuid.uuid4())), session.log)
    return list(provider.pull(ctx, resource))
