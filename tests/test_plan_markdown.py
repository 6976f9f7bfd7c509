"""``plan --format markdown`` / ``--out-markdown`` (golden files, truncation) and
``plan --changed-since REF`` (the blast radius of a git change, in a real repository)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from stackform.plan.changed import ChangedSince, parse_diff
from stackform.plan.model import Action, AttributeChange, Drift, Plan, ResourceChange
from stackform.plan.render_markdown import MAX_CHARS, render_markdown
from tests.cli_helpers import Runner, plan_json, write_stack

GOLDEN = Path(__file__).parent / "golden"


def _fingerprint_key() -> dict[str, str]:
    from stackform.resource import SENSITIVE_KEY

    return {SENSITIVE_KEY: "pbkdf2-sha256$20000$c2FsdA$deadbeefcafe0123456789"}


def _plan(changes: tuple[ResourceChange, ...], **extra: object) -> Plan:
    base: dict[str, object] = dict(
        stack="demo", env="prod", lineage="LINEAGE", serial=7, stack_digest="DIGEST",
        tool_version="VERSION", created_at="CREATED_AT", changes=changes,
        git={"commit": "0123456789abcdef0123", "branch": "feature/x", "dirty": False,
             "user": "alice"},
        applied_git={"commit": "fedcba9876543210fedc", "branch": "main", "dirty": False,
                     "user": "ci"},
    )
    base.update(extra)
    return Plan(**base)  # type: ignore[arg-type]


def small_plan() -> Plan:
    secret = _fingerprint_key()
    changes = (
        ResourceChange("files.new", "files", Action.CREATE, None,
                       {"path": "out/new.txt", "content": "hi\n"},
                       (AttributeChange("content", None, "hi\n"),
                        AttributeChange("path", None, "out/new.txt"))),
        ResourceChange("loaders.warehouse", "loaders", Action.UPDATE,
                       {"config": {"password": secret, "schema": "raw"}},
                       {"config": {"password": secret, "schema": "raw2"}},
                       (AttributeChange("config.password", secret, secret, sensitive=True),
                        AttributeChange("config.schema", "raw", "raw2"),
                        AttributeChange("config.token", None, secret, sensitive=True)),
                       notes=("selection: + orders.note", "models affected: stg_orders")),
        ResourceChange("extractors.orders", "extractors", Action.REPLACE,
                       {"pip_url": "tap-a==1"}, {"pip_url": "tap-a==2"},
                       (AttributeChange("pip_url", "tap-a==1", "tap-a==2", force_new=True),),
                       reason="--replace"),
        ResourceChange("files.old", "files", Action.DELETE,
                       {"path": "out/old.txt", "content": "bye | `x`\n"}, None),
        ResourceChange("files.same", "files", Action.NOOP, {"path": "x"}, {"path": "x"}),
    )
    drift = (
        Drift("files.gone", "files", {"path": "out/gone.txt"}, None),
        Drift("files.edited", "files", {"content": "a"}, {"content": "b"},
              (AttributeChange("content", "a", "b"),)),
    )
    return _plan(changes, drift=drift,
                 warnings=("stack.toml:3:1: warning: unused variable 'x'",))


def huge_plan() -> Plan:
    changes = tuple(
        ResourceChange(
            f"files.f{i:04d}", "files", Action.CREATE if i % 2 else Action.UPDATE,
            None if i % 2 else {"content": "x" * 3000},
            {"content": "y" * 3000, **{f"k{j}": j for j in range(40)}},
            tuple([AttributeChange("content", None if i % 2 else "x" * 3000, "y" * 3000)]
                  + [AttributeChange(f"k{j}", None, j) for j in range(40)]),
            notes=tuple(f"note {n}" for n in range(30)),
        )
        for i in range(400)
    )
    return _plan(changes)


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("STACKFORM_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert text == path.read_text()


def test_small_plan_matches_golden() -> None:
    text = render_markdown(small_plan())
    _golden("plan-small.md", text)
    assert len(text) < MAX_CHARS
    assert "truncated" not in text
    assert "deadbeef" not in text and "pbkdf2" not in text
    assert "(sensitive)" in text
    # one collapsible section per actionable resource, none for the no-op
    assert text.count("<details>") == 4
    assert "files.same" not in text


def test_huge_plan_is_truncated_and_says_so() -> None:
    text = render_markdown(huge_plan())
    _golden("plan-huge-truncated.md", text)
    assert len(text) < MAX_CHARS
    head = text.split("**Plan:**")[0]
    assert "This plan is truncated" in head
    assert "yyyyyyyyyy… (3002 chars)" in text  # long values shortened
    assert "more attributes not shown" in text  # long sections shortened
    # later resources are summarised one line each
    assert "- `+ files.f0399` will be created, 41 attributes" in text


def test_limit_holds_for_any_size() -> None:
    plan = huge_plan()
    for n in (1, 10, 60, 400):
        text = render_markdown(_plan(plan.changes[:n]), max_chars=MAX_CHARS)
        assert len(text) < MAX_CHARS


def test_limit_holds_when_escapes_make_the_text_longer() -> None:
    # each bidi override becomes six characters (\u202e): the limit counts the escaped text
    evil = "\u202e" * 3000
    changes = tuple(
        ResourceChange(f"files.f{i:03d}", "files", Action.CREATE, None, {"content": evil},
                       (AttributeChange("content", None, evil),), notes=(evil[:500],))
        for i in range(60))
    for n in (1, 10, 60):
        text = render_markdown(_plan(changes[:n]))
        assert len(text) < MAX_CHARS
        assert "\u202e" not in text and "\\u202e" in text


def test_blast_radius_in_markdown() -> None:
    changed = ChangedSince("main", "abc", ("stack.toml",), {"files.new": ("stack.toml line 4",)},
                           ("files.old",))
    text = render_markdown(small_plan(), changed)
    assert "#### Blast radius of the change since `main`" in text
    assert "- `files.new`: stack.toml line 4" in text
    assert "<code>+ files.new</code> will be created — touched by the change" in text
    assert "<code>- files.old</code> will be destroyed — downstream of the change" in text


def test_parse_diff_lines(tmp_path: Path) -> None:
    patch = "\n".join([
        "diff --git a/stack.toml b/stack.toml", "--- a/stack.toml", "+++ b/stack.toml",
        "@@ -3 +3 @@", "-a", "+b", "@@ -10,2 +9,0 @@", "-x", "-y", "@@ -20,0 +19,2 @@",
        "diff --git a/gone.txt b/gone.txt", "--- a/gone.txt", "+++ /dev/null", "@@ -1 +0,0 @@",
        "diff --git a/img.png b/img.png", "Binary files a/img.png and b/img.png differ",
    ])
    changes = parse_diff(patch, tmp_path)
    assert changes[tmp_path / "stack.toml"] == {3, 9, 19, 20}
    assert changes[tmp_path / "gone.txt"] is None
    assert changes[tmp_path / "img.png"] is None


# -- end to end --------------------------------------------------------------------------------

STACK = """
[stack]
name = "demo"

[files.a]
path = "out/a.txt"
content = "a\\n"

[files.b]
path = "out/b.txt"
content = "b\\n"
depends_on = ["files.a"]

[files.c]
path = "out/c.txt"
template = "templates/c.tmpl"
vars = { x = "1" }

[files.d]
path = "out/d.txt"
content = "d\\n"
depends_on = ["files.c"]

[files.e]
path = "out/e.txt"
content = "e\\n"
"""


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=T", *args], cwd=cwd,
        check=True, capture_output=True, text=True,
        env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1"}).stdout


@pytest.fixture
def repo(project: Path) -> Path:
    write_stack(project, STACK)
    (project / "templates").mkdir()
    (project / "templates" / "c.tmpl").write_text("c ${x}\n")
    (project / ".gitignore").write_text(".stackform/\nout/\n*.sfplan\n*.md\n")
    _git(project, "init", "-q", "-b", "main")
    _git(project, "add", "-A")
    _git(project, "commit", "-qm", "init")
    return project


@pytest.mark.slow
def test_markdown_and_saved_plan_in_one_run(sf: Runner, repo: Path) -> None:
    result = sf("plan", "-o", "p.sfplan", "--out-markdown", "p.md", "--detailed-exitcode")
    assert result.code == 2, result
    assert "Plan: 5 to add" in result.stdout  # text still on stdout
    assert (repo / "p.sfplan").is_file()
    comment = (repo / "p.md").read_text()
    assert comment.startswith("### stackform plan: `demo` in `dev`")
    assert "| To add | 5 |" in comment
    assert "<summary><code>+ files.a</code> will be created</summary>" in comment
    stdout = sf("plan", "--format", "markdown")
    assert stdout.code == 0, stdout
    norm = re.compile(r"planned \S+")
    assert norm.sub("", stdout.stdout.rstrip("\n")) == norm.sub("", comment.rstrip("\n"))
    assert sf("apply", "p.sfplan").code == 0


@pytest.mark.slow
def test_changed_since_marks_touched_and_downstream(sf: Runner, repo: Path) -> None:
    _git(repo, "checkout", "-qb", "feature")
    # committed: files.a's block; uncommitted: the template of files.c; untracked: nothing
    stack = (repo / "stack.toml").read_text().replace('content = "a\\n"', 'content = "A\\n"')
    (repo / "stack.toml").write_text(stack)
    _git(repo, "commit", "-qam", "edit a")
    (repo / "templates" / "c.tmpl").write_text("c ${x} changed\n")
    (repo / "templates" / "extra.tmpl").write_text("untracked\n")

    doc = plan_json(sf("plan", "--format", "json", "--changed-since", "main"))
    changed = doc["changed_since"]
    assert changed["ref"] == "main"
    assert changed["touched"] == ["files.a", "files.c"]
    assert changed["downstream"] == ["files.b", "files.d"]
    assert changed["reasons"]["files.a"] == ["stack.toml line 6"]
    assert changed["reasons"]["files.c"] == ["template changed: templates/c.tmpl"]
    assert "templates/extra.tmpl" in changed["files"]
    assert doc["resource_changes"]  # still the plan document

    text = sf("plan", "--changed-since", "main")
    assert text.code == 0, text
    assert "Blast radius of the change since main" in text.stdout
    assert "* files.a  (stack.toml line 6)" in text.stdout
    assert "> files.d  (downstream)" in text.stdout
    assert "files.e" not in text.stdout.split("Blast radius")[1]

    md = sf("plan", "--format", "markdown", "--changed-since", "main")
    assert "<code>+ files.b</code> will be created — downstream of the change" in md.stdout

    # nothing changed since HEAD once everything is committed
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "all")
    clean = plan_json(sf("plan", "--format", "json", "--changed-since", "HEAD"))
    assert clean["changed_since"]["touched"] == []
    assert clean["changed_since"]["files"] == []


@pytest.mark.slow
def test_changed_since_errors(sf: Runner, repo: Path) -> None:
    bad = sf("plan", "--changed-since", "no-such-ref")
    assert bad.code == 1, bad
    assert "no commit 'no-such-ref'" in bad.stderr
    assert "Traceback" not in bad.output
