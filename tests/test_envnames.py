"""The environment-name rules (``stackform.envnames``) and the stores that share them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stackform.envnames import (
    ENV_NAME_RE,
    STORED_ENV_NAME_HINT,
    check_stored_env_name,
    is_stored_env_name,
)
from stackform.errors import StackformError, StateError
from stackform.runs.local import LocalRunStore
from stackform.runs.s3 import S3RunStore
from stackform.s3.settings import S3Settings
from stackform.state.local import LocalBackend
from stackform.state.s3 import S3Backend

ACCEPTED = ["dev", "prod", "dev-dana", "dev_dana", "Dev", "0", "_x", "a.b", "dev@dana",
            "feature+1", "x" * 200]
REFUSED = ["", ".hidden", ".", "..", "../etc", "a/b", "-x", "@x", "a b", "a\\b", "x" * 201,
           "é", "dev\x00"]

Describe = Callable[[str], str]


def _stores(tmp_path: Path) -> dict[str, tuple[Describe, type[StackformError], str]]:
    """Each store's ``describe`` (it checks the name before touching anything), the error it
    refuses a name with, and the store named in the message."""
    settings = S3Settings.from_table({"bucket": "acme-state"})
    return {
        "local state": (LocalBackend(tmp_path / "state").describe, StateError, "local state"),
        "S3 state": (S3Backend(settings).describe, StateError, "S3 state"),
        "local run state": (LocalRunStore(tmp_path / "runs").describe, StackformError,
                            "run state"),
        "S3 run state": (S3RunStore(settings, tmp_path / "cache").describe, StackformError,
                         "run state"),
    }


@pytest.mark.parametrize("store", ["local state", "S3 state", "local run state",
                                   "S3 run state"])
def test_every_store_keeps_state_under_exactly_the_stored_names(
    store: str, tmp_path: Path
) -> None:
    describe, error, where = _stores(tmp_path)[store]
    for name in ACCEPTED:
        assert is_stored_env_name(name), name
        assert describe(name)
    for name in REFUSED:
        assert not is_stored_env_name(name), name
        with pytest.raises(error) as refused:
            describe(name)
        assert refused.value.reason == f"{name!r} is not a valid environment name for {where}"
        assert refused.value.hint == STORED_ENV_NAME_HINT


def test_check_raises_the_error_it_is_given() -> None:
    check_stored_env_name("dev", "x", StateError)
    with pytest.raises(StateError) as refused:
        check_stored_env_name("..", "x", StateError)
    assert refused.value.reason == "'..' is not a valid environment name for x"
    with pytest.raises(StackformError):
        check_stored_env_name(None, "x")


@given(st.from_regex(ENV_NAME_RE, fullmatch=True))
def test_every_name_a_stack_can_use_can_be_stored(name: str) -> None:
    assert is_stored_env_name(name) == (len(name) <= 200)
