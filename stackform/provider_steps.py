"""Optional provider capabilities about pipeline steps and the processes blocks run: which part
of a chain a kind's steps play, which ``BLOCK:COMMAND`` steps a block can run, and which
``Config`` field takes the stack's process environment. Listed in
:data:`stackform.provider.CAPABILITIES` with the others (docs/providers.md).
"""

from __future__ import annotations

from typing import ClassVar, Protocol, runtime_checkable

from stackform.resource import Resource

CHAIN_ROLES = ("start", "link", "end")


@runtime_checkable
class ChainsSteps(Protocol):
    """A provider whose blocks are links of a chain of pipeline steps run as one (a Singer
    extractor starts a chain, mappers continue it, a loader ends it: ``tap | mapper |
    target``). Core checks the shape of every chain where the pipeline is written, and gives
    the step that starts one the key of the chain's bookmark (:attr:`Step.bookmark`); the
    provider of the starting step runs the whole chain (:class:`StepRunner`)."""

    chain_role: ClassVar[str]
    """``"start"``, ``"link"`` or ``"end"`` (:data:`CHAIN_ROLES`)."""


@runtime_checkable
class TakesProcessEnv(Protocol):
    """A provider whose blocks run processes: the stack's ``[env]`` and the environment's
    ``env`` are merged under the block's own process environment (the ``Config`` field named
    by :attr:`process_env_field`, a table of strings) when the stack is resolved."""

    process_env_field: ClassVar[str]


@runtime_checkable
class ChecksStepCommands(Protocol):
    """A provider that knows which ``BLOCK:COMMAND`` steps its blocks can run."""

    def step_command_problem(self, resource: Resource, command: str | None
                             ) -> tuple[str, str] | None:
        """Why the pipeline step naming ``resource`` with ``command`` (None for a bare
        ``BLOCK`` step) cannot run, as (message, hint), or None. Called when the stack is
        resolved, for every such step: reported where the step is written. No I/O."""
