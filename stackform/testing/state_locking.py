"""State backend checks on the per-environment lock: exclusive, waits up to its timeout, names
its holder, released on error, and ``force_unlock`` refuses a wrong id.
"""

from __future__ import annotations

import threading
import time

import pytest

from stackform.errors import StateError, StateLockedError
from stackform.state.backend import StateBackend
from stackform.testing.state_samples import ENV, grow, make_state


class StateLockChecks:
    """The lock."""

    # -- locking -----------------------------------------------------------------------------

    def test_lock_is_exclusive(self, backend: StateBackend, peer: StateBackend) -> None:
        with backend.lock(ENV, "apply") as held:
            assert held.operation == "apply"
            for other in (peer, backend):  # also within the same instance and process
                started = time.monotonic()
                with pytest.raises(StateLockedError) as err, other.lock(ENV, "plan", timeout=0):
                    pytest.fail("a second holder got the lock")
                assert time.monotonic() - started < 5
                message = str(err.value)
                assert held.id in message
                assert "apply" in message
                assert str(held.pid) in message
                assert "force-unlock" in message and "--lock-timeout" in message

    def test_locks_are_per_environment(self, backend: StateBackend, peer: StateBackend) -> None:
        with backend.lock("dev", "apply"), peer.lock("prod", "apply"):
            pass

    def test_lock_timeout_waits_for_release(
        self, backend: StateBackend, peer: StateBackend
    ) -> None:
        acquired = threading.Event()
        release = threading.Event()

        def hold() -> None:
            with backend.lock(ENV, "apply"):
                acquired.set()
                release.wait(30)

        holder = threading.Thread(target=hold)
        holder.start()
        try:
            assert acquired.wait(30)
            threading.Timer(0.5, release.set).start()
            started = time.monotonic()
            with peer.lock(ENV, "plan", timeout=30) as info:
                waited = time.monotonic() - started
                assert info.operation == "plan"
                current = peer.lock_info(ENV)
                assert current is not None and current.id == info.id
            assert 0.3 < waited < 25
        finally:
            release.set()
            holder.join(30)

    def test_lock_timeout_expires(self, backend: StateBackend, peer: StateBackend) -> None:
        with backend.lock(ENV, "apply") as held:
            started = time.monotonic()
            with pytest.raises(StateLockedError) as err, peer.lock(ENV, "plan", timeout=0.5):
                pass
            assert time.monotonic() - started >= 0.45
            assert held.id in str(err.value)

    def test_lock_info_while_held_and_after(
        self, backend: StateBackend, peer: StateBackend
    ) -> None:
        assert backend.lock_info(ENV) is None
        with backend.lock(ENV, "apply") as held:
            for reader in (backend, peer):
                info = reader.lock_info(ENV)
                assert info is not None
                assert (info.id, info.operation, info.pid, info.host) == (
                    held.id,
                    "apply",
                    held.pid,
                    held.host,
                )
        assert backend.lock_info(ENV) is None
        assert peer.lock_info(ENV) is None

    def test_lock_released_when_the_block_raises(self, backend: StateBackend) -> None:
        with pytest.raises(RuntimeError), backend.lock(ENV, "apply"):
            raise RuntimeError("boom")
        assert backend.lock_info(ENV) is None
        with backend.lock(ENV, "apply", timeout=0):
            pass

    def test_write_while_holding_the_lock(self, backend: StateBackend) -> None:
        v1 = make_state()
        with backend.lock(ENV, "apply"):
            backend.write(ENV, v1, None)
            backend.write(ENV, grow(v1), v1)
        assert backend.read(ENV) is not None

    def test_force_unlock_refuses_a_wrong_id(
        self, backend: StateBackend, peer: StateBackend
    ) -> None:
        with backend.lock(ENV, "apply") as held:
            with pytest.raises(StateError):
                peer.force_unlock(ENV, "not-" + held.id)
            info = backend.lock_info(ENV)
            assert info is not None and info.id == held.id
        with pytest.raises(StateError):
            peer.force_unlock(ENV, held.id)  # nothing is locked any more

    def test_lock_ids_are_unique(self, backend: StateBackend) -> None:
        ids = set()
        for _ in range(3):
            with backend.lock(ENV, "apply") as held:
                ids.add(held.id)
        assert len(ids) == 3
