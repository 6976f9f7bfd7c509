"""The ``files`` provider, end to end, where it could hurt: temp files a killed apply leaves
beside a managed file."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.cli_helpers import Runner, read_state, wait_for, write_stack

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

# Runs the real CLI, but stalls the first fsync of a temp file of out/app.env: the data is
# written and not yet renamed, which is where a kill -9 leaves a stray temp file.
STALLING_CLI = textwrap.dedent("""
    import os, sys, time
    marker, args = sys.argv[1], sys.argv[2:]
    real_fsync = os.fsync
    def fsync(fd):
        name = os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))
        if name.startswith(".app.env.") and name.endswith(".tmp"):
            open(marker, "w").close()
            time.sleep(120)
        real_fsync(fd)
    os.fsync = fsync
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
