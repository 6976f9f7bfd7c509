"""The rules of ``env list`` and ``env destroy`` on environment rows, without a stack."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from stackform.environments import (
    EnvRow,
    applied_before,
    check_may_destroy,
    needs_exact_name,
    stale_developer_envs,
)
from stackform.errors import StackformError

CUTOFF = datetime(2024, 5, 15, tzinfo=UTC)


def row(name: str, updated_at: str | None, per_developer: bool = True,
        has_state: bool = True) -> EnvRow:
    return EnvRow(name=name, declared=not per_developer, per_developer=per_developer,
                  base="dev" if per_developer else name, protected=False, has_state=has_state,
                  updated_at=updated_at)


def test_applied_before_reads_the_time_of_the_last_write() -> None:
    assert applied_before(row("dev-a", "2024-05-01T00:00:00+00:00"), CUTOFF)
    assert applied_before(row("dev-a", "2024-05-01T00:00:00"), CUTOFF)  # naive: UTC
    assert not applied_before(row("dev-a", "2024-05-20T00:00:00+00:00"), CUTOFF)
    assert not applied_before(row("dev-a", "not a time"), CUTOFF)
    assert not applied_before(row("dev-a", None), CUTOFF)
    assert not applied_before(row("dev-a", "2024-05-01T00:00:00", has_state=False), CUTOFF)


def test_a_clean_up_selects_old_per_developer_environments_only() -> None:
    rows = [row("dev-old", "2024-01-01T00:00:00+00:00"),
            row("dev-new", "2024-06-01T00:00:00+00:00"),
            row("prod", "2024-01-01T00:00:00+00:00", per_developer=False)]
    assert stale_developer_envs(rows, CUTOFF) == ["dev-old"]


def test_a_per_developer_base_reaches_only_state_under_its_own_name() -> None:
    assert needs_exact_name("dev-alice", "dev-alice", []) is False
    assert needs_exact_name("dev", "dev-alice", ["dev", "dev-alice"]) is True
    with pytest.raises(StackformError, match="named like dev-alice") as raised:
        needs_exact_name("dev", "dev-alice", ["dev-alice"])
    assert raised.value.hint == "run `stackform env list` and pass the full name"


def test_a_protected_environment_is_destroyed_only_when_confirmed() -> None:
    check_may_destroy("dev", protected=False, confirmed=False)
    check_may_destroy("prod", protected=True, confirmed=True)
    with pytest.raises(StackformError, match="environment prod is protected"):
        check_may_destroy("prod", protected=True, confirmed=False)
