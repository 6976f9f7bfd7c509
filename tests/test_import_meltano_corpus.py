"""Every project of ``tests/meltano_corpus`` imports without a traceback, into TOML that parses;
``stackform validate`` on the result either passes or names only what the report said needs a
person (or stack features issue 17 adds on another branch); every key of the Meltano project is
either carried into the stack or named in the report. Some projects are golden files.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

from stackform.importers.meltano import import_project, write_import
from stackform.importers.meltano.read import read_project
from stackform.importers.meltano.report import Report
from tests.cli_helpers import STACKFORM, make_env

CORPUS = Path(__file__).parent / "meltano_corpus"
PROJECTS = sorted(p.name for p in CORPUS.iterdir() if (p / "meltano.yml").is_file())
GOLDEN = ("docs-environments", "docs-inherit", "interpolation", "mappers", "multi-file")

# Syntax of the stack features of issue 17 items 1-6 (extends, mappers, utilities, env), which
# the importer emits and which another branch adds to the stack file.
CARRIED = {"name", "pip_url", "executable", "python", "config", "env", "select", "metadata",
           "schema", "inherit_from", "settings", "commands", "mappings"}
ERROR = re.compile(r"^\S+:\d+:\d+: error: (\S+?): (.*)$")


def _import(name: str, tmp_path: Path) -> tuple[Path, Any, Report]:
    project = tmp_path / name
    shutil.copytree(CORPUS / name, project, ignore=shutil.ignore_patterns("expected.*"))
    imported = import_project(project)
    write_import(imported, project / "stack.toml", force=False,
                 report_path=project / "report.json")
    return project, imported, imported.report


@pytest.mark.parametrize("name", PROJECTS)
def test_corpus_project_imports(name: str, tmp_path: Path) -> None:
    project, imported, report = _import(name, tmp_path)
    text = (project / "stack.toml").read_text()
    assert tomllib.loads(text) == imported.stack
    proc = subprocess.run([STACKFORM, "-C", str(project), "validate"], capture_output=True,
                          text=True, env=make_env(tmp_path / "home"), timeout=120)
    output = proc.stdout + proc.stderr
    assert "Traceback" not in output and "internal error" not in output, output
    assert proc.returncode in (0, 1), output
    unexplained = [line for line in proc.stderr.splitlines()
                   if ERROR.match(line) and not _explained(line, report)]
    assert not unexplained, f"validate found what the report does not name:\n{output}"
    assert not _unaccounted(project, report)


def _explained(line: str, report: Report) -> bool:
    m = ERROR.match(line)
    assert m is not None
    path, message = m.groups()
    unset = re.search(r"environment variable '(\w+)' is not set", message)
    if unset:  # the report says which variables every machine must set
        return any(e.subject == f"${unset.group(1)}" for e in report.of("person"))
    step = re.search(r"step '([^']+)'", message)
    if step:  # a job naming what the project does not declare: warned about
        return any(f"'{step.group(1)}'" in e.message for e in report.entries)
    block = ".".join(path.split(".")[:2])
    return any(f"[{block}]" in e.message for e in report.of("person"))


def _unaccounted(project_dir: Path, report: Report) -> list[str]:
    """Keys of the Meltano project that reached neither the stack nor the report."""
    project = read_project(project_dir)
    said = [(e.subject, e.message) for e in report.entries]

    def named(subject: str, key: str) -> bool:
        return any(s == subject and key in m for s, m in said)

    missing: list[str] = []
    for key in project.top:
        if key not in ("plugins", "environments", "jobs", "schedules") and \
                not any(s.split(".")[0] == key or key in m for s, m in said):
            missing.append(key)
    for kind, items in project.plugins.items():
        for p in items:
            subject = f"plugins.{kind}.{p['name']}"
            # A plugin that becomes no block is reported as a whole.
            whole = kind in ("files", "transforms") and any(s == subject for s, _ in said)
            for key in p:
                if not whole and key not in CARRIED and not named(subject, key):
                    missing.append(f"{subject}.{key}")
    for env in project.environments:
        for key in env:
            if key not in ("name", "config", "env") and \
                    not named(f"environments.{env['name']}", key):
                missing.append(f"environments.{env['name']}.{key}")
    for sched in project.schedules:
        for key in sched:
            if key not in ("name", "job", "interval", "extractor", "loader", "transform") and \
                    not named(f"schedules.{sched['name']}", key):
                missing.append(f"schedules.{sched['name']}.{key}")
    return missing


@pytest.mark.parametrize("name", GOLDEN)
def test_corpus_golden(name: str, tmp_path: Path) -> None:
    _, imported, report = _import(name, tmp_path)
    _golden(CORPUS / name / "expected.stack.toml", imported.text)
    _golden(CORPUS / name / "expected.report.md", report.markdown("meltano.yml", "stack.toml"))


def _golden(path: Path, text: str) -> None:
    if os.environ.get("STACKFORM_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text()
