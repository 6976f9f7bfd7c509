"""State backend checks on what outlives the current document: kept versions, the list of
environments, deleting one and purging one (nothing of it left in storage).
"""

from __future__ import annotations

from stackform.errors import StateLockedError
from stackform.state.backend import StateBackend
from stackform.testing.state_samples import ENV, Stored, grow, make_state, same


class StateHistoryChecks:
    """History, environments and delete."""

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

    def test_writes_keeping_no_prior_leave_the_version_before_them(
            self, backend: StateBackend, peer: StateBackend) -> None:
        """An apply's writes after its first (``keep_prior=False``), more of them than a
        backend keeps versions, leave the state from before the apply restorable."""
        before = make_state()
        backend.write(ENV, before, None)
        snapshots = [grow(before, "s0")]
        backend.write(ENV, snapshots[0], before)
        for i in range(1, 30):
            snapshots.append(grow(snapshots[-1], f"s{i}"))
            backend.write(ENV, snapshots[-1], snapshots[-2], keep_prior=False)
        after = grow(snapshots[-1], "next")
        backend.write(ENV, after, snapshots[-1])  # the next apply's first write
        for reader in (backend, peer):
            versions = {v.serial: v for v in reader.history(ENV)}
            for kept in (before, snapshots[-1], after):
                assert kept.serial in versions, f"serial {kept.serial} is not kept"
                assert same(reader.read_version(ENV, versions[kept.serial]), kept)

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

    # -- purge -------------------------------------------------------------------------------

    def test_purge_leaves_nothing_of_the_environment(self, backend: StateBackend,
                                                     peer: StateBackend,
                                                     stored: Stored) -> None:
        dev, prod = make_state("dev"), make_state("prod")
        backend.write("prod", prod, None)
        backend.write("prod", grow(prod), prod)
        backend.write("dev", dev, None)
        backend.write("dev", grow(dev), dev)  # a backup and a kept version
        with backend.lock("dev", "destroy"):
            backend.delete("dev")
        prod_before = sorted(stored("prod"))
        assert stored("dev"), "the fixture sees what the backend stores"
        backend.purge("dev")
        assert stored("dev") == []
        for reader in (backend, peer):
            assert reader.read("dev") is None
            assert reader.history("dev") == []
            assert reader.lock_info("dev") is None
            assert reader.environments() == ["prod"]
        assert sorted(stored("prod")) == prod_before, "another environment is untouched"
        assert len(peer.history("prod")) >= 2
        backend.purge("dev")  # nothing left: a no-op
        with peer.lock("dev", "apply"):  # and the name is free again
            peer.write("dev", make_state("dev"), None)

    def test_purge_waits_for_no_one(self, backend: StateBackend, peer: StateBackend) -> None:
        backend.write("dev", make_state("dev"), None)
        with peer.lock("dev", "apply"):
            try:
                backend.purge("dev")
            except StateLockedError:
                pass
            else:
                raise AssertionError("purge of a locked environment must be refused")
        assert backend.read("dev") is not None
