"""The conformance suite every state backend runs (local, S3, a third party's).

A backend's tests subclass :class:`StateBackendConformance` and supply fixtures; every check
below then runs against that backend::

    class TestLocalConformance(StateBackendConformance):
        @pytest.fixture
        def backend(self, tmp_path: Path) -> StateBackend:
            return LocalBackend(tmp_path / "state", stack=STACK)

        @pytest.fixture
        def peer(self, tmp_path: Path) -> StateBackend:
            return LocalBackend(tmp_path / "state", stack=STACK)

        @pytest.fixture
        def store_raw(self, tmp_path: Path) -> StoreRaw:
            def store(env: str, data: bytes) -> None:
                (tmp_path / "state" / f"{env}.json").write_bytes(data)
            return store

Fixtures a subclass must supply:

``backend``
    A backend over empty storage, holding the states of the stack :data:`STACK`.
``peer``
    A second, independent instance over the *same* storage, as another process (another
    developer, a CI job) would open it. It shares no memory with ``backend``, so the checks see
    through any cache a backend keeps.
``store_raw``
    ``store(env, data)``: put raw bytes where the backend keeps ``env``'s current state document,
    behind the backend's back (a hand edit, a broken upload).
``stored``
    ``stored(env)``: the name of everything the storage holds of ``env`` (files, keys, object
    versions and delete markers), looked at directly, not through the backend.

The contract it checks:

- a missing environment reads as ``None``; write then read round-trips every field;
- ``write`` is compare-and-swap against the ``prior`` the writer read: it refuses a stale prior,
  another lineage, a serial that does not grow, and ``prior=None`` when a state exists, with
  :class:`StateConflictError` naming lineages and serials, and leaves the stored state as it was;
- of two writers racing from the same prior, exactly one wins;
- a corrupt stored document (anything not exactly the schema) raises :class:`CorruptStateError`
  on read and is never overwritten; the state of another stack or environment raises
  :class:`ForeignStateError` and is never overwritten either, and writing one is refused;
- ``set_aside`` moves an unreadable document out of the way (keeping it) and refuses a good one;
- ``history()`` lists kept versions newest first, the current one first, at least the previous
  one after it, and ``read_version`` gives each back; a deleted state stays in history;
- the lock is exclusive (also within one process), waits up to ``timeout`` and names its holder
  in :class:`StateLockedError`; ``lock_info`` shows the holder only while held; ``force_unlock``
  refuses a wrong id;
- ``environments()`` lists environments with state; ``delete`` removes one;
- ``purge`` leaves nothing of an environment in storage (no document, backup, kept version or
  lock), never touches another one, and is refused while the environment is locked.

The checks live by concern: the current document in :mod:`.state_documents`, history and
environments in :mod:`.state_history`, the lock in :mod:`.state_locking`; the sample states
and helpers they share (exported here too) in :mod:`.state_samples`.
"""

from __future__ import annotations

from stackform.testing.state_documents import StateDocumentChecks
from stackform.testing.state_history import StateHistoryChecks
from stackform.testing.state_locking import StateLockChecks
from stackform.testing.state_samples import (
    ENV,
    STACK,
    Stored,
    StoreRaw,
    document,
    grow,
    make_state,
    nested,
    race,
    same,
)


class StateBackendConformance(StateDocumentChecks, StateHistoryChecks, StateLockChecks):
    """Checks every :class:`~stackform.state.backend.StateBackend` must pass."""


__all__ = [
    "ENV",
    "STACK",
    "StateBackendConformance",
    "StoreRaw",
    "Stored",
    "document",
    "grow",
    "make_state",
    "nested",
    "race",
    "same",
]
