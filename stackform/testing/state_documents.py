"""State backend checks on the current document: read and write, compare-and-swap against
the prior a writer read, and documents that are corrupt or belong elsewhere.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from stackform.errors import CorruptStateError, ForeignStateError, StateConflictError, StateError
from stackform.state.backend import StateBackend
from stackform.state.model import GitInfo
from stackform.testing.state_samples import (
    ENV,
    STACK,
    StoreRaw,
    document,
    grow,
    make_state,
    nested,
    race,
    same,
)


class StateDocumentChecks:
    """Reading, writing and guarding the current state document."""

    # -- read and write ----------------------------------------------------------------------

    def test_read_missing_is_none(self, backend: StateBackend) -> None:
        assert backend.read(ENV) is None
        assert backend.history(ENV) == []

    def test_describe_names_the_environment(self, backend: StateBackend) -> None:
        assert ENV in backend.describe(ENV)

    def test_write_then_read_round_trips(self, backend: StateBackend, peer: StateBackend) -> None:
        state = make_state()
        backend.write(ENV, state, None)
        for reader in (backend, peer):
            got = reader.read(ENV)
            assert got is not None
            assert same(got, state)
            assert (got.lineage, got.serial) == (state.lineage, 1)
            assert got.git == GitInfo(commit="0" * 40, branch="main", dirty=False, user="ada")
            assert got.resources["extractors.tap_1"] == state.resources["extractors.tap_1"]

    def test_successive_writes(self, backend: StateBackend, peer: StateBackend) -> None:
        state = make_state()
        backend.write(ENV, state, None)
        for i in range(10):
            nxt = grow(state, f"w{i}")
            backend.write(ENV, nxt, state)
            state = nxt
        assert same(peer.read(ENV), state)
        assert state.serial == 11

    def test_serial_may_jump(self, backend: StateBackend) -> None:
        v1 = make_state()
        backend.write(ENV, v1, None)
        v5 = grow(grow(grow(grow(v1))))
        backend.write(ENV, v5, v1)
        assert same(backend.read(ENV), v5)

    def test_environments_are_separate(self, backend: StateBackend) -> None:
        dev, prod = make_state("dev"), make_state("prod")
        backend.write("dev", dev, None)
        backend.write("prod", prod, None)
        assert same(backend.read("dev"), dev)
        assert same(backend.read("prod"), prod)

    # -- compare-and-swap --------------------------------------------------------------------

    def test_prior_none_refused_when_state_exists(
        self, backend: StateBackend, peer: StateBackend
    ) -> None:
        theirs = make_state()
        peer.write(ENV, theirs, None)
        mine = make_state()
        with pytest.raises(StateConflictError) as err:
            backend.write(ENV, mine, None)
        assert theirs.lineage in str(err.value)
        assert same(backend.read(ENV), theirs)

    def test_stale_prior_refused(self, backend: StateBackend, peer: StateBackend) -> None:
        v1 = make_state()
        backend.write(ENV, v1, None)
        theirs = grow(v1, "theirs")
        peer.write(ENV, theirs, peer.read(ENV))
        mine = grow(v1, "mine")
        with pytest.raises(StateConflictError) as err:
            backend.write(ENV, mine, v1)
        message = str(err.value)
        assert v1.lineage in message and "2" in message  # stored serial 2, expected 1
        assert same(peer.read(ENV), theirs)
        assert same(backend.read(ENV), theirs)

    def test_stale_prior_refused_within_one_instance(self, backend: StateBackend) -> None:
        v1 = make_state()
        backend.write(ENV, v1, None)
        backend.write(ENV, grow(v1, "a"), v1)
        with pytest.raises(StateConflictError):
            backend.write(ENV, grow(v1, "b"), v1)

    def test_prior_of_another_lineage_refused(
        self, backend: StateBackend, peer: StateBackend
    ) -> None:
        stored = make_state()
        backend.write(ENV, stored, None)
        foreign = make_state()  # same serial, another lineage
        with pytest.raises(StateConflictError) as err:
            peer.write(ENV, grow(foreign), foreign)
        assert stored.lineage in str(err.value)
        assert foreign.lineage in str(err.value)
        assert same(backend.read(ENV), stored)

    def test_state_of_another_lineage_refused(self, backend: StateBackend) -> None:
        v1 = make_state()
        backend.write(ENV, v1, None)
        other = make_state(lineage="0b3c4e2a-1111-4222-8333-944455556666")
        other = grow(other)
        with pytest.raises(StateConflictError) as err:
            backend.write(ENV, other, v1)
        assert "0b3c4e2a-1111-4222-8333-944455556666" in str(err.value)
        assert same(backend.read(ENV), v1)

    @pytest.mark.parametrize("delta", [0, -1])
    def test_serial_must_grow(self, backend: StateBackend, delta: int) -> None:
        v1 = make_state()
        backend.write(ENV, v1, None)
        v2 = grow(v1)
        backend.write(ENV, v2, v1)
        bad = replace(grow(v2), serial=v2.serial + delta)
        with pytest.raises(StateConflictError):
            backend.write(ENV, bad, v2)
        assert same(backend.read(ENV), v2)

    def test_prior_given_but_state_gone_refused(
        self, backend: StateBackend, peer: StateBackend
    ) -> None:
        v1 = make_state()
        backend.write(ENV, v1, None)
        peer.delete(ENV)
        with pytest.raises(StateConflictError):
            backend.write(ENV, grow(v1), v1)
        assert backend.read(ENV) is None

    @pytest.mark.parametrize("same_instance", [True, False])
    def test_racing_writers_exactly_one_wins(
        self, backend: StateBackend, peer: StateBackend, same_instance: bool
    ) -> None:
        v1 = make_state()
        backend.write(ENV, v1, None)
        for round_ in range(5):
            prior = backend.read(ENV)
            assert prior is not None
            writers = [backend, backend if same_instance else peer]
            candidates = [grow(prior, f"r{round_}w{i}") for i in range(2)]
            outcome = race(writers, candidates, prior)
            winners = [i for i in range(2) if outcome[i] is None]
            assert len(winners) == 1, outcome
            loser = outcome[1 - winners[0]]
            assert isinstance(loser, StateConflictError), loser
            assert same(peer.read(ENV), candidates[winners[0]])
            assert same(backend.read(ENV), candidates[winners[0]])

    # -- corrupt documents -------------------------------------------------------------------

    @pytest.mark.parametrize(
        "data",
        [
            b'{"version": 1, "lineage": "x", "ser',  # a partial write
            b"",
            b"[1, 2]",
            b'{"version": 99, "lineage": "x", "serial": 1}',
            b'{"version": 1, "serial": 1}',
            b'{"version": 1, "lineage": "x", "serial": 1, "resources": {"a.b": {}}}',
        ],
        ids=["partial", "empty", "array", "future-version", "no-lineage", "bad-resource"],
    )
    def test_corrupt_document_raises_and_is_never_overwritten(
        self, backend: StateBackend, peer: StateBackend, store_raw: StoreRaw, data: bytes
    ) -> None:
        v1 = make_state()
        backend.write(ENV, v1, None)  # the backend has seen (and may cache) a good state
        store_raw(ENV, data)
        for instance in (backend, peer):
            with pytest.raises(CorruptStateError):
                instance.read(ENV)
        with pytest.raises(CorruptStateError):
            backend.write(ENV, grow(v1), v1)
        with pytest.raises(CorruptStateError):
            peer.write(ENV, make_state(), None)
        with pytest.raises(CorruptStateError):
            backend.read(ENV)  # still the corrupt document, not replaced

    @pytest.mark.parametrize(
        "data",
        [
            document(resources=[]),
            b'{"version": 1, "env": "dev", "stack": "jaffle", "lineage": "x", "serial": 1, '
            b'"tool_version": "", "updated_at": "", "git": {}, "resources": null}',
            document(stack=None),
            document(env=None),
            document(git=None),
            document(extra=1),
            document(serial=True),
            document(resources={"extractors.a": {"kind": "loaders", "attributes": {},
                                                 "outputs": {}, "dependencies": []}}),
            document(resources={"extractors.a": {"kind": "extractors", "attributes": None,
                                                 "outputs": {}, "dependencies": []}}),
            document(resources={"extractors.a": {"kind": "extractors",
                                                 "attributes": nested(80), "outputs": {},
                                                 "dependencies": []}}),
            b"[" * 100_000 + b"]" * 100_000,
        ],
        ids=["resources-array", "resources-null", "no-stack", "no-env", "no-git",
             "unknown-key", "serial-bool", "kind-mismatch", "attributes-null", "too-deep",
             "deeper-than-json"],
    )
    def test_not_exactly_the_schema_is_corrupt(
        self, backend: StateBackend, store_raw: StoreRaw, data: bytes
    ) -> None:
        v1 = make_state()
        backend.write(ENV, v1, None)
        store_raw(ENV, data)
        with pytest.raises(CorruptStateError):
            backend.read(ENV)
        with pytest.raises(CorruptStateError):
            backend.write(ENV, grow(v1), v1)

    @pytest.mark.parametrize("changes", [{"stack": "other"}, {"env": "prod"}],
                             ids=["other-stack", "other-env"])
    def test_foreign_state_is_refused_and_never_overwritten(
        self, backend: StateBackend, peer: StateBackend, store_raw: StoreRaw,
        changes: dict[str, str]
    ) -> None:
        store_raw(ENV, document(**changes))
        for instance in (backend, peer):
            with pytest.raises(ForeignStateError) as raised:
                instance.read(ENV)
            assert repr(next(iter(changes.values()))) in raised.value.reason
        with pytest.raises(CorruptStateError):
            backend.write(ENV, make_state(), None)
        with pytest.raises(ForeignStateError):
            peer.read(ENV)  # still the foreign document

    def test_writing_a_foreign_state_is_refused(self, backend: StateBackend) -> None:
        with pytest.raises(StateError, match="refusing to store"):
            backend.write(ENV, replace(make_state(), stack="other"), None)
        with pytest.raises(StateError, match="refusing to store"):
            backend.write("prod", make_state("dev"), None)
        assert backend.read(ENV) is None and backend.read("prod") is None

    def test_backend_names_its_stack(self, backend: StateBackend) -> None:
        assert backend.stack == STACK

    @pytest.mark.parametrize("data", [b"garbage", document(stack="other")],
                             ids=["corrupt", "foreign"])
    def test_set_aside_keeps_an_unreadable_document_and_frees_its_key(
        self, backend: StateBackend, peer: StateBackend, store_raw: StoreRaw, data: bytes
    ) -> None:
        v1 = make_state()
        backend.write(ENV, v1, None)
        backend.write(ENV, grow(v1), v1)
        store_raw(ENV, data)
        where = backend.set_aside(ENV)
        assert where
        assert backend.read(ENV) is None and peer.read(ENV) is None
        fresh = make_state()
        peer.write(ENV, fresh, None)
        assert same(backend.read(ENV), fresh)
        kept = [v for v in backend.history(ENV) if (v.serial, v.lineage) == (1, v1.lineage)]
        assert kept, "the history from before the unreadable document stays"

    def test_set_aside_refuses_a_good_state(self, backend: StateBackend) -> None:
        assert backend.set_aside(ENV) is None
        v1 = make_state()
        backend.write(ENV, v1, None)
        with pytest.raises(StateError, match="readable"):
            backend.set_aside(ENV)
        assert same(backend.read(ENV), v1)

    def test_corrupt_document_keeps_history_readable(
        self, backend: StateBackend, store_raw: StoreRaw
    ) -> None:
        v1 = make_state()
        backend.write(ENV, v1, None)
        backend.write(ENV, grow(v1), v1)
        store_raw(ENV, b"garbage")
        kept = [v for v in backend.history(ENV) if v.serial == 1 and v.lineage == v1.lineage]
        assert kept, "the version before the corrupt one must stay readable to restore it"
        assert same(backend.read_version(ENV, kept[0]), v1)
