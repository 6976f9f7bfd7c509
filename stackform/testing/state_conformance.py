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
- ``environments()`` lists environments with state; ``delete`` removes one.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from stackform.errors import (
    CorruptStateError,
    ForeignStateError,
    StateConflictError,
    StateError,
    StateLockedError,
)
from stackform.resource import SENSITIVE_KEY, ResourceState
from stackform.state.backend import StateBackend
from stackform.state.model import GitInfo, State

StoreRaw = Callable[[str, bytes], None]

ENV = "dev"
STACK = "jaffle"
"""The stack a backend under test holds (``make_state`` writes its states)."""


def make_state(env: str = ENV, lineage: str | None = None, n: int = 3) -> State:
    """A state at serial 1 with ``n`` resources, git info and a fingerprinted attribute."""
    state = State.new(env, stack=STACK, lineage=lineage)
    for i in range(n):
        state = state.with_resource(
            ResourceState(
                address=f"extractors.tap_{i}",
                kind="extractors",
                attributes={
                    "pip_url": f"tap-{i}==1.0",
                    "config": {
                        "path": f"data/{i}.jsonl",
                        "password": {SENSITIVE_KEY: "ab" * 32},
                        "keys": ["id", i],
                    },
                },
                outputs={"venv": f"/cache/venvs/{i}"},
                dependencies=("loaders.warehouse",) if i else (),
            )
        )
    return state.next(GitInfo(commit="0" * 40, branch="main", dirty=False, user="ada"))


def grow(state: State, name: str = "extra") -> State:
    """The next version of ``state`` with one more resource."""
    return state.with_resource(
        ResourceState(address=f"loaders.{name}", kind="loaders", attributes={"n": state.serial})
    ).next()


def race(writers: list[StateBackend], states: list[State], prior: State) -> list[Exception | None]:
    """Write ``states[i]`` through ``writers[i]`` from threads released at the same instant."""
    barrier = threading.Barrier(len(writers))
    outcome: list[Exception | None] = [None] * len(writers)

    def run(i: int) -> None:
        barrier.wait()
        try:
            writers[i].write(ENV, states[i], prior)
        except Exception as exc:
            outcome[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(writers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return outcome


def document(**changes: Any) -> bytes:
    """A state document as JSON, with top-level fields replaced (``None`` removes one)."""
    doc = make_state().to_json()
    for key, value in changes.items():
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    return json.dumps(doc).encode()


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"n": value}
    return value


def same(a: State | None, b: State | None) -> bool:
    return a is not None and b is not None and a.to_json() == b.to_json()


class StateBackendConformance:
    """Checks every :class:`~stackform.state.backend.StateBackend` must pass."""

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

    # -- history -----------------------------------------------------------------------------

    def test_previous_version_is_kept(self, backend: StateBackend, peer: StateBackend) -> None:
        written = [make_state()]
        backend.write(ENV, written[0], None)
        for i in range(3):
            written.append(grow(written[-1], f"h{i}"))
            backend.write(ENV, written[-1], written[-2])
        for reader in (backend, peer):
            versions = reader.history(ENV)
            assert [v.serial for v in versions][:2] == [4, 3], "newest first, current first"
            assert all(v.lineage == written[0].lineage for v in versions)
            by_serial = {s.serial: s for s in written}
            for version in versions:
                assert same(reader.read_version(ENV, version), by_serial[version.serial])

    def test_history_is_per_environment(self, backend: StateBackend) -> None:
        dev = make_state("dev")
        backend.write("dev", dev, None)
        backend.write("dev", grow(dev), dev)
        assert backend.history("prod") == []

    # -- environments and delete -------------------------------------------------------------

    def test_environments_and_delete(self, backend: StateBackend, peer: StateBackend) -> None:
        assert backend.environments() == []
        dev, prod = make_state("dev"), make_state("prod")
        backend.write("dev", dev, None)
        backend.write("prod", prod, None)
        assert sorted(peer.environments()) == ["dev", "prod"]
        with backend.lock("dev", "destroy"):
            backend.delete("dev")
        assert backend.read("dev") is None
        assert peer.read("dev") is None
        assert sorted(peer.environments()) == ["prod"]
        assert same(peer.read("prod"), prod)
        # the deleted state is kept: it can still be looked at and restored
        kept = [v for v in backend.history("dev") if v.lineage == dev.lineage]
        assert kept and same(backend.read_version("dev", kept[0]), dev)
        # and the environment can be born again, with a new lineage
        again = make_state("dev")
        peer.write("dev", again, None)
        assert same(backend.read("dev"), again)
        assert backend.history("dev")[0].lineage == again.lineage

    def test_delete_missing_environment_is_a_no_op(self, backend: StateBackend) -> None:
        backend.delete("nowhere")
        assert backend.read("nowhere") is None

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
