"""A stack's ``[pipelines.NAME]`` tables resolved: steps and ``depends_on`` as addresses, chains
of steps checked (:mod:`.chains`), the schedule interpolated and checked. Every problem is added
to the caller's diagnostics."""

from __future__ import annotations

from collections.abc import Mapping

from stackform.config.chains import Role, chained_steps
from stackform.config.interpolate import Interpolator, Locator
from stackform.config.loader import StackFile
from stackform.config.model import Pipeline, Step
from stackform.config.references import Addresses
from stackform.config.schema import PipelineSection, schedule_problem
from stackform.diagnostics import Diagnostic, Diagnostics, did_you_mean
from stackform.errors import StackformError
from stackform.provider_steps import ChainsSteps, ChecksStepCommands
from stackform.registry import Registry
from stackform.resource import KeyPath, Resource, format_path


def resolve_pipelines(stack_file: StackFile, interp: Interpolator, blocks: Addresses,
                      registry: Registry, resources: Mapping[str, Resource],
                      diags: Diagnostics, locate: Locator) -> dict[str, Pipeline]:
    """Every pipeline of the stack, by name. ``resources``: the blocks resolved (a step whose
    block has problems of its own is not checked further)."""
    pipelines: dict[str, Pipeline] = {}
    role = _roles(registry)
    for pname, section in stack_file.core.pipelines.items():
        base: KeyPath = ("pipelines", pname)
        steps, paths = _steps(section, base, blocks, diags, locate)
        _check_commands(steps, paths, registry, resources, diags, locate)
        pipelines[pname] = Pipeline(
            name=pname,
            steps=chained_steps(pname, steps, paths, role, section.bookmark, diags, locate),
            # Problems in the order they are written: steps, depends_on, schedule.
            depends_on=_depends_on(stack_file, pname, section, blocks, diags, locate),
            schedule=_schedule(section.schedule, base, interp, diags, locate),
            bookmark=section.bookmark,
        )
    return pipelines


def _roles(registry: Registry) -> Role:
    """Each step's part in a chain, as its kind's provider says."""
    by_kind: dict[str, str | None] = {}

    def role(step: Step) -> str | None:
        kind = step.address.partition(".")[0]
        if kind not in by_kind:
            try:
                provider = registry.get(kind)
            except StackformError:  # an unknown kind is reported with its blocks
                provider = None
            by_kind[kind] = provider.chain_role if isinstance(provider, ChainsSteps) else None
        return by_kind[kind]

    return role


def _check_commands(steps: list[Step], paths: list[KeyPath], registry: Registry,
                    resources: Mapping[str, Resource], diags: Diagnostics,
                    locate: Locator) -> None:
    """A step's command, checked by its provider when it knows its commands."""
    for step, path in zip(steps, paths, strict=True):
        resource = resources.get(step.address)
        if resource is None:
            continue
        provider = registry.get(resource.kind)
        if not isinstance(provider, ChecksStepCommands):
            continue
        problem = provider.step_command_problem(resource, step.command)
        if problem is not None:
            diags.add(Diagnostic(f"step '{step.raw}': {problem[0]}", path=format_path(path),
                                 location=locate(path, False), hint=problem[1]))


def _steps(section: PipelineSection, base: KeyPath, blocks: Addresses, diags: Diagnostics,
           locate: Locator) -> tuple[list[Step], list[KeyPath]]:
    choices = [*blocks.addresses, *blocks.by_name]
    steps: list[Step] = []
    paths: list[KeyPath] = []
    for i, raw in enumerate(section.steps):
        path = (*base, "steps", i)
        target, colon, command = raw.partition(":")
        target, command = target.strip(), command.strip()
        if colon and not command:
            diags.add(Diagnostic(f"step '{raw}' has an empty command after ':'",
                                 path=format_path(path), location=locate(path, False),
                                 hint=f"write '{target}' or '{target}:COMMAND'"))
            continue
        address, problem = blocks.find(target)
        if address is None:
            hint = (f"write it as one of {', '.join(sorted(blocks.by_name[target]))}"
                    if target in blocks.by_name else did_you_mean(target, choices))
            message = (f"step {problem}" if target in blocks.by_name
                       or (problem and "abstract" in problem) else f"unknown step '{target}'")
            diags.add(Diagnostic(message, path=format_path(path),
                                 location=locate(path, False), hint=hint))
            continue
        steps.append(Step(raw=raw, address=address, command=command if colon else None))
        paths.append(path)
    return steps, paths


def _depends_on(stack_file: StackFile, pname: str, section: PipelineSection, blocks: Addresses,
                diags: Diagnostics, locate: Locator) -> tuple[str, ...]:
    """The pipelines and blocks the pipeline waits for, as addresses."""
    names = stack_file.core.pipelines
    choices = [*blocks.addresses, *blocks.by_name]
    depends: list[str] = []
    for i, ref in enumerate(section.depends_on):
        path = ("pipelines", pname, "depends_on", i)
        if ref in names or (ref.startswith("pipelines.")
                            and ref[len("pipelines."):] in names):
            address = ref if ref.startswith("pipelines.") else f"pipelines.{ref}"
        else:
            found, problem = blocks.find(ref)
            if found is None:
                diags.add(Diagnostic(
                    f"depends_on names unknown pipeline or block '{ref}'"
                    if problem and problem.startswith("unknown") else f"depends_on {problem}",
                    path=format_path(path), location=locate(path, False),
                    hint=did_you_mean(ref, [*names, *choices]),
                ))
                continue
            address = found
        if address == f"pipelines.{pname}":
            diags.add(Diagnostic("a pipeline cannot depend on itself",
                                 path=format_path(path), location=locate(path, False)))
        elif address not in depends:
            depends.append(address)
    return tuple(depends)


def _schedule(schedule: str | None, base: KeyPath, interp: Interpolator, diags: Diagnostics,
              locate: Locator) -> str | None:
    """The schedule interpolated and stripped (None when blank); a bad one is a diagnostic."""
    if schedule is not None and "$" in schedule:
        resolved, _ = interp.interpolate(schedule, (*base, "schedule"))
        schedule = str(resolved)
    if schedule is not None:
        problem = schedule_problem(schedule)
        if problem is not None:
            path = (*base, "schedule")
            diags.add(Diagnostic(problem, path=format_path(path),
                                 location=locate(path, False)))
        schedule = schedule.strip() or None
    return schedule
