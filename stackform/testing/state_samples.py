"""What the state backend checks (:mod:`.state_conformance`) write and compare: sample states,
raw documents, and a race of writers. Backend tests use them for their own checks too."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from stackform.resource import SENSITIVE_KEY, ResourceState
from stackform.state.backend import StateBackend
from stackform.state.model import GitInfo, State

StoreRaw = Callable[[str, bytes], None]
Stored = Callable[[str], list[str]]
"""``stored(env)``: the name of every file, key or object version the backend holds of ``env``."""

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
