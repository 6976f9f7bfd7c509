"""The ``files`` provider, end to end, where it could hurt: temp files a killed apply leaves
beside a managed file, and blocks that would overwrite stackform's own files."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.cli_helpers import Runner, assert_clean_error, read_state, wait_for, write_stack

pytestmark = pytest.mark.slow

SECRET_STACK = """
[stack]
name = "demo"

[files.env]
path = "out/app.env"
content = "TOKEN=${secret.token}\\n"
mode = "0644"

[files.other]
path = "out/other.txt"
content = "other\\n"
"""

# Runs the real CLI, but stalls the chmod of a temp file of out/app.env: the data is written
# and not yet renamed, which is where a kill -9 leaves a stray temp file.
STALLING_CLI = textwrap.dedent("""
    import os, sys, time
    marker, args = sys.argv[1], sys.argv[2:]
    real_fchmod = os.fchmod
    def fchmod(fd, mode):
        name = os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))
        if name.startswith(".app.env.") and name.endswith(".tmp"):
            open(marker, "w").close()
            time.sleep(120)
        real_fchmod(fd, mode)
    os.fchmod = fchmod
    os.umask(0)  # whatever the umask, the temp file must be 0600
    sys.argv = ["stackform", *args]
    from stackform.cli import run
    run()
""")

TEMP = re.compile(r"\.app\.env\.[0-9a-f]{32}\.tmp")


def temps(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_temp_file_of_a_killed_apply_is_0600_and_swept_by_the_next_apply(
        sf: Runner, project: Path) -> None:
    write_stack(project, SECRET_STACK)
    first = sf("apply", "--auto-approve", env={"STACKFORM_SECRET_TOKEN": "old-token"})
    assert first.code == 0, first
    out = project / "out"
    serial = read_state(project)["serial"]

    marker = project.parent / "stalled"
    proc = subprocess.Popen(
        [sys.executable, "-c", STALLING_CLI, str(marker), "apply", "--auto-approve"],
        cwd=project, env={**sf.env, "STACKFORM_SECRET_TOKEN": "new-token"},
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(marker.exists, 60, "the write of out/app.env", proc=proc)
    finally:
        proc.kill()
        proc.communicate(timeout=30)

    # What a killed writer leaves: the real temp name, the new secret in it, owner-only.
    [stray] = temps(out)
    assert TEMP.fullmatch(stray.name), stray
    assert stray.read_text() == "TOKEN=new-token\n"
    assert stat.S_IMODE(stray.stat().st_mode) == 0o600
    # An older stackform's writer (tempfile.mkstemp) left names like this one.
    legacy = out / ".app.env.k3j_9xq2.tmp"
    legacy.write_text("TOKEN=older-token\n")
    # Not ours: another file's name, or a name of the user's own.
    theirs = [out / ".notes.txt.0123456789abcdef0123456789abcdef.tmp", out / ".app.env.mine.tmp"]
    for path in theirs:
        path.write_text("keep me\n")
    past = stray.stat().st_mtime - 60
    for path in (stray, legacy, *theirs):
        os.utime(path, (past, past))
    assert (out / "app.env").read_text() == "TOKEN=old-token\n"
    assert read_state(project)["serial"] == serial

    # Plan is not confused by them: the same one change as before the kill, nothing else.
    env = {"STACKFORM_SECRET_TOKEN": "new-token"}
    plan = sf("plan", "--detailed-exitcode", env=env)
    assert plan.code == 2, plan
    assert "~ files.env" in plan.stdout
    assert "files.other" not in plan.stdout
    assert ".tmp" not in plan.output

    applied = sf("apply", "--auto-approve", env=env)
    assert applied.code == 0, applied
    assert (out / "app.env").read_text() == "TOKEN=new-token\n"
    assert temps(out) == sorted(theirs)
    assert sf("plan", "--detailed-exitcode", env=env).code == 0


def test_temp_files_are_swept_when_the_file_is_deleted(sf: Runner, project: Path) -> None:
    write_stack(project, SECRET_STACK)
    env = {"STACKFORM_SECRET_TOKEN": "token"}
    assert sf("apply", "--auto-approve", env=env).code == 0
    stray = project / "out" / ".app.env.0123456789abcdef0123456789abcdef.tmp"
    stray.write_text("TOKEN=token\n")
    os.utime(stray, (1, 1))
    result = sf("destroy", "--auto-approve", "--target", "files.env", env=env)
    assert result.code == 0, result
    assert not (project / "out" / "app.env").exists()
    assert not stray.exists()


# -- stackform's own files ---------------------------------------------------------------------

OWN_STACK = """
[stack]
name = "demo"

[environments.dev]
default = true

[environments.prod]

[files.fine]
path = "out/fine.txt"
content = "fine\\n"

[files.bad]
path = {path}
content = "oops\\n"
"""


def line_of(text: str, needle: str, after: str) -> int:
    """The 1-based line of the first ``needle`` after the line holding ``after``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if after in line)
    return next(i for i, line in enumerate(lines) if i > start and needle in line) + 1


@pytest.mark.parametrize(("path", "what"), [
    ('".stackform/state/x"', "inside .stackform/"),
    ('".stackform/state/dev.json"', "inside .stackform/"),
    ('"stack.toml"', "the stack file stack.toml"),
    ('"stackform.lock"', "stackform.lock, the plugin lock file"),
    ('"out/../stackform.lock"', "stackform.lock, the plugin lock file"),
    ('"out/../.stackform/state/dev.json"', "inside .stackform/"),
    ('"out/../stack.toml"', "the stack file stack.toml"),
    ('"linked/state/dev.json"', "inside .stackform/"),  # a symlinked folder
    ('"{project}/.stackform/runs/x"', "inside .stackform/"),  # absolute
    ('"${{environ.TARGET}}"', "the stack file stack.toml"),  # from the environment
])
def test_a_block_writing_stackforms_own_files_is_refused_where_it_is_written(
        sf: Runner, project: Path, path: str, what: str) -> None:
    (project / ".stackform").mkdir()
    (project / "linked").symlink_to(".stackform")
    stack = write_stack(project, OWN_STACK.format(path=path.format(project=project)))
    line = line_of(stack.read_text(), "path = ", after="[files.bad]")
    before = sorted(p.relative_to(project) for p in project.rglob("*"))
    text = stack.read_bytes()
    for command in (["validate"], ["plan"], ["apply", "--auto-approve"]):
        result = sf(*command, env={"TARGET": str(project / "stack.toml")})
        assert_clean_error(result)
        assert re.search(rf"^stack\.toml:{line}:8: error: files\.bad\.path: .* is "
                         rf"{re.escape(what)}", result.stderr, re.M), result
        assert "hint: choose another path" in result.stderr
    assert sorted(p.relative_to(project) for p in project.rglob("*")) == before
    assert stack.read_bytes() == text


def test_an_override_of_another_environment_is_refused_at_the_override(
        sf: Runner, project: Path) -> None:
    stack = write_stack(project, OWN_STACK.format(path='"out/bad.txt"') + textwrap.dedent("""
        [environments.prod.override.files.bad]
        path = "out/../.stackform/state/prod.json"
        """))
    line = line_of(stack.read_text(), "path = ", after="[environments.prod.override.files.bad]")
    assert sf("validate", "--one-env").code == 0  # dev is fine
    assert sf("plan").code == 0
    result = sf("plan", "--env", "prod")
    assert_clean_error(result)
    assert re.search(rf"^stack\.toml:{line}:8: error: files\.bad\.path: "
                     r"'out/\.\./\.stackform/state/prod\.json' is inside \.stackform/",
                     result.stderr, re.M), result
    every = sf("validate")  # every environment
    assert_clean_error(every)
    assert f"stack.toml:{line}:8" in every.stderr
    assert not (project / ".stackform" / "state" / "prod.json").exists()


def test_a_local_state_folder_elsewhere_is_stackforms_too(sf: Runner, project: Path) -> None:
    write_stack(project, OWN_STACK.format(path='"state/dev.json"').replace(
        '[environments.dev]', '[state]\npath = "state"\n\n[environments.dev]'))
    result = sf("validate")
    assert_clean_error(result)
    assert "'state/dev.json' is inside state/, the folder of this stack's local state" \
        in result.stderr, result


def test_a_symlinked_stack_file_is_refused_too(sf: Runner, project: Path) -> None:
    # The stack file is a symlink into a shared checkout: writing "stack.toml" would replace
    # the link, writing the file it leads to would change the shared stack.
    shared = write_stack(project.parent / "shared", OWN_STACK.format(path='"stack.toml"'))
    (project / "stack.toml").symlink_to(shared)
    result = sf("validate")
    assert_clean_error(result)
    assert "files.bad.path: 'stack.toml' is the stack file stack.toml" in result.stderr, result
    write_stack(project.parent / "shared", OWN_STACK.format(path='"../shared/stack.toml"'))
    result = sf("validate")
    assert_clean_error(result)
    assert "files.bad.path: '../shared/stack.toml' is the stack file stack.toml" \
        in result.stderr, result
