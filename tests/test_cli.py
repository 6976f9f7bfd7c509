"""Every command of the CLI, end to end: the installed ``stackform`` script in a subprocess, the
real local state backend, the ``files`` provider and the test-only ``sleepers`` provider."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest

from tests.cli_helpers import (
    FILES_STACK,
    Runner,
    actions,
    assert_clean_error,
    kill9,
    lock_path,
    lock_record,
    plan_json,
    read_state,
    sleepers_stack,
    state_path,
    wait_for,
    write_stack,
)

pytestmark = pytest.mark.slow


LOCATION = re.compile(r"stack\.toml:\d+:\d+: error:")


@pytest.fixture
def applied(sf: Runner, project: Path) -> Runner:
    """The files stack, applied to dev."""
    write_stack(project, FILES_STACK)
    result = sf("apply", "--auto-approve")
    assert result.code == 0, result
    return sf


# -- top level ---------------------------------------------------------------------------------


def test_version_flag_and_command(sf: Runner) -> None:
    from stackform import __version__

    flag = sf("--version")
    assert flag.code == 0, flag
    assert flag.stdout.strip() == f"stackform {__version__}"
    assert sf("-V").stdout == flag.stdout
    command = sf("version")
    assert command.code == 0, command
    assert f"stackform {__version__}" in command.stdout
    # Installed providers are listed with the distribution that ships them.
    assert "provider files" in command.stdout
    assert "provider sleepers" in command.stdout


def test_help_lists_every_command(sf: Runner) -> None:
    result = sf("--help")
    assert result.code == 0, result
    for command in ("init", "validate", "plan", "apply", "destroy", "graph", "fmt", "state",
                    "force-unlock", "secret", "version"):
        assert re.search(rf"^\s+{re.escape(command)}\b", result.stdout, re.M), command
    state_help = sf("state", "--help")
    assert state_help.code == 0
    for sub in ("list", "show", "rm", "mv", "pull", "push"):
        assert re.search(rf"^\s+{sub}\b", state_help.stdout, re.M), sub
    plan_help = sf("plan", "--help")
    for option in ("--detailed-exitcode", "--target", "--replace", "--refresh", "--out",
                   "--refresh-only", "--format"):
        assert option in plan_help.stdout


def test_no_stack_file_is_a_clear_error(sf: Runner) -> None:
    result = sf("plan")
    assert_clean_error(result)
    assert "stack.toml" in result.stderr


# -- init --------------------------------------------------------------------------------------


def test_init_scaffold_validates_plans_and_applies(sf: Runner, project: Path) -> None:
    result = sf("init")
    assert result.code == 0, result
    text = (project / "stack.toml").read_text()
    assert text.lstrip().startswith("#")  # commented
    assert text.count("\n#") >= 3
    ignore = (project / ".gitignore").read_text().splitlines()
    assert ".stackform/" in ignore
    assert "*.sfplan" in ignore
    assert "out/" in ignore, "what the stack renders is covered"
    # The comments point at documentation a user of the package has.
    pages = re.findall(r"`stackform docs ([a-z-]+)`", text)
    assert "stack-file" in pages
    assert "docs/" not in text, "a path of the source tree: a wheel user has none"
    for page in pages:
        shown = sf("docs", page)
        assert shown.code == 0 and shown.stdout.startswith("# "), shown
    prod = text[:text.index("[environments.prod]")].rsplit("\n\n", 1)[-1]
    assert "git" in prod and "clean" in prod and "branch" in prod, prod

    validate = sf("validate")
    assert validate.code == 0, validate
    assert "valid" in validate.stderr
    plan = sf("plan", "--detailed-exitcode")
    assert plan.code == 2, plan
    assert "1 to add" in plan.stdout
    apply = sf("apply", "--auto-approve")
    assert apply.code == 0, apply
    assert (project / "out" / "dev" / "README.txt").read_text() == "hello from dev\n"


def test_init_stack_applies_to_protected_prod_once_committed(sf: Runner, project: Path) -> None:
    """What init writes is covered by its .gitignore: after a dev apply the tree is still
    clean, so prod (protected) applies from the committed stack, as its comment says."""
    from tests.test_protected import git

    assert sf("init").code == 0
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "stack")
    assert sf("apply", "--auto-approve").code == 0
    assert (project / "out" / "dev" / "README.txt").exists()
    assert git(project, "status", "--porcelain") == ""
    prod = sf("apply", "--env", "prod", "--auto-approve")
    assert prod.code == 0, prod
    assert (project / "out" / "prod" / "README.txt").read_text() == "hello from production\n"


def test_docs_lists_shows_and_locates_the_shipped_pages(sf: Runner, project: Path) -> None:
    docs = Path(__file__).resolve().parents[1] / "docs"
    listing = sf("docs")
    assert listing.code == 0, listing
    names = [line.split()[0] for line in listing.stdout.splitlines() if line.strip()]
    assert names == sorted(p.stem for p in docs.glob("*.md"))
    assert "singer  " in listing.stdout and "Singer: extractors, loaders" in listing.stdout
    page = sf("docs", "singer")
    assert page.code == 0 and page.stdout == (docs / "singer.md").read_text(), page
    assert sf("docs", "stack-file.md", "--path").stdout.strip() == str(docs / "stack-file.md")
    assert sf("docs", "--path").stdout.strip() == str(docs)
    unknown = sf("docs", "singr")
    assert_clean_error(unknown)
    assert "no documentation page 'singr'" in unknown.stderr
    assert "singer" in unknown.stderr and "stack-file" in unknown.stderr


def test_init_refuses_to_overwrite_without_force(sf: Runner, project: Path) -> None:
    (project / ".gitignore").write_text("node_modules/\n")
    assert sf("init").code == 0
    (project / "stack.toml").write_text("# mine\n")
    again = sf("init")
    assert_clean_error(again)
    assert "already exists" in again.stderr
    assert "--force" in again.stderr
    assert (project / "stack.toml").read_text() == "# mine\n"

    forced = sf("init", "--force")
    assert forced.code == 0, forced
    assert "[stack]" in (project / "stack.toml").read_text()
    # The ignore entries are added once, after what was there.
    ignore = (project / ".gitignore").read_text().splitlines()
    assert ignore[0] == "node_modules/"
    assert ignore.count(".stackform/") == 1
    assert ignore.count("*.sfplan") == 1


def test_init_into_a_new_folder_with_directory_option(sf: Runner, project: Path) -> None:
    result = sf("-C", str(project), "init", "new-stack")
    assert result.code == 0, result
    text = (project / "new-stack" / "stack.toml").read_text()
    assert 'name = "new_stack"' in text
    assert sf("-C", str(project / "new-stack"), "validate").code == 0


def test_init_output_is_already_formatted(sf: Runner, project: Path) -> None:
    assert sf("init").code == 0
    check = sf("fmt", "--check")
    assert check.code == 0, check


# -- validate ----------------------------------------------------------------------------------


def test_validate_success_message(sf: Runner, project: Path) -> None:
    write_stack(project, FILES_STACK)
    result = sf("validate")
    assert result.code == 0, result
    assert "The stack is valid: 3 resources" in result.stderr
    assert len(result.stderr.splitlines()) == 1, result  # no warning
    assert result.stdout == ""


def test_validate_reports_every_problem_with_location_and_key_path(
        sf: Runner, project: Path) -> None:
    write_stack(project, """
        [stack]
        name = "bad"

        [files.a]
        path = "a.txt"
        contnet = "hi"

        [files.b]
        path = 5
        content = "x"

        [files.c]
        path = "c.txt"
        content = "${var.nope}"
        depends_on = ["files.zzz"]
    """)
    result = sf("validate")
    assert_clean_error(result)
    err = result.stderr
    assert re.search(r"stack\.toml:6:1: error: files\.a\.contnet: unknown key", err), result
    assert "did you mean 'content'?" in err
    assert re.search(r"stack\.toml:9:8: error: files\.b\.path: expected a string", err), result
    assert re.search(r"stack\.toml:14:\d+: error: files\.c\.content: unknown var 'nope'", err)
    assert re.search(r"stack\.toml:15:\d+: error: files\.c\.depends_on\[0\]: .*files\.zzz", err)
    assert "4 problems" in err
    assert result.stdout == ""


def test_validate_bad_toml(sf: Runner, project: Path) -> None:
    (project / "stack.toml").write_text('[stack]\nname = "x"\n[files.a]\npath = "a\n')
    result = sf("validate")
    assert_clean_error(result)
    assert re.search(r"stack\.toml:4:\d+: error: invalid TOML", result.stderr), result


# -- plan --------------------------------------------------------------------------------------


def test_plan_text_and_detailed_exitcode(sf: Runner, project: Path) -> None:
    write_stack(project, FILES_STACK)
    plain = sf("plan")
    assert plain.code == 0, plain
    assert "+ files.a" in plain.stdout
    assert "Plan: 3 to add, 0 to change, 0 to replace, 0 to destroy." in plain.stdout
    assert not (project / "out").exists(), "plan must change nothing"
    assert not state_path(project).exists()
    assert sf("plan", "--detailed-exitcode").code == 2
    assert sf("apply", "--auto-approve").code == 0
    none = sf("plan", "--detailed-exitcode")
    assert none.code == 0, none
    assert "No changes." in none.stdout


def test_plan_json_is_terraform_like(applied: Runner, project: Path) -> None:
    write_stack(project, FILES_STACK.replace('content = "c\\n"', 'content = "C\\n"')
                .replace('path = "out/b.txt"', 'path = "out/b2.txt"')
                + '\n[files.d]\npath = "out/d.txt"\ncontent = "d"\n')
    result = applied("plan", "--format", "json")
    assert result.code == 0, result
    doc = json.loads(result.stdout)
    assert doc["format_version"]
    assert doc["environment"] == "dev"
    assert actions(doc) == {
        "files.a": ["no-op"],
        "files.b": ["delete", "create"],
        "files.c": ["update"],
        "files.d": ["create"],
    }
    by_address = {c["address"]: c for c in doc["resource_changes"]}
    c = by_address["files.c"]["change"]
    assert c["before"]["content"] == "c\n"
    assert c["after"]["content"] == "C\n"
    assert by_address["files.d"]["change"]["before"] is None
    assert by_address["files.b"]["change"]["replace_paths"] == ["path"]
    assert doc["summary"] == {"add": 1, "change": 1, "replace": 1, "destroy": 0}
    assert doc["has_changes"] is True

    write_stack(project, FILES_STACK.replace("[files.c]", "[files.c_gone]"))
    gone = plan_json(applied("plan", "--format", "json"))
    assert actions(gone)["files.c"] == ["delete"]


def test_saved_plan_is_applied_exactly(applied: Runner, project: Path) -> None:
    write_stack(project, FILES_STACK.replace('"${var.greeting} a\\n"', '"bye a\\n"'))
    serial = read_state(project)["serial"]
    saved = applied("plan", "-o", "change.sfplan")
    assert saved.code == 0, saved
    assert (project / "change.sfplan").stat().st_mode & 0o077 == 0
    result = applied("apply", "change.sfplan")  # no --auto-approve needed: it was reviewed
    assert result.code == 0, result
    assert (project / "out" / "a.txt").read_text() == "bye a\n"
    assert read_state(project)["serial"] == serial + 1
    assert applied("plan", "--detailed-exitcode").code == 0


def test_saved_plan_is_refused_after_the_stack_changed(applied: Runner, project: Path) -> None:
    write_stack(project, FILES_STACK.replace('greeting = "hello"', 'greeting = "hi"'))
    assert applied("plan", "-o", "p.sfplan").code == 0
    write_stack(project, FILES_STACK.replace('greeting = "hello"', 'greeting = "hey"'))
    before = state_path(project).read_bytes()
    result = applied("apply", "p.sfplan")
    assert_clean_error(result)
    assert "changed since the plan was made" in result.stderr
    assert "plan" in result.stderr  # the hint says to plan again
    assert state_path(project).read_bytes() == before
    assert (project / "out" / "a.txt").read_text() == "hello a\n"


def test_saved_plan_is_refused_after_another_apply(applied: Runner, project: Path) -> None:
    write_stack(project, FILES_STACK.replace('greeting = "hello"', 'greeting = "hi"'))
    assert applied("plan", "-o", "p.sfplan").code == 0
    assert applied("apply", "--auto-approve").code == 0
    serial = read_state(project)["serial"]
    result = applied("apply", "p.sfplan")
    assert_clean_error(result)
    assert f"serial {serial} now" in result.stderr, result
    assert read_state(project)["serial"] == serial


def test_saved_plan_for_another_environment_is_refused(sf: Runner, project: Path) -> None:
    write_stack(project, FILES_STACK + '\n[environments.dev]\n[environments.prod]\n')
    assert sf("plan", "--env", "prod", "-o", "prod.sfplan").code == 0
    result = sf("apply", "prod.sfplan")
    assert_clean_error(result)
    assert "prod" in result.stderr
    assert not (project / "out").exists()
    assert sf("apply", "--env", "prod", "prod.sfplan").code == 0


def test_plan_target_limits_to_the_resource_and_its_dependencies(
        sf: Runner, project: Path) -> None:
    write_stack(project, FILES_STACK)
    doc = plan_json(sf("plan", "--format", "json", "--target", "files.b"))
    changing = {a for a, acts in actions(doc).items() if acts != ["no-op"]}
    assert changing == {"files.a", "files.b"}
    result = sf("apply", "--auto-approve", "--target", "files.b")
    assert result.code == 0, result
    assert not (project / "out" / "c.txt").exists()
    assert sorted(read_state(project)["resources"]) == ["files.a", "files.b"]
    unknown = sf("plan", "--target", "files.nope")
    assert_clean_error(unknown)
    assert "files.nope" in unknown.stderr


def test_plan_replace_forces_delete_create(applied: Runner) -> None:
    doc = plan_json(applied("plan", "--format", "json", "--replace", "files.c"))
    acts = actions(doc)
    assert acts["files.c"] == ["delete", "create"]
    assert acts["files.a"] == ["no-op"]
    result = applied("apply", "--auto-approve", "--replace", "files.c")
    assert result.code == 0, result
    assert "replace" in result.stdout


def test_refresh_false_skips_reading_real_resources(applied: Runner, project: Path) -> None:
    (project / "out" / "c.txt").unlink()
    refreshed = plan_json(applied("plan", "--format", "json"))
    assert actions(refreshed)["files.c"] == ["create"]
    not_refreshed = applied("plan", "--refresh=false", "--detailed-exitcode")
    assert not_refreshed.code == 0, not_refreshed
    assert "No changes." in not_refreshed.stdout


def test_refresh_only_records_outside_changes_and_changes_nothing(
        applied: Runner, project: Path) -> None:
    (project / "out" / "c.txt").write_text("edited by hand\n")
    plan = applied("plan", "--refresh-only")
    assert plan.code == 0, plan
    assert "Changed outside stackform" in plan.stdout
    assert "files.c" in plan.stdout
    serial = read_state(project)["serial"]
    result = applied("apply", "--refresh-only", "--auto-approve")
    assert result.code == 0, result
    assert (project / "out" / "c.txt").read_text() == "edited by hand\n"
    state = read_state(project)
    assert state["serial"] == serial + 1
    assert state["resources"]["files.c"]["attributes"]["content"] == "edited by hand\n"
    # A normal plan now puts the declared content back.
    assert actions(plan_json(applied("plan", "--format", "json")))["files.c"] == ["update"]


def test_plan_rejects_unknown_format(applied: Runner) -> None:
    result = applied("plan", "--format", "yaml")
    assert result.code != 0
    assert "Traceback" not in result.output


# -- apply and destroy -------------------------------------------------------------------------


def test_apply_needs_auto_approve_without_a_terminal(sf: Runner, project: Path) -> None:
    write_stack(project, FILES_STACK)
    result = sf("apply")
    assert_clean_error(result)
    assert "--auto-approve" in result.stderr
    assert "no terminal" in result.stderr
    assert not (project / "out").exists()
    assert not state_path(project).exists()


def test_apply_summary_and_second_plan_is_empty(sf: Runner, project: Path) -> None:
    write_stack(project, FILES_STACK)
    result = sf("apply", "--auto-approve")
    assert result.code == 0, result
    assert re.search(r"files\.a\s+create\s+done", result.stdout), result
    state = read_state(project)
    assert (f"Apply complete: 3 resources changed in dev (state serial {state['serial']})."
            in result.stderr), result
    assert (project / "out" / "a.txt").read_text() == "hello a\n"
    assert sorted(state["resources"]) == ["files.a", "files.b", "files.c"]
    assert state["resources"]["files.b"]["dependencies"] == ["files.a"]
    again = sf("plan", "--detailed-exitcode")
    assert again.code == 0, again
    noop = sf("apply", "--auto-approve")
    assert noop.code == 0
    assert read_state(project)["serial"] == state["serial"], "a no-op apply writes nothing"


def test_apply_failure_skips_dependents_only(sf: Runner, project: Path) -> None:
    write_stack(project, sleepers_stack(["ok"], extra="""
        [sleepers.bad]
        value = "x"
        fail = true
        marker_dir = "markers"

        [sleepers.after_bad]
        value = "y"
        marker_dir = "markers"
        depends_on = ["sleepers.bad"]
    """))
    result = sf("apply", "--auto-approve")
    assert_clean_error(result)
    assert re.search(r"sleepers\.after_bad\s+create\s+skipped", result.stdout), result
    assert re.search(r"sleepers\.bad\s+create\s+failed", result.stdout), result
    assert sorted(read_state(project)["resources"]) == ["sleepers.ok"]


def test_destroy_removes_everything(applied: Runner, project: Path) -> None:
    refused = applied("destroy")
    assert_clean_error(refused)
    assert "--auto-approve" in refused.stderr
    result = applied("destroy", "--auto-approve")
    assert result.code == 0, result
    assert "Destroy complete: 3 resources changed" in result.stderr
    assert not any((project / "out").glob("*.txt"))
    assert read_state(project)["resources"] == {}
    assert applied("destroy", "--auto-approve").code == 0


# -- graph -------------------------------------------------------------------------------------


GRAPH_STACK = """
[stack]
name = "g"

[sleepers.orders]
value = "o"
marker_dir = "m"

[sleepers.warehouse]
value = "w"
marker_dir = "m"

[files.report]
path = "report.txt"
content = "r"
depends_on = ["sleepers.warehouse"]

[pipelines.daily]
steps = ["orders", "warehouse"]
schedule = "0 6 * * *"
"""


def test_graph_formats_include_pipelines(sf: Runner, project: Path) -> None:
    write_stack(project, GRAPH_STACK)
    text = sf("graph")
    assert text.code == 0, text
    for node in ("sleepers.orders", "sleepers.warehouse", "files.report", "pipelines.daily"):
        assert node in text.stdout
    dot = sf("graph", "--format", "dot")
    assert dot.code == 0, dot
    assert dot.stdout.startswith("digraph")
    assert '"sleepers.orders" -> "pipelines.daily"' in dot.stdout
    assert '"sleepers.warehouse" -> "files.report"' in dot.stdout
    mermaid = sf("graph", "--format", "mermaid")
    assert mermaid.code == 0, mermaid
    assert mermaid.stdout.startswith("flowchart")
    assert "pipelines.daily" in mermaid.stdout
    assert "-->" in mermaid.stdout
    bad = sf("graph", "--format", "svg")
    assert bad.code != 0
    assert "Traceback" not in bad.output


# -- fmt ---------------------------------------------------------------------------------------


def test_fmt_check_and_rewrite_keep_comments(sf: Runner, project: Path) -> None:
    messy = (
        '# top comment\n'
        '[stack]\n'
        'name="f"   # the name\n'
        '\n\n\n'
        '  [files.a]\n'
        '    path   =    "a.txt"\n'
        'content = "x"  # inline\n'
    )
    (project / "stack.toml").write_text(messy)
    check = sf("fmt", "--check")
    assert check.code == 1, check
    assert "not formatted" in check.output
    assert (project / "stack.toml").read_text() == messy, "--check writes nothing"

    result = sf("fmt")
    assert result.code == 0, result
    text = (project / "stack.toml").read_text()
    assert "# top comment" in text
    assert "# the name" in text
    assert "# inline" in text
    assert 'name = "f"' in text
    assert 'path = "a.txt"' in text
    assert "\n\n\n" not in text
    after = sf("fmt", "--check")
    assert after.code == 0, after
    assert sf("validate").code == 0


def test_fmt_keeps_a_comment_with_the_table_it_describes(sf: Runner, project: Path) -> None:
    text = (
        '[stack]\n'
        'name = "f"\n'
        '\n'
        '# the a file\n'
        '[files.a]\n'
        'path = "a.txt"\n'
        'content = "x"\n'
    )
    (project / "stack.toml").write_text(text)
    result = sf("fmt", "--check")
    assert result.code == 0, result


def test_fmt_refuses_invalid_toml(sf: Runner, project: Path) -> None:
    (project / "stack.toml").write_text('[stack\nname = "x"\n')
    result = sf("fmt")
    assert_clean_error(result)
    assert "invalid TOML" in result.stderr


# -- state -------------------------------------------------------------------------------------


def test_state_list_show_mv_rm(applied: Runner, project: Path) -> None:
    listed = applied("state", "list")
    assert listed.code == 0, listed
    assert listed.stdout.split() == ["files.a", "files.b", "files.c"]
    assert applied("state", "list", "files.b").stdout.split() == ["files.b"]

    shown = applied("state", "show", "files.a")
    assert shown.code == 0, shown
    doc = json.loads(shown.stdout)
    assert doc["attributes"]["path"] == "out/a.txt"
    assert doc["outputs"]["size"] == len("hello a\n")
    missing = applied("state", "show", "files.zz")
    assert_clean_error(missing)

    serial = read_state(project)["serial"]
    moved = applied("state", "mv", "files.c", "files.c2")
    assert moved.code == 0, moved
    assert sorted(read_state(project)["resources"]) == ["files.a", "files.b", "files.c2"]
    assert read_state(project)["serial"] == serial + 1
    wrong_kind = applied("state", "mv", "files.c2", "sleepers.c2")
    assert_clean_error(wrong_kind)

    removed = applied("state", "rm", "files.c2")
    assert removed.code == 0, removed
    assert "nothing was destroyed" in removed.stderr
    assert (project / "out" / "c.txt").exists()
    assert sorted(read_state(project)["resources"]) == ["files.a", "files.b"]
    assert_clean_error(applied("state", "rm", "files.c2"))
    # The stack still declares files.c: forgotten, so planned again as a create.
    assert actions(plan_json(applied("plan", "--format", "json")))["files.c"] == ["create"]


def test_state_pull_and_push(applied: Runner, project: Path) -> None:
    pulled = applied("state", "pull")
    assert pulled.code == 0, pulled
    doc = json.loads(pulled.stdout)
    assert doc == read_state(project)
    (project / "pulled.json").write_text(pulled.stdout)

    # Same lineage, same serial: accepted, stored with a higher serial.
    pushed = applied("state", "push", "pulled.json")
    assert pushed.code == 0, pushed
    assert read_state(project)["serial"] == doc["serial"] + 1

    # Older serial (now that the stored one moved on): refused, then accepted with --force.
    before = state_path(project).read_bytes()
    older = applied("state", "push", "pulled.json")
    assert_clean_error(older)
    assert "older" in older.stderr
    assert state_path(project).read_bytes() == before
    forced = applied("state", "push", "--force", "pulled.json")
    assert forced.code == 0, forced

    # Another lineage: refused, then accepted with --force (the old history is kept as backup).
    foreign = dict(doc, lineage=str(uuid.uuid4()), serial=doc["serial"] + 10)
    (project / "foreign.json").write_text(json.dumps(foreign))
    before = state_path(project).read_bytes()
    refused = applied("state", "push", "foreign.json")
    assert_clean_error(refused)
    assert "lineage" in refused.stderr
    assert state_path(project).read_bytes() == before
    accepted = applied("state", "push", "--force", "foreign.json")
    assert accepted.code == 0, accepted
    assert read_state(project)["lineage"] == foreign["lineage"]

    # From stdin.
    stdin = applied("state", "push", "-", input=state_path(project).read_text())
    assert stdin.code == 0, stdin


def test_state_push_of_garbage_is_refused(applied: Runner, project: Path) -> None:
    (project / "junk.json").write_text("{not json")
    before = state_path(project).read_bytes()
    result = applied("state", "push", "junk.json")
    assert_clean_error(result)
    assert state_path(project).read_bytes() == before


def test_state_pull_without_state(sf: Runner, project: Path) -> None:
    write_stack(project, FILES_STACK)
    assert sf("state", "list").stdout == ""
    assert_clean_error(sf("state", "pull"))


# -- force-unlock ------------------------------------------------------------------------------


def test_force_unlock_a_stale_lock_left_by_a_killed_process(sf: Runner, project: Path) -> None:
    write_stack(project, sleepers_stack(["slow"], seconds=30))
    proc = sf.start("apply", "--auto-approve")
    record = wait_for(lambda: lock_record(project), what="the lock record", proc=proc)
    assert record["pid"] == proc.pid
    assert record["operation"] == "apply"

    # While the holder lives, force-unlock refuses.
    live = sf("force-unlock", "--force", record["id"])
    assert_clean_error(live)
    assert str(proc.pid) in live.stderr
    kill9(proc)
    assert lock_record(project) == record, "a killed holder leaves its record behind"

    no_tty = sf("force-unlock", record["id"])
    assert_clean_error(no_tty)
    assert "--force" in no_tty.stderr
    wrong = sf("force-unlock", "--force", "not-the-id")
    assert_clean_error(wrong)
    assert "does not match" in wrong.stderr

    result = sf("force-unlock", "--force", record["id"])
    assert result.code == 0, result
    assert record["id"] in result.stderr
    assert lock_record(project) is None
    assert lock_path(project).exists()
    again = sf("force-unlock", "--force", record["id"])
    assert_clean_error(again)
    assert "no lock" in again.stderr


# -- secrets -----------------------------------------------------------------------------------


SECRET_STACK = """
[stack]
name = "secretive"

[files.env]
path = "out/.env"
content = "PASSWORD=${secret.db_password}\\n"
"""


def test_secret_set_get_list_rm_with_keyring(sf: Runner, project: Path, home: Path) -> None:
    write_stack(project, SECRET_STACK)
    listed = sf("secret", "list")
    assert listed.code == 0, listed
    assert re.search(r"db_password\s+MISSING\s+files\.env\.content", listed.stdout), listed
    missing = sf("secret", "get", "db_password")
    assert_clean_error(missing)
    assert "stackform secret set db_password" in missing.stderr
    assert "STACKFORM_SECRET_DB_PASSWORD" in missing.stderr

    stored = sf("secret", "set", "db_password", input="kr-value-123\n")
    assert stored.code == 0, stored
    assert "kr-value-123" not in stored.output
    assert any((home / "xdg-data").rglob("*.cfg")), "keyrings.alt stores under XDG_DATA_HOME"

    got = sf("secret", "get", "db_password")
    assert got.code == 0, got
    assert "keyring" in got.stdout
    assert "kr-value-123" not in got.output
    assert sf("secret", "get", "db_password", "--reveal").stdout == "kr-value-123\n"
    assert re.search(r"db_password\s+keyring", sf("secret", "list").stdout)
    assert sf("secret", "set", "other", "--value", "v2").code == 0
    assert sf("secret", "get", "other", "--reveal").stdout == "v2\n"

    from_env = sf("secret", "get", "db_password", env={"STACKFORM_SECRET_DB_PASSWORD": "e"})
    assert from_env.code == 0

    removed = sf("secret", "rm", "db_password")
    assert removed.code == 0, removed
    assert_clean_error(sf("secret", "get", "db_password"))
    env_only = sf("secret", "get", "db_password", env={"STACKFORM_SECRET_DB_PASSWORD": "e"})
    assert env_only.code == 0
    assert "STACKFORM_SECRET_DB_PASSWORD" in env_only.stdout


def test_missing_secret_says_how_to_set_it(sf: Runner, project: Path) -> None:
    write_stack(project, SECRET_STACK)
    result = sf("plan")
    assert_clean_error(result)
    assert "db_password" in result.stderr
    assert "STACKFORM_SECRET_DB_PASSWORD" in result.stderr
    # validate needs no secret
    assert sf("validate").code == 0


# -- global options ----------------------------------------------------------------------------


def test_directory_option(sf: Runner, project: Path, tmp_path: Path) -> None:
    write_stack(project / "infra", FILES_STACK)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = sf("-C", str(project / "infra"), "apply", "--auto-approve", cwd=elsewhere)
    assert result.code == 0, result
    assert (project / "infra" / "out" / "a.txt").exists()
    assert state_path(project / "infra").exists()
    assert not (elsewhere / ".stackform").exists()
    listed = sf("--directory", "infra", "state", "list")
    assert listed.stdout.split() == ["files.a", "files.b", "files.c"]


def test_file_option(sf: Runner, project: Path) -> None:
    write_stack(project, FILES_STACK, name="other.toml")
    assert_clean_error(sf("validate"))
    result = sf("--file", "other.toml", "apply", "--auto-approve")
    assert result.code == 0, result
    assert sf("-f", "other.toml", "plan", "--detailed-exitcode").code == 0
    missing = sf("--file", "nope.toml", "validate")
    assert_clean_error(missing)
    assert "nope.toml" in missing.stderr


ENV_STACK = """
[stack]
name = "envs"

[vars]
who = "base"

[environments.dev]
default = true

[environments.staging]
vars = { who = "staging" }

[environments.prod]
vars = { who = "prod" }

[environments.prod.override.files.a]
path = "out/prod-a.txt"

[files.a]
path = "out/${stack.env}-a.txt"
content = "${var.who}"
"""


def test_env_option_selects_state_vars_and_overrides(sf: Runner, project: Path) -> None:
    write_stack(project, ENV_STACK)
    assert sf("apply", "--auto-approve").code == 0
    assert (project / "out" / "dev-a.txt").read_text() == "base"
    assert state_path(project, "dev").exists()

    staging = sf("apply", "--env", "staging", "--auto-approve")
    assert staging.code == 0, staging
    assert (project / "out" / "staging-a.txt").read_text() == "staging"
    assert state_path(project, "staging").exists()
    assert sf("apply", "-e", "prod", "--auto-approve").code == 0
    assert (project / "out" / "prod-a.txt").read_text() == "prod"
    from_var = sf("state", "list", env={"STACKFORM_ENV": "prod"})
    assert from_var.stdout.split() == ["files.a"]
    assert sf("plan", "--env", "staging", "--detailed-exitcode").code == 0
    # State records who applied.
    assert read_state(project, "staging")["git"]["user"]


def test_unknown_env_suggests_the_closest(sf: Runner, project: Path) -> None:
    write_stack(project, ENV_STACK)
    result = sf("plan", "--env", "prdo")
    assert_clean_error(result)
    assert "unknown environment 'prdo'" in result.stderr
    assert "did you mean 'prod'?" in result.stderr
    assert LOCATION.search(result.stderr), result


def test_per_developer_environment_gets_its_own_state(sf: Runner, project: Path) -> None:
    write_stack(project, """
        [stack]
        name = "team"

        [environments.dev]
        per_developer = true
        default = true

        [files.a]
        path = "out/${stack.env}.txt"
        content = "mine"
    """)
    alice = {"STACKFORM_DEVELOPER": "alice"}
    result = sf("apply", "--auto-approve", env=alice)
    assert result.code == 0, result
    assert "dev-alice" in result.stdout
    assert state_path(project, "dev-alice").exists()
    assert not state_path(project, "dev").exists()
    assert (project / "out" / "dev-alice.txt").read_text() == "mine"
    assert read_state(project, "dev-alice")["resources"].keys() == {"files.a"}
    # Bob has his own state: everything is still to create for him.
    bob = sf("plan", "--detailed-exitcode", env={"STACKFORM_DEVELOPER": "bob"})
    assert bob.code == 2, bob
    assert "dev-bob" in bob.stdout
    assert sf("plan", "--detailed-exitcode", env=alice).code == 0
    assert sf("state", "list", "--env", "dev-alice").stdout.split() == ["files.a"]


# -- errors and --debug ------------------------------------------------------------------------


def _break_sleeper_state(sf: Runner, project: Path) -> None:
    """Make the sleepers provider's read fail with a KeyError: a provider bug."""
    write_stack(project, sleepers_stack(["a"]))
    assert sf("apply", "--auto-approve").code == 0
    path = state_path(project)
    doc = json.loads(path.read_text())
    del doc["resources"]["sleepers.a"]["attributes"]["marker_dir"]
    path.write_text(json.dumps(doc))


def test_debug_shows_a_traceback_for_internal_errors_only(sf: Runner, project: Path) -> None:
    _break_sleeper_state(sf, project)
    internal = sf("plan")
    assert internal.code == 1, internal
    assert "internal error" in internal.stderr
    assert "KeyError" in internal.stderr
    assert "--debug" in internal.stderr
    assert "Traceback" not in internal.output
    debug = sf("--debug", "plan")
    assert debug.code == 1, debug
    assert "Traceback" in debug.stderr
    assert "KeyError" in debug.stderr

    # A user error stays a one-line reason with a hint, with or without --debug.
    write_stack(project, '[stack]\nname = "x"\n[files.a]\npath = 1\ncontent = "c"\n')
    for args in (("validate",), ("--debug", "validate")):
        user = sf(*args)
        assert_clean_error(user)
        assert LOCATION.search(user.stderr), user


def test_no_color_and_plain_output_when_not_a_terminal(applied: Runner) -> None:
    result = applied("plan", env={"NO_COLOR": ""})
    assert "\x1b[" not in result.output
    assert "\x1b[" not in applied("--no-color", "state", "list").output

