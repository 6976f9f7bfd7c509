"""Every module of stackform and of its providers imports on its own, whichever comes first,
and no module imports itself through others.

An import cycle breaks when the module that enters it asks the other side for a name not defined
yet, so each module is imported first in a clean interpreter: a child forked from a process that
has imported nothing of stackform (cheap, and as clean as a fresh interpreter). A cycle closed
by an import inside a function, or one only for type checking, breaks nothing yet but ties the
modules together all the same; the import graph is read from the source to find those.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {
    "stackform": ROOT / "stackform",
    "stackform_files": ROOT / "providers" / "stackform_files",
    "stackform_singer": ROOT / "providers" / "stackform_singer",
    "stackform_dbt": ROOT / "providers" / "stackform_dbt",
    "stackform_airflow": ROOT / "providers" / "stackform_airflow",
    "stackform_superset": ROOT / "providers" / "stackform_superset",
    "stackform_utilities": ROOT / "providers" / "stackform_utilities",
}
NOT_MODULES = {
    "stackform.__main__",  # runs the command line
    "stackform_airflow.dagbag_check",  # a script run by the plugin's own Python, with Airflow
}

# Imports each module named in argv[1] in a child forked from this process, which imports
# nothing of stackform itself; prints {module: traceback} for those that failed.
_IMPORT_EACH_FIRST = r"""
import importlib, json, os, sys, traceback

failed = {}
for name in json.loads(sys.argv[1]):
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            importlib.import_module(name)
            report = b""
        except BaseException:
            report = traceback.format_exc().encode()
        with os.fdopen(write_end, "wb") as out:
            out.write(report)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        report = reader.read()
    _, status = os.waitpid(pid, 0)
    if report or status:
        failed[name] = report.decode() or f"exit status {status}"
print(json.dumps(failed))
"""


def sources() -> dict[str, Path]:
    """Every module's source file, by module name (tests left out)."""
    found = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = path.relative_to(folder).with_suffix("").parts
            if "tests" in parts:
                continue
            name = ".".join((package, *parts)).removesuffix(".__init__")
            found[name] = path
    return {name: path for name, path in found.items() if name not in NOT_MODULES}


def modules() -> list[str]:
    return sorted(sources())


def imported(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of ``known`` that ``name`` imports anywhere: at the top, in a function, or
    for type checking only."""
    out = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def test_no_module_imports_itself_through_others() -> None:
    found = sources()
    graph = {name: imported(name, path, set(found)) for name, path in found.items()}
    # A package's own submodules are part of it, not a cycle through it.
    graph = {name: {t for t in targets if not t.startswith(f"{name}.")}
             for name, targets in graph.items()}
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as exc:
        pytest.fail("import cycle: " + " -> ".join(exc.args[1]))


def test_the_module_list_is_complete() -> None:
    found = modules()
    assert len(found) > 100
    for name in ("stackform.cli.main", "stackform.state.local", "stackform.plan.words",
                 "stackform_singer.pipe", "stackform_files._disk"):
        assert name in found


@pytest.mark.slow
def test_every_module_imports_first_in_a_clean_interpreter() -> None:
    # A share of the modules per core, each share in its own interpreter (about 35 s in one).
    names, cores = modules(), os.cpu_count() or 1
    shares = [names[i::cores] for i in range(cores)]
    procs = [subprocess.Popen([sys.executable, "-c", _IMPORT_EACH_FIRST, json.dumps(share)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              cwd=ROOT) for share in shares if share]
    failed: dict[str, str] = {}
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        failed.update(json.loads(out))
    assert failed == {}, "\n\n".join(f"{name}:\n{trace}" for name, trace in failed.items())


def test_help_loads_no_stack_machinery() -> None:
    """``stackform --help`` (and every command's import) stays a start-up: the stack file's
    reader, pydantic's schemas and the plan are loaded by the commands that use them."""
    code = ("import sys; import stackform.cli.main; "
            "print(sorted(m for m in ('stackform.config.loader', 'stackform.config.schema', "
            "'stackform.environments', 'stackform.plan.builder', 'pydantic') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]", out
