"""In-process fake providers for unit tests of core logic (real providers run elsewhere)."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from stackform.config.model import EnvironmentSettings, ResolvedStack
from stackform.errors import StackformError
from stackform.provider import BaseProvider, Context, Outputs
from stackform.resource import KeyPath, Resource, ResourceState


class ThingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: str = ""
    size: int = 1
    password: str | None = None
    fail: bool = False
    sleep: float = 0.0


class MemoryProvider(BaseProvider):
    """Keeps "real" resources in a class-level dict, so tests can edit them behind its back."""

    kind: ClassVar[str] = "things"
    Config: ClassVar[type[BaseModel]] = ThingConfig
    force_new: ClassVar[frozenset[str]] = frozenset({"size"})
    world: ClassVar[dict[str, dict[str, Any]]] = {}
    calls: ClassVar[list[tuple[str, str]]] = []
    lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def reset(cls) -> None:
        cls.world.clear()
        cls.calls.clear()

    def _note(self, op: str, address: str) -> None:
        with self.lock:
            self.calls.append((op, address))

    def read(self, ctx: Context, prior: ResourceState) -> ResourceState | None:
        self._note("read", prior.address)
        real = self.world.get(prior.address)
        if real is None:
            return None
        attributes = dict(prior.attributes)
        attributes["value"] = real["value"]
        return ResourceState(prior.address, prior.kind, attributes, prior.outputs,
                             prior.dependencies)

    def create(self, ctx: Context, desired: Resource) -> Outputs:
        self._note("create", desired.address)
        attrs = desired.attributes
        if attrs.get("sleep"):
            time.sleep(float(attrs["sleep"]))
        if attrs.get("fail"):
            raise StackformError(f"{desired.address} was told to fail",
                                 hint="set fail = false")
        self.world[desired.address] = {"value": attrs["value"]}
        return {"id": desired.address}

    def update(self, ctx: Context, prior: ResourceState, desired: Resource) -> Outputs:
        self._note("update", desired.address)
        return self.create(ctx, desired)

    def delete(self, ctx: Context, prior: ResourceState) -> None:
        self._note("delete", prior.address)
        self.world.pop(prior.address, None)


def thing(name: str, depends_on: tuple[str, ...] = (), sensitive: frozenset[KeyPath] = frozenset(),
          **values: Any) -> Resource:
    config = ThingConfig(**values)
    return Resource(f"things.{name}", "things", name, config, config.model_dump(mode="json"),
                    sensitive, depends_on)


def stack_of(resources: list[Resource], directory: Path, env: str = "dev",
             pipelines: Mapping[str, Any] | None = None) -> ResolvedStack:
    return ResolvedStack(
        name="test", env=env, file=directory / "stack.toml", dir=directory,
        environment=EnvironmentSettings(name=env),
        state={"backend": "local"},
        resources={r.address: r for r in resources},
        pipelines=dict(pipelines or {}),
    )
