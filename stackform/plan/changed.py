"""``plan --changed-since REF``: which resources a git change touches, and what is downstream.

The change is everything between ``REF`` and the working tree: committed, uncommitted and
untracked (not ignored) files. A resource is *touched* when lines of its block in the stack file
changed, or a file it is built from changed: what its provider watches
(:class:`~stackform.provider.WatchesPaths`: a ``files`` block's template, a dbt project, a
plugin developed in the repository). Everything depending on a touched resource, directly or
not, is *downstream*. gitpython is imported only here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackform.config.loader import StackFile
from stackform.config.model import ResolvedStack
from stackform.errors import StackformError
from stackform.graph import resource_dependencies
from stackform.provider import WatchesPaths
from stackform.registry import Registry

WHOLE_FILE = None
"""A changed file whose line numbers do not matter (new, deleted, binary, untracked)."""

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")


@dataclass(frozen=True)
class ChangedSince:
    ref: str
    commit: str | None
    files: tuple[str, ...]
    """Changed files, relative to the repository root."""
    touched: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Address -> why it is touched."""
    downstream: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "commit": self.commit,
            "files": list(self.files),
            "touched": list(self.touched),
            "reasons": {a: list(r) for a, r in self.touched.items()},
            "downstream": list(self.downstream),
        }


def changed_files(directory: Path, ref: str) -> tuple[Path, str, dict[Path, set[int] | None]]:
    """The repository root, REF's commit, and each changed file (absolute) with its changed
    line numbers in the working tree (``None``: the whole file)."""
    try:
        import git
    except ImportError as exc:  # the git executable is missing
        raise StackformError("--changed-since needs git", hint=str(exc)) from None
    try:
        repo = git.Repo(directory, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise StackformError(f"--changed-since needs a git repository; {directory} is not "
                             "in one") from None
    try:
        commit = repo.commit(ref).hexsha
    except Exception:  # BadName, BadObject, ValueError: all mean "no such commit"
        raise StackformError(f"--changed-since: git knows no commit {ref!r}",
                             hint="fetch it first (CI clones are often shallow: "
                                  "fetch-depth: 0)") from None
    root = Path(str(repo.working_tree_dir)).resolve()
    patch = repo.git.execute(
        ["git", "-c", "core.quotePath=false", "diff", commit, "--unified=0", "--no-color",
         "--no-ext-diff", "--no-renames", "--"])
    changes = parse_diff(str(patch), root)
    for name in repo.untracked_files:
        changes[(root / name).resolve()] = WHOLE_FILE
    return root, commit, changes


def parse_diff(patch: str, root: Path) -> dict[Path, set[int] | None]:
    """Changed files and lines from ``git diff --unified=0`` output."""
    changes: dict[Path, set[int] | None] = {}
    old: str | None = None
    current: Path | None = None
    for line in patch.splitlines():
        if line.startswith("diff --git "):
            old = current = None
        elif line.startswith("--- "):
            old = line[6:] if line.startswith("--- a/") else None
        elif line.startswith("+++ "):
            if line.startswith("+++ b/"):
                current = (root / line[6:]).resolve()
                changes.setdefault(current, set())
            elif old is not None:  # deleted
                changes[(root / old).resolve()] = WHOLE_FILE
                current = None
        elif line.startswith("Binary files "):
            match = re.match(r"Binary files (?:a/(.*)|/dev/null) and (?:b/(.*)|/dev/null) differ",
                             line)
            if match:
                name = match.group(2) or match.group(1)
                changes[(root / name).resolve()] = WHOLE_FILE
        elif current is not None and (hunk := _HUNK.match(line)):
            start, count = int(hunk.group(1)), int(hunk.group(2) or 1)
            lines = changes.get(current)
            if lines is None:
                continue
            if count == 0:  # lines removed after line `start`
                lines.add(max(start, 1))
            else:
                lines.update(range(start, start + count))
    return changes


def block_lines(stack_file: StackFile, stack: ResolvedStack) -> dict[int, str]:
    """Line number -> the resource address whose block it belongs to (lines of other sections
    and comments between blocks are absent)."""
    starts: list[tuple[int, str | None]] = []
    resources = set(stack.resources)

    def walk(value: Any, path: tuple[Any, ...]) -> None:
        if path:
            owner = f"{path[0]}.{path[1]}" if len(path) >= 2 else None
            starts.append((stack_file.location(path).line,
                           owner if owner in resources else None))
        if isinstance(value, Mapping):
            for key, item in value.items():
                walk(item, (*path, key))

    walk(stack_file.data, ())
    starts.sort(key=lambda s: s[0])
    text = stack_file.text.splitlines()
    owners: dict[int, str] = {}
    for i, (line, owner) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else len(text) + 1
        if owner is None:
            continue
        # a block's header line and its keys share a start: never let a later, other owner
        # at the same line shorten it to nothing
        for n in range(line, max(end, line + 1)):
            if n not in owners:
                owners[n] = owner
    return owners


def _watched(stack: ResolvedStack, registry: Registry
             ) -> Iterator[tuple[str, str, Path]]:
    """``(address, what, absolute path)`` for each file or folder a resource is built from
    beyond its block, as its provider says (:class:`~stackform.provider.WatchesPaths`)."""
    watchers: dict[str, WatchesPaths | None] = {}
    for address, resource in stack.resources.items():
        if resource.kind not in watchers:
            provider = registry.get(resource.kind)
            watchers[resource.kind] = provider if isinstance(provider, WatchesPaths) else None
        watcher = watchers[resource.kind]
        if watcher is None:
            continue
        for what, path in watcher.watched_paths(stack, resource):
            yield address, what, (stack.dir / path).resolve()


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _ranges(numbers: Iterable[int]) -> str:
    items = sorted(set(numbers))
    runs: list[list[int]] = []
    for n in items:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def blast_radius(stack_file: StackFile, stack: ResolvedStack, registry: Registry, ref: str,
                 commit: str | None, root: Path, changes: Mapping[Path, set[int] | None]
                 ) -> ChangedSince:
    touched: dict[str, list[str]] = {}
    stack_path = stack_file.path.resolve()
    rel_stack = _rel(stack_path, root)
    if stack_path in changes:
        lines = changes[stack_path]
        if lines is None:
            for address in stack.resources:
                touched.setdefault(address, []).append(f"{rel_stack} is new")
        else:
            owners = block_lines(stack_file, stack)
            text = stack_file.text.splitlines()
            per: dict[str, set[int]] = {}
            for n in lines:
                content = text[n - 1].strip() if 0 < n <= len(text) else ""
                if n in owners and content and not content.startswith("#"):
                    per.setdefault(owners[n], set()).add(n)
            for address in stack.resources:
                if address in per:
                    touched.setdefault(address, []).append(
                        f"{rel_stack} line{'s' if len(per[address]) > 1 else ''} "
                        f"{_ranges(per[address])}")
    for address, what, path in _watched(stack, registry):
        hits = [p for p in changes if p == path or path in p.parents]
        if hits:
            names = sorted(_rel(p, root) for p in hits)
            shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more"
                                             if len(names) > 3 else "")
            touched.setdefault(address, []).append(f"{what} changed: {shown}")
    deps = resource_dependencies(stack)
    dependents: dict[str, set[str]] = {}
    for address, needs in deps.items():
        for need in needs:
            dependents.setdefault(need, set()).add(address)
    downstream: set[str] = set()
    todo = list(touched)
    while todo:
        for nxt in dependents.get(todo.pop(), ()):
            if nxt not in downstream and nxt not in touched:
                downstream.add(nxt)
                todo.append(nxt)
    order = list(stack.resources)
    return ChangedSince(
        ref=ref, commit=commit,
        files=tuple(sorted(_rel(p, root) for p in changes)),
        touched={a: tuple(touched[a]) for a in order if a in touched},
        downstream=tuple(a for a in order if a in downstream),
    )


def changed_since(stack_file: StackFile, stack: ResolvedStack, registry: Registry, ref: str
                  ) -> ChangedSince:
    root, commit, changes = changed_files(stack.dir, ref)
    return blast_radius(stack_file, stack, registry, ref, commit, root, changes)


def render_text(changed: ChangedSince) -> str:
    """Rich-markup lines for the text plan."""
    from rich.markup import escape

    n = len(changed.files)
    lines = [f"[bold]Blast radius[/] of the change since {escape(changed.ref)} "
             f"({escape((changed.commit or '')[:10])}): {n} changed file{'s' if n != 1 else ''}"]
    if not changed.touched:
        lines.append("  no resource is touched")
    for address, reasons in changed.touched.items():
        lines.append(f"  [yellow]*[/] {escape(address)}  [dim]({escape('; '.join(reasons))})[/]")
    for address in changed.downstream:
        lines.append(f"  [cyan]>[/] {escape(address)}  [dim](downstream)[/]")
    return "\n".join(lines)
