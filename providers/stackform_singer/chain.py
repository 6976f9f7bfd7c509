"""The mappers of a chain (``tap | mapper | ... | target``): which steps they are, installed,
and started between the tap and the target, each reading the one before through an OS pipe.

A mapper is a Singer plugin that reads messages on stdin and writes messages on stdout
(``meltano-map-transformer``'s stream maps): stackform relays nothing, it only connects the
pipes. A mapper passes STATE messages on in order, so the state the target confirms still means
what it meant without mappers: everything up to it was loaded.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from stackform.errors import RunError
from stackform.plugins.kit import install, plugin_environ, write_private
from stackform.provider import RunContext, RunStep, typed_config
from stackform.provider_steps import ChainsSteps
from stackform.supervise import popen
from stackform_singer.config import MapperConfig
from stackform_singer.plugin import executable_name, full_config


def role(step: RunStep) -> str | None:
    provider = step.provider
    return provider.chain_role if isinstance(provider, ChainsSteps) else None


def split_chain(run: RunContext, steps: Sequence[RunStep]) -> tuple[list[RunStep], RunStep]:
    """The mapper steps after the extractor ``steps[0]`` and the loader step that ends the
    chain (validate checks the shape; a RunError here is a stack the checks let through)."""
    mappers: list[RunStep] = []
    for step in steps[1:]:
        part = role(step)
        if part == "link":
            mappers.append(step)
        elif part == "end":
            return mappers, step
        else:
            break
    raise RunError(f"pipeline {run.pipeline}: extractor step '{steps[0].step.raw}' must be "
                   "followed by a loader step (mappers may come between)")


@dataclass(frozen=True)
class Mapper:
    """A mapper step installed and ready to run."""

    step: RunStep
    exe: str
    env: dict[str, str]

    @property
    def name(self) -> str:
        return self.step.resource.name


def prepare_mappers(run: RunContext, steps: Sequence[RunStep]) -> tuple[Mapper, ...]:
    found: list[Mapper] = []
    for step in steps:
        venv = install(run.ctx, step.resource)
        exe = venv.executable(executable_name(typed_config(step.resource, MapperConfig)))
        found.append(Mapper(step, str(exe), plugin_environ(venv, step.resource)))
    return tuple(found)


def start_mappers(mappers: Sequence[Mapper], tmp: Path, stdin: int, extra_env: dict[str, str],
                  cwd: Path, started: list[subprocess.Popen[bytes]]) -> int:
    """Start each mapper reading the file descriptor before it (appended to ``started``, which
    the caller stops on any failure); the descriptor the last one writes to (``stdin`` itself
    without mappers), for the target to read. The caller closes ``stdin`` and the returned
    descriptor once the target has it."""
    read_end = stdin
    for i, mapper in enumerate(mappers):
        config = tmp / f"mapper-{i}.json"
        write_private(config, full_config(mapper.step.resource), sync="never")
        next_read, write_end = os.pipe()
        try:
            started.append(popen([mapper.exe, "--config", str(config)], runtime=tmp,
                                 stdin=read_end, stdout=write_end, stderr=subprocess.PIPE,
                                 env={**mapper.env, **extra_env}, cwd=cwd))
        except BaseException:
            os.close(next_read)
            raise
        finally:
            os.close(write_end)
            if read_end != stdin:
                os.close(read_end)
        read_end = next_read
    return read_end
