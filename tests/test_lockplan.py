"""The rules ``stackform lock`` follows, without resolving anything: which plugins a stack
declares and a command line names, whether the lock fits them, and when it is written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from stackform.errors import StackformError
from stackform.plugins.lockfile import Lock, LockEntry, PluginRequirements, load_lock, write_lock
from stackform.plugins.lockplan import check_lock, select_plugins, stack_plugins, update_lock
from tests.test_lockfile import entry, resolved

ORDERS = PluginRequirements("extractors.orders", ("six==1.16.0",))
USERS = PluginRequirements("extractors.users", ("six",), "3.11")
LOADERS = PluginRequirements("loaders.orders", ("six",))


def lock_of(tmp_path: Path, *entries: LockEntry) -> Lock:
    write_lock(tmp_path, {e.address: e for e in entries})
    found = load_lock(tmp_path)
    assert found is not None
    return found


def test_the_plugins_of_a_stack_are_its_blocks_with_pip_url(tmp_path: Path) -> None:
    plugins = stack_plugins(resolved(tmp_path))
    assert [(p.address, p.requirements, p.python) for p in plugins] == [
        ("extractors.orders", ("six==1.16.0",), None), ("extractors.users", ("six",), "3.11")]


def test_a_secret_in_pip_url_is_refused_before_it_reaches_the_lock(tmp_path: Path) -> None:
    text = ('[stack]\nname = "locky"\n\n[extractors.orders]\n'
            'pip_url = "six==1.16.0 --index-url ${secret.index}"\n')
    stack = resolved(tmp_path, text, strict_secrets=False)
    with pytest.raises(StackformError, match="pip_url holds a secret") as raised:
        stack_plugins(stack)
    assert "UV_INDEX_URL" in (raised.value.hint or "")


def test_a_command_line_names_plugins_by_address_or_unique_name() -> None:
    plugins = [ORDERS, USERS, LOADERS]
    resources = [p.address for p in plugins] + ["notes.readme"]
    assert select_plugins(["users", "loaders.orders"], resources, plugins) == {
        "extractors.users", "loaders.orders"}
    assert select_plugins(["notes.readme"], resources, plugins) == {"notes.readme"}
    with pytest.raises(StackformError, match=re.escape(
            "'orders' is ambiguous: it names extractors.orders, loaders.orders")):
        select_plugins(["orders"], resources, plugins)
    with pytest.raises(StackformError, match="unknown plugin 'nope'") as raised:
        select_plugins(["nope"], resources, plugins)
    assert raised.value.hint == ("plugins in this stack: extractors.orders, extractors.users, "
                                 "loaders.orders")


def test_check_names_every_problem(tmp_path: Path) -> None:
    assert check_lock([ORDERS], None).problems == ["stackform.lock does not exist"]
    assert check_lock([], None).problems == []
    lock = lock_of(tmp_path, entry("extractors.orders", "six==1.15.0", ["six==1.15.0"]),
                   entry("extractors.gone", "six", ["six==1.16.0"]))
    checked = check_lock([ORDERS, USERS], lock)
    assert checked.checked == 2
    assert checked.problems[0].startswith("extractors.orders: pip_url changed")
    assert checked.problems[1:] == ["extractors.users: not in stackform.lock",
                                    "extractors.gone is in stackform.lock but no longer in the "
                                    "stack"]


def test_checking_some_plugins_leaves_the_other_entries_alone(tmp_path: Path) -> None:
    lock = lock_of(tmp_path, entry("extractors.orders", "six==1.16.0", ["six==1.16.0"]),
                   entry("extractors.gone", "six", ["six==1.16.0"]))
    checked = check_lock([ORDERS, USERS], lock, only={"extractors.orders"})
    assert (checked.checked, checked.problems) == (1, [])
    checked = check_lock([ORDERS, USERS], lock, only={"extractors.users"})
    assert checked.problems == ["extractors.users: not in stackform.lock"]


def test_nothing_to_lock_and_an_unchanged_lock_write_nothing(tmp_path: Path) -> None:
    assert update_lock([], None, tmp_path).outcome == "no-plugins"
    assert not (tmp_path / "stackform.lock").exists()
    lock = lock_of(tmp_path, entry("extractors.orders", "six==1.16.0", ["six==1.16.0"]))
    before = (tmp_path / "stackform.lock").stat().st_mtime_ns
    kept = update_lock([ORDERS], lock, tmp_path)  # it fits: nothing is resolved
    assert (kept.outcome, kept.total, kept.changes) == ("unchanged", 1, [])
    assert (tmp_path / "stackform.lock").stat().st_mtime_ns == before


def test_a_removed_plugin_is_written_out_of_the_lock(tmp_path: Path) -> None:
    lock = lock_of(tmp_path, entry("extractors.orders", "six==1.16.0", ["six==1.16.0"]),
                   entry("extractors.gone", "six", ["six==1.16.0"]))
    done = update_lock([ORDERS], lock, tmp_path)
    assert (done.outcome, done.total) == ("written", 1)
    assert [(c.address, c.action) for c in done.changes] == [("extractors.gone", "remove")]
    assert done.path == tmp_path / "stackform.lock"
    written = load_lock(tmp_path)
    assert written is not None and set(written.entries) == {"extractors.orders"}
