"""The ``files`` provider: see the package docstring for the design."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

from stackform.provider import BaseProvider, Context, Outputs, WatchesPaths, WritesLocalFiles
from stackform.resource import KeyPath, Resource, ResourceState, is_fingerprint
from stackform_files._disk import (
    FilesError,
    inspect,
    remove,
    render_template,
    template_digest,
    write_file,
)
from stackform_files.config import FilesConfig

if TYPE_CHECKING:
    from stackform.config.model import ResolvedStack

DEFAULT_MODE = "0644"
SENSITIVE_MODE = "0600"
DRIFT_ATTRIBUTE = "content_sha256"
"""Added by ``read`` to a template file's attributes when the file no longer matches them."""

_CONTENT_FIELDS = frozenset({"content", "vars"})
_UNMASKABLE = frozenset({"path", "template"})


class FilesProvider(BaseProvider[FilesConfig], WritesLocalFiles, WatchesPaths):
    """Renders one file per ``[files.NAME]`` block."""

    kind: ClassVar[str] = "files"
    Config: ClassVar[type[FilesConfig]] = FilesConfig
    force_new: ClassVar[frozenset[str]] = frozenset({"path"})

    def written_paths(self, config: BaseModel) -> Mapping[KeyPath, str]:
        return {("path",): self.config_of(config).path}

    def watched_paths(self, stack: ResolvedStack, resource: Resource) -> list[tuple[str, str]]:
        template = self.config_of(resource).template
        return [("template", template)] if template else []

    def create(self, ctx: Context, desired: Resource) -> Outputs:
        cfg = _config(desired)
        sensitive = _content_sensitive(desired.sensitive)
        target = ctx.resolve_path(cfg.path)
        template_sha256: str | None = None
        if cfg.template is not None:
            text, template_sha256 = render_template(
                ctx.resolve_path(cfg.template), cfg.vars, cfg.template
            )
        else:
            assert cfg.content is not None  # the config validator guarantees one source
            text = cfg.content
        data = text.encode("utf-8")
        mode = effective_mode(cfg.mode, sensitive)
        write_file(target, data, int(mode, 8), create_dirs=cfg.create_dirs, shown=cfg.path)
        ctx.log(f"wrote {cfg.path} (mode {mode})")
        outputs: Outputs = {
            "sha256": _digest(ctx, data, sensitive),
            "abs_path": str(target.absolute()),
            "mode": mode,
        }
        if not sensitive:  # the length of a secret is a hint about it
            outputs["size"] = len(data)
        if template_sha256 is not None:
            outputs["template_sha256"] = template_sha256
        return outputs

    def update(self, ctx: Context, prior: ResourceState, desired: Resource) -> Outputs:
        outputs = self.create(ctx, desired)
        # `path` is force_new, so core replaces instead; this only guards a direct caller.
        old = prior.attributes.get("path")
        if isinstance(old, str) and ctx.resolve_path(old).absolute() != Path(outputs["abs_path"]):
            self.delete(ctx, prior)
        return outputs

    def delete(self, ctx: Context, prior: ResourceState) -> None:
        path = _prior_path(prior)
        if remove(ctx.resolve_path(path), path):
            ctx.log(f"removed {path}")
        else:
            ctx.log(f"{path} was already gone")

    def read(self, ctx: Context, prior: ResourceState) -> ResourceState | None:
        path = _prior_path(prior)
        found = inspect(ctx.resolve_path(path), path)
        if found is None:
            return None
        attributes = dict(prior.attributes)
        attributes.pop(DRIFT_ATTRIBUTE, None)
        outputs = prior.outputs
        sensitive = _prior_sensitive(prior)

        # What stackform wrote last time, against which hand edits are measured.
        written_mode = outputs.get("mode") or attributes.get("mode") or DEFAULT_MODE
        if found.mode != written_mode:
            attributes["mode"] = found.mode

        digest = _digest(ctx, found.data, sensitive)
        if isinstance(attributes.get("template"), str):
            source_now = template_digest(ctx.resolve_path(attributes["template"]))
            if digest != outputs.get("sha256") or source_now != outputs.get("template_sha256"):
                attributes[DRIFT_ATTRIBUTE] = digest
        elif digest != outputs.get("sha256"):
            text = found.data.decode("utf-8", errors="replace")
            masked = is_fingerprint(attributes.get("content"))
            attributes["content"] = ctx.fingerprint(text) if masked else text

        return ResourceState(
            address=prior.address,
            kind=prior.kind,
            attributes=attributes,
            outputs=dict(outputs),
            dependencies=prior.dependencies,
        )

    def plan_notes(
        self, ctx: Context, prior: ResourceState | None, desired: Resource | None
    ) -> list[str]:
        notes: list[str] = []
        if desired is not None:
            cfg = _config(desired)
            if cfg.mode is None and _content_sensitive(desired.sensitive):
                notes.append(
                    f"{cfg.path} holds a secret: written with mode {SENSITIVE_MODE} "
                    "(set mode to override)"
                )
        if prior is not None and isinstance(prior.attributes.get("template"), str):
            template = prior.attributes["template"]
            recorded = prior.outputs.get("template_sha256")
            if recorded and template_digest(ctx.resolve_path(template)) != recorded:
                notes.append(f"template {template} changed since the last apply")
        return notes


def effective_mode(mode: str | None, sensitive: bool) -> str:
    """The declared mode, else 0600 for a file that holds a secret, else 0644."""
    if mode is not None:
        return mode
    return SENSITIVE_MODE if sensitive else DEFAULT_MODE


def _config(desired: Resource) -> FilesConfig:
    cfg = FilesProvider.config_of(desired)
    for key in desired.sensitive:
        if key and key[0] in _UNMASKABLE:
            raise FilesError(
                f"{desired.address}.{key[0]} contains a secret",
                hint=f"{key[0]} is shown in plans and used to find the file later; keep secrets "
                "in content or vars",
            )
    return cfg


def _content_sensitive(sensitive: frozenset[KeyPath]) -> bool:
    return any(key and key[0] in _CONTENT_FIELDS for key in sensitive)


def _prior_sensitive(prior: ResourceState) -> bool:
    if is_fingerprint(prior.outputs.get("sha256")):
        return True
    return any(_has_fingerprint(prior.attributes.get(name)) for name in _CONTENT_FIELDS)


def _has_fingerprint(value: Any) -> bool:
    if is_fingerprint(value):
        return True
    if isinstance(value, Mapping):
        return any(_has_fingerprint(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_fingerprint(v) for v in value)
    return False


def _digest(ctx: Context, data: bytes, sensitive: bool) -> Any:
    """sha256 of the bytes; for a file holding a secret, the state's keyed fingerprint of it.

    A bare sha256 of a short secret is cheap to guess offline from state; the state's slow, keyed
    fingerprint makes every guess expensive (see stackform.resource.fingerprinter).
    """
    hexdigest = hashlib.sha256(data).hexdigest()
    return ctx.fingerprint(hexdigest) if sensitive else hexdigest


def _prior_path(prior: ResourceState) -> str:
    path = prior.attributes.get("path")
    if not isinstance(path, str):
        raise FilesError(
            f"state of {prior.address} has no usable path",
            hint="the state entry is damaged; remove it from state and apply again",
        )
    return path
