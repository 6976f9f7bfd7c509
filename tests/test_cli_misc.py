"""The CLI beyond plan, apply and state, end to end: version and help, ``init``, ``docs``,
``graph``, ``fmt``, secrets, ``-C``/``--file``, errors and ``--debug``.

Runs the installed ``stackform`` script in a subprocess, with the real local state backend,
the ``files`` provider and the test-only ``sleepers`` provider."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.cli_helpers import (
    FILES_STACK,
    LOCATION,
    Runner,
    assert_clean_error,
    sleepers_stack,
    state_path,
    write_stack,
)

pytestmark = pytest.mark.slow


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
    assert "singer  " in listing.stdout and "Singer: extractors, mappers, loaders" in listing.stdout
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
