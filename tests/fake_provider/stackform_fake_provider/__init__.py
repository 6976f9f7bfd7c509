"""``sleepers``: a test-only provider whose resources take time and can be told to fail.

Apply tests use it to watch parallelism, failure handling (dependents skipped, independents go
on), ``kill -9`` in the middle of an apply and Ctrl-C::

    [sleepers.a]
    seconds = 0.5            # create/update sleep this long first
    value = "hello"          # written into the marker file
    fail = false             # true: raise a StackformError after sleeping, write nothing
    marker_dir = "markers"   # relative to the stack folder; force-new
    pip_url = "six==1.16.0"  # optional: makes the block a plugin for `stackform lock` tests
                             # (nothing is installed; left out of the attributes when unset)

Each resource is a marker file ``<marker_dir>/<name>`` holding ``value``. ``read`` reports it
gone when the marker is missing, and the ``value`` found otherwise (fingerprinted when the
declared value was sensitive), so a test can fake drift by editing or deleting a marker. The
sleep ignores ``ctx.cancel`` on purpose: Ctrl-C lets in-flight work finish, and tests check that.
Outputs record ``started_at``/``finished_at`` (``time.time()``) so a test can see what overlapped.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, model_serializer

from stackform.errors import StackformError
from stackform.provider import BaseProvider, Context, Outputs
from stackform.resource import Resource, ResourceState, is_fingerprint, split_address


class SleeperFailed(StackformError):
    """A sleeper configured with ``fail = true`` did what it was told."""


class SleepersConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seconds: float = 0.0
    value: str
    fail: bool = False
    marker_dir: str
    pip_url: str | None = None

    @model_serializer(mode="wrap")
    def _drop_unset_pip_url(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict) and data.get("pip_url") is None:
            data.pop("pip_url", None)
        return data


class SleepersProvider(BaseProvider[SleepersConfig]):
    kind: ClassVar[str] = "sleepers"
    Config: ClassVar[type[SleepersConfig]] = SleepersConfig
    force_new: ClassVar[frozenset[str]] = frozenset({"marker_dir"})

    def create(self, ctx: Context, desired: Resource) -> Outputs:
        cfg = self.config_of(desired)
        started = time.time()
        ctx.log(f"{desired.address}: sleeping {cfg.seconds}s")
        time.sleep(cfg.seconds)
        if cfg.fail:
            raise SleeperFailed(
                f"{desired.address} failed as configured (fail = true)",
                hint="set fail = false",
            )
        marker = ctx.resolve_path(cfg.marker_dir) / desired.name
        marker.parent.mkdir(parents=True, exist_ok=True)
        # Temp + rename: a kill -9 leaves either no marker or a whole one, never half a value.
        tmp = marker.with_name(f".{marker.name}.{os.getpid()}.tmp")
        tmp.write_text(cfg.value, encoding="utf-8")
        os.replace(tmp, marker)
        finished = time.time()
        ctx.log(f"{desired.address}: wrote {marker}")
        return {"marker": str(marker), "started_at": started, "finished_at": finished}

    def update(self, ctx: Context, prior: ResourceState, desired: Resource) -> Outputs:
        return self.create(ctx, desired)

    def read(self, ctx: Context, prior: ResourceState) -> ResourceState | None:
        marker = _marker(ctx, prior)
        try:
            found = marker.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        attributes = dict(prior.attributes)
        declared = attributes.get("value")
        attributes["value"] = ctx.fingerprint(found) if is_fingerprint(declared) else found
        return ResourceState(
            address=prior.address,
            kind=prior.kind,
            attributes=attributes,
            outputs=dict(prior.outputs),
            dependencies=prior.dependencies,
        )

    def delete(self, ctx: Context, prior: ResourceState) -> None:
        with contextlib.suppress(FileNotFoundError):
            _marker(ctx, prior).unlink()
            ctx.log(f"{prior.address}: removed marker")


def _marker(ctx: Context, prior: ResourceState) -> Path:
    _, name = split_address(prior.address)
    return ctx.resolve_path(str(prior.attributes["marker_dir"])) / name


__all__ = ["SleeperFailed", "SleepersConfig", "SleepersProvider"]
