"""``state rm`` and ``state mv`` as edits of a state value: what they refuse, what they keep."""

from __future__ import annotations

import pytest

from stackform.errors import StackformError
from stackform.state.edit import with_resource_moved, without_resources
from stackform.state.model import ResourceState, State


def recorded(*addresses: str) -> State:
    state = State.new("dev", "demo")
    for address in addresses:
        state = state.with_resource(ResourceState(address, address.split(".")[0],
                                                  {"path": address}))
    return state


def test_rm_forgets_every_address_given_and_nothing_else() -> None:
    new = without_resources(recorded("files.a", "files.b", "files.c"), ["files.a", "files.c"])
    assert list(new.resources) == ["files.b"]
    assert new.serial == 0  # the caller writes it as the next serial


def test_rm_refuses_when_any_address_is_not_recorded() -> None:
    state = recorded("files.a")
    with pytest.raises(StackformError, match=r"not in state: files\.x, files\.y") as raised:
        without_resources(state, ["files.a", "files.x", "files.y"])
    assert raised.value.hint == "see `stackform state list`"
    with pytest.raises(StackformError, match=r"not in state: files\.a"):
        without_resources(None, ["files.a"])


def test_mv_keeps_what_was_recorded_under_the_new_address() -> None:
    new = with_resource_moved(recorded("files.a", "files.b"), "files.a", "files.renamed")
    assert sorted(new.resources) == ["files.b", "files.renamed"]
    moved = new.resources["files.renamed"]
    assert (moved.address, moved.kind, moved.attributes) == ("files.renamed", "files",
                                                              {"path": "files.a"})


@pytest.mark.parametrize(("source", "destination", "reason", "hint"), [
    ("files.x", "files.y", "no resource 'files.x' in state", "see `stackform state list`"),
    ("files.a", "files.b", "'files.b' is already in state", None),
    ("files.a", "sleepers.a", "a resource cannot move to another kind",
     "keep the kind: files.NEW_NAME"),
])
def test_mv_refuses(source: str, destination: str, reason: str, hint: str | None) -> None:
    with pytest.raises(StackformError) as raised:
        with_resource_moved(recorded("files.a", "files.b"), source, destination)
    assert (raised.value.reason, raised.value.hint) == (reason, hint)
    with pytest.raises(StackformError, match="no resource"):
        with_resource_moved(None, "files.a", "files.b")
