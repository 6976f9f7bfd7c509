"""The shape of the code: small modules and short functions, and the package layout
docs/design.md describes ("Structure").

Every module of ``stackform/`` and of each ``providers/*/`` package (tests left out) is read
with ``ast``: a module over :data:`MAX_MODULE_LINES` lines or a function over
:data:`MAX_FUNCTION_LINES` lines (decorators and docstring included) fails, naming it, unless
:data:`ALLOWED` lists it with the reason it is better whole. An entry that no longer needs to be
there fails too, so the list only shrinks.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 60

ALLOWED: dict[str, str] = {
    # "path" for a module, "path::Qualified.name" for a function: why it stays as it is.
    "providers/tap-stackform-jsonl/src/tap_stackform_jsonl/sync.py::Sync._read": (
        "the tap's hot loop over every line: locals bound once and no call per record are "
        "what make it fast"
    ),
}


def source_files() -> Iterator[Path]:
    folders = [ROOT / "stackform", *sorted(p for p in (ROOT / "providers").iterdir() if p.is_dir())]
    for folder in folders:
        for path in sorted(folder.rglob("*.py")):
            if "tests" not in path.relative_to(ROOT).parts:
                yield path


def functions(tree: ast.AST, prefix: str = "") -> Iterator[tuple[str, int]]:
    """(qualified name, lines) of every function and method, nested ones too."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            assert node.end_lineno is not None
            yield f"{prefix}{node.name}", node.end_lineno - first + 1
            yield from functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            yield from functions(node, f"{prefix}{node.name}.")
        else:
            yield from functions(node, prefix)


def too_long() -> dict[str, str]:
    """Every module and function over its limit: key as in :data:`ALLOWED` -> what is wrong."""
    found: dict[str, str] = {}
    for path in source_files():
        rel = path.relative_to(ROOT).as_posix()
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        if lines > MAX_MODULE_LINES:
            found[rel] = f"{lines} lines (at most {MAX_MODULE_LINES})"
        for name, length in functions(ast.parse(text, filename=rel)):
            if length > MAX_FUNCTION_LINES:
                found[f"{rel}::{name}"] = f"{length} lines (at most {MAX_FUNCTION_LINES})"
    return found


def test_modules_and_functions_are_small() -> None:
    over = {key: what for key, what in too_long().items() if key not in ALLOWED}
    assert not over, "split these along a real seam (or list them in ALLOWED with a reason):\n" + (
        "\n".join(f"  {key}: {what}" for key, what in sorted(over.items())))


def test_every_allowance_is_still_needed() -> None:
    stale = sorted(set(ALLOWED) - set(too_long()))
    assert not stale, f"no longer too long (or gone); remove from ALLOWED: {stale}"


def test_every_allowance_has_a_reason() -> None:
    assert all(reason.strip() for reason in ALLOWED.values())


def test_apply_and_walk_live_next_to_plan() -> None:
    plan = ROOT / "stackform" / "plan"
    for name in ("builder", "apply", "walk", "saved", "model"):
        assert (plan / f"{name}.py").is_file(), name
    assert not (ROOT / "stackform" / "apply.py").exists()
    assert not (ROOT / "stackform" / "walk.py").exists()


def test_plugin_installs_live_in_plugins() -> None:
    plugins = ROOT / "stackform" / "plugins"
    for name in ("kit", "installs", "spec", "uvtool", "lockfile", "locking", "connectors"):
        assert (plugins / f"{name}.py").is_file(), name
    for old in ("pluginkit", "installs", "uvtool", "lockfile", "connectors"):
        assert not (ROOT / "stackform" / f"{old}.py").exists(), old


def test_the_measure_names_methods_and_nested_functions_and_counts_decorators() -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(60))
    source = (f"@decorator\ndef long():\n{body}\n\nclass C:\n    def short(self):\n"
              f"        def inner():\n            pass\n")
    found = dict(functions(ast.parse(source)))
    assert found == {"long": 62, "C.short": 3, "C.short.inner": 2}
    assert found["long"] > MAX_FUNCTION_LINES
