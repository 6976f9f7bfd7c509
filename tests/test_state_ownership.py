"""A state belongs to one stack and one environment; a damaged one is rescued, never adopted.

Through the real CLI: stacks sharing a folder or a state location keep their own state, another
stack's or environment's document is refused and never written, the documented rescues work
exactly when the current document is unreadable, and stackform 0.1's unscoped layout is found
and moved, never taken for "no state".
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.cli_helpers import (
    Runner,
    assert_clean_error,
    read_state,
    state_dir,
    state_path,
    write_stack,
)

pytestmark = pytest.mark.slow


def files_stack(name: str, *files: str, extra: str = "") -> str:
    blocks = [f'[stack]\nname = "{name}"\n{extra}']
    for file in files:
        blocks.append(f'[files.{file}]\npath = "out/{file}.txt"\ncontent = "{name}:{file}\\n"\n')
    return "\n".join(blocks)


@pytest.fixture
def two_stacks(sf: Runner, project: Path) -> Runner:
    """Stacks alpha and beta, in one folder, each applied."""
    write_stack(project, files_stack("alpha", "a1", "a2"), name="alpha.toml")
    write_stack(project, files_stack("beta", "b1"), name="beta.toml")
    for file in ("alpha.toml", "beta.toml"):
        applied = sf("-f", file, "apply", "--auto-approve")
        assert applied.code == 0, applied
    return sf


# -- sharing a location ------------------------------------------------------------------------


def test_two_stack_files_in_one_folder_keep_their_own_state(two_stacks: Runner,
                                                            project: Path) -> None:
    assert set(read_state(project, stack="alpha")["resources"]) == {"files.a1", "files.a2"}
    assert set(read_state(project, stack="beta")["resources"]) == {"files.b1"}
    for file in ("alpha.toml", "beta.toml"):
        plan = two_stacks("-f", file, "plan", "--detailed-exitcode")
        assert plan.code == 0, plan  # nothing "no longer in the stack file"
    destroyed = two_stacks("-f", "alpha.toml", "destroy", "--auto-approve")
    assert destroyed.code == 0, destroyed
    assert not (project / "out/a1.txt").exists()
    assert (project / "out/b1.txt").read_text() == "beta:b1\n"
    assert two_stacks("-f", "beta.toml", "plan", "--detailed-exitcode").code == 0


def test_a_shared_state_path_keeps_each_stack_apart(sf: Runner, tmp_path: Path) -> None:
    shared = '[state]\npath = "../shared-state"\n'
    for name, file in (("alpha", "a1"), ("beta", "b1")):
        folder = tmp_path / name
        write_stack(folder, files_stack(name, file, extra=shared))
        applied = sf("apply", "--auto-approve", cwd=folder)
        assert applied.code == 0, applied
    for name in ("alpha", "beta"):
        assert sf("plan", "--detailed-exitcode", cwd=tmp_path / name).code == 0
        assert (tmp_path / "shared-state" / name / "dev.json").is_file()


# -- foreign documents -------------------------------------------------------------------------


def test_a_copied_state_of_another_stack_is_refused_and_never_written(
        two_stacks: Runner, project: Path) -> None:
    theirs = state_path(project, stack="alpha").read_bytes()
    state_path(project, stack="beta").write_bytes(theirs)  # a copied .stackform, by hand
    for args in (("plan",), ("apply", "--auto-approve"), ("destroy", "--auto-approve"),
                 ("state", "list"), ("state", "rm", "files.a1")):
        result = two_stacks("-f", "beta.toml", *args)
        assert_clean_error(result)
        assert "state of stack 'alpha'" in result.stderr, (args, result)
        assert state_path(project, stack="beta").read_bytes() == theirs, args
    assert (project / "out/a1.txt").exists() and (project / "out/b1.txt").exists()


def test_a_state_of_another_environment_is_refused(two_stacks: Runner, project: Path) -> None:
    dev = state_path(project, stack="alpha").read_bytes()
    state_path(project, "prod", stack="alpha").write_bytes(dev)
    result = two_stacks("-f", "alpha.toml", "plan", "--env", "prod")
    assert_clean_error(result)
    assert "environment 'dev'" in result.stderr and "'prod'" in result.stderr


def test_state_push_refuses_another_stacks_or_environments_state(
        two_stacks: Runner, project: Path) -> None:
    pulled = two_stacks("-f", "alpha.toml", "state", "pull")
    assert pulled.code == 0, pulled
    (project / "alpha-dev.json").write_text(pulled.stdout)
    beta_before = state_path(project, stack="beta").read_bytes()
    for args in (("-f", "beta.toml", "state", "push", "alpha-dev.json"),
                 ("-f", "beta.toml", "state", "push", "--force", "alpha-dev.json"),
                 ("-f", "alpha.toml", "state", "push", "--force", "--env", "prod",
                  "alpha-dev.json")):
        result = two_stacks(*args)
        assert_clean_error(result)
        assert "is the state of stack 'alpha', environment 'dev'" in result.stderr, result
    assert state_path(project, stack="beta").read_bytes() == beta_before
    assert not state_path(project, "prod", stack="alpha").exists()


# -- documents that are not exactly the schema --------------------------------------------------


@pytest.mark.parametrize("resources", [None, []], ids=["null", "array"])
def test_resources_that_are_not_an_object_are_corrupt_not_empty(
        two_stacks: Runner, project: Path, resources: object) -> None:
    path = state_path(project, stack="alpha")
    doc = json.loads(path.read_text())
    doc["resources"] = resources
    path.write_text(json.dumps(doc))
    before = path.read_bytes()
    for args in (("plan",), ("destroy", "--auto-approve")):
        result = two_stacks("-f", "alpha.toml", *args)
        assert_clean_error(result)
        assert "resources must be an object" in result.stderr, result
        assert "No changes" not in result.output
    assert path.read_bytes() == before
    assert (project / "out/a1.txt").exists()


def test_deeply_nested_state_is_a_corrupt_state_error(two_stacks: Runner,
                                                      project: Path) -> None:
    path = state_path(project, stack="alpha")
    path.write_text("[" * 200_000 + "]" * 200_000)
    result = two_stacks("-f", "alpha.toml", "plan")
    assert_clean_error(result)
    assert "not a valid state document" in result.stderr


# -- rescuing an unreadable state ---------------------------------------------------------------


def test_rollback_and_forced_push_rescue_a_corrupt_state(sf: Runner, project: Path) -> None:
    write_stack(project, files_stack("alpha", "a1"))
    assert sf("apply", "--auto-approve").code == 0
    first = read_state(project)
    write_stack(project, files_stack("alpha", "a1", "a2"))
    assert sf("apply", "--auto-approve").code == 0
    good = state_path(project).read_text()
    state_path(project).write_text('{"version": 1, "trunc')

    history = sf("state", "history")
    assert history.code == 0, history  # lists the kept versions while the current is corrupt
    rolled = sf("state", "rollback", str(first["serial"]), "--force")
    assert rolled.code == 0, rolled
    assert "kept at" in rolled.stderr
    assert set(read_state(project)["resources"]) == {"files.a1"}

    state_path(project).write_text("not json at all")
    (project / "good.json").write_text(good)
    forced = sf("state", "push", "--force", "good.json")
    assert forced.code == 0, forced
    assert set(read_state(project)["resources"]) == {"files.a1", "files.a2"}
    kept = sorted((state_dir(project) / "history" / "dev").glob("unreadable-*.json"))
    assert [p.read_text() for p in kept] in (['{"version": 1, "trunc', "not json at all"],
                                             ["not json at all", '{"version": 1, "trunc'])
    assert sf("plan", "--detailed-exitcode").code == 0


def test_an_errored_state_file_is_pushed_over_a_corrupt_state(sf: Runner,
                                                               project: Path) -> None:
    """The hint after a refused state write says to `state push` the errored file: it must
    work when the stored document is what broke."""
    write_stack(project, files_stack("alpha", "a1"))
    assert sf("apply", "--auto-approve").code == 0
    errored = project / ".stackform" / "errored" / "alpha" / "dev-20261130T101010Z.json"
    errored.parent.mkdir(parents=True)
    errored.write_text(sf("state", "pull").stdout)
    state_path(project).write_bytes(b"\x00\x01garbage")
    pushed = sf("state", "push", str(errored), "--env", "dev")
    assert pushed.code == 0, pushed
    assert sf("plan", "--detailed-exitcode").code == 0


# -- stackform 0.1's unscoped layout -------------------------------------------------------------


def test_a_state_in_the_old_layout_is_found_and_upgraded(sf: Runner, project: Path) -> None:
    write_stack(project, files_stack("alpha", "a1"))
    assert sf("apply", "--auto-approve").code == 0
    scoped = state_dir(project)
    legacy = scoped.parent
    lineage = read_state(project)["lineage"]
    # As stackform 0.1 left it: <folder>/<env>.json, and another stack's prod beside it.
    shutil.move(scoped / "dev.json", legacy / "dev.json")
    shutil.rmtree(scoped)
    other = json.loads((legacy / "dev.json").read_text())
    (legacy / "prod.json").write_text(json.dumps({**other, "stack": "other", "env": "prod"}))
    rendered = project / ".stackform" / "envs" / "dev" / "extractors" / "x" / "config.json"
    rendered.parent.mkdir(parents=True)
    rendered.write_text("{}")

    for args in (("plan",), ("apply", "--auto-approve")):
        result = sf(*args)
        assert_clean_error(result)
        assert "stackform state upgrade" in result.stderr, result
    assert not (scoped / "dev.json").exists(), "nothing was written in the new layout"

    upgraded = sf("state", "upgrade")
    assert upgraded.code == 0, upgraded
    assert "dev: serial" in upgraded.stderr
    assert read_state(project)["lineage"] == lineage
    assert not (legacy / "dev.json").exists()
    assert json.loads((legacy / "prod.json").read_text())["stack"] == "other", "not ours"
    assert (project / ".stackform/envs/alpha/dev/extractors/x/config.json").read_text() == "{}"
    assert sf("plan", "--detailed-exitcode").code == 0
    again = sf("state", "upgrade")
    assert again.code == 0 and "Nothing to upgrade" in again.stderr
