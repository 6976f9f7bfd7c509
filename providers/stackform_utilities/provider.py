"""The ``utilities`` provider: install a tool, and run its named commands as pipeline steps."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel

from stackform.inspection import Invocation, Invokes
from stackform.plugins.kit import (
    executable_name,
    failure_summary,
    install,
    local_plugin_paths,
    runtime_dir,
)
from stackform.plugins.streaming import stream
from stackform.provider import (
    BaseProvider,
    Context,
    Outputs,
    RunContext,
    RunStep,
    StepRunner,
    WatchesPaths,
)
from stackform.provider_steps import ChecksStepCommands, TakesProcessEnv
from stackform.resource import Resource, ResourceState
from stackform.runs.model import StepOutcome
from stackform_utilities.command import command_line, command_problem
from stackform_utilities.config import UtilityConfig

if TYPE_CHECKING:
    from stackform.config.model import ResolvedStack

TAIL_LINES = 40


class UtilityProvider(BaseProvider[UtilityConfig], StepRunner, WatchesPaths, TakesProcessEnv,
                      ChecksStepCommands, Invokes):
    """``[utilities.NAME]``: a tool installed in its own venv, run by its named commands."""

    kind: ClassVar[str] = "utilities"
    Config: ClassVar[type[BaseModel]] = UtilityConfig
    force_new: ClassVar[frozenset[str]] = frozenset({"pip_url", "python"})
    process_env_field: ClassVar[str] = "env"

    def create(self, ctx: Context, desired: Resource) -> Outputs:
        config = self.config_of(desired)
        venv = install(ctx, desired)
        # Nothing is rendered to disk: config reaches the tool as environment variables.
        exe = venv.executable(executable_name(config.pip_url, config.executable))
        return {"venv": str(venv.path), "executable": str(exe)}

    def watched_paths(self, stack: ResolvedStack, resource: Resource
                      ) -> list[tuple[str, Path]]:
        return local_plugin_paths(resource, stack.dir)

    def step_command_problem(self, resource: Resource, command: str | None
                             ) -> tuple[str, str] | None:
        return command_problem(self.config_of(resource), command)

    def invocation(self, ctx: Context, resource: Resource, prior: ResourceState | None,
                   args: Sequence[str], runtime: Path) -> Invocation:
        """``stackform invoke sqlfluff -- lint models``: the tool's executable with ``args``
        (its named commands are pipeline steps, ``sqlfluff:lint``); config as variables."""
        venv = install(ctx, resource)
        return command_line(resource, venv, None, ctx.stack_dir, args)

    def run_steps(self, run: RunContext, steps: Sequence[RunStep]) -> tuple[int, StepOutcome]:
        step = steps[0]
        name = step.step.raw
        venv = install(run.ctx, step.resource)  # a cache hit after apply
        invocation = command_line(step.resource, venv, step.step.command, run.ctx.stack_dir)
        tail: list[str] = []

        def line(text: str) -> None:
            run.log(f"[{name}] {text}")
            tail[:] = [*tail[-(TAIL_LINES - 1):], text]

        run.say(f"{name}: starting")
        started = time.monotonic()
        with runtime_dir(run.ctx, "utility") as tmp:
            private_tmp = tmp / "tmp"
            private_tmp.mkdir(mode=0o700)
            code = stream(invocation.argv, env={**invocation.env, "TMPDIR": str(private_tmp)},
                          cwd=invocation.cwd, on_line=line, cancel=run.ctx.cancel,
                          what=name, runtime=tmp)
        seconds = time.monotonic() - started
        error = (None if code == 0 else
                 f"{name} exited {code}: {failure_summary(chr(10).join(tail))}")
        run.say(f"{name}: {'success' if code == 0 else 'failed'} in {seconds:.1f}s")
        return 1, StepOutcome(name=name, status="success" if code == 0 else "failed",
                              seconds=round(seconds, 3), error=error,
                              details={"exit_code": code})
