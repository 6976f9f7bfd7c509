"""What a connector says about itself: ``EXECUTABLE --about --format=json`` (Singer SDK
connectors answer it), parsed into a typed settings model.

:func:`ask_about` runs it when ``--help`` offers ``--about`` and says why not otherwise;
:func:`parse_about` turns the JSON into :class:`About` and its :class:`SettingsSchema` (one
:class:`Setting` per property, nested ones with their key path). The schema is kept in the
shape :meth:`SettingsSchema.to_json` gives, which holds no value of a secret setting (not even
its default), so it may be recorded in state and in the plugin cache
(:func:`record_about` / :func:`recorded_about`, keyed by what the block installs).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stackform.fileio import atomic_write
from stackform.plugins.spec import normalise_python, normalise_requirement
from stackform.plugins.uvtool import cache_dir

if TYPE_CHECKING:
    from stackform.plugins.installs import Venv

KeyPath = tuple[str, ...]
ABOUT_TIMEOUT = 120.0
SECRET_MARKS = ("secret", "sensitive", "writeOnly")
"""JSON-schema keywords by which a connector marks a setting secret (the Singer SDK writes
``secret: true`` and ``writeOnly: true``; others ``sensitive``)."""


@dataclass(frozen=True)
class Setting:
    """One setting a connector declares."""

    path: KeyPath
    types: tuple[str, ...] = ()
    """JSON types it accepts (``string``, ``integer``...); empty: any."""
    description: str = ""
    required: bool = False
    secret: bool = False
    default: Any = None
    has_default: bool = False
    enum: tuple[Any, ...] = ()

    @property
    def name(self) -> str:
        return ".".join(self.path)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"path": list(self.path), "types": list(self.types)}
        if self.description:
            doc["description"] = self.description
        for key in ("required", "secret"):
            if getattr(self, key):
                doc[key] = True
        if self.has_default and not self.secret:
            doc["default"] = self.default
        if self.enum and not self.secret:
            doc["enum"] = list(self.enum)
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Setting:
        return cls(path=tuple(str(p) for p in doc.get("path") or ()),
                   types=tuple(str(t) for t in doc.get("types") or ()),
                   description=str(doc.get("description") or ""),
                   required=bool(doc.get("required")), secret=bool(doc.get("secret")),
                   default=doc.get("default"), has_default="default" in doc,
                   enum=tuple(doc.get("enum") or ()))


@dataclass(frozen=True)
class SettingsSchema:
    """The settings a connector declares, and whether it takes keys it does not declare."""

    settings: tuple[Setting, ...]
    open_keys: frozenset[KeyPath] = frozenset()
    """Tables (``()`` for the top level) that take keys beyond those declared."""

    def top_level(self) -> dict[str, Setting]:
        return {s.path[0]: s for s in self.settings if len(s.path) == 1}

    def by_path(self) -> dict[KeyPath, Setting]:
        return {s.path: s for s in self.settings}

    def secret_paths(self) -> list[KeyPath]:
        return [s.path for s in self.settings if s.secret]

    def to_json(self) -> dict[str, Any]:
        return {"settings": [s.to_json() for s in self.settings],
                "open": sorted(list(p) for p in self.open_keys)}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> SettingsSchema:
        return cls(settings=tuple(Setting.from_json(s) for s in doc.get("settings") or ()),
                   open_keys=frozenset(tuple(str(k) for k in p) for p in doc.get("open") or ()))


@dataclass(frozen=True)
class About:
    """A connector's ``--about``: who it is and, when it says, its settings."""

    name: str = ""
    description: str = ""
    version: str = ""
    sdk_version: str = ""
    capabilities: tuple[str, ...] = ()
    schema: SettingsSchema | None = None

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"name": self.name, "description": self.description,
                               "version": self.version, "sdk_version": self.sdk_version,
                               "capabilities": list(self.capabilities)}
        if self.schema is not None:
            doc["settings_schema"] = self.schema.to_json()
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> About:
        schema = doc.get("settings_schema")
        return cls(name=str(doc.get("name") or ""), description=str(doc.get("description") or ""),
                   version=str(doc.get("version") or ""),
                   sdk_version=str(doc.get("sdk_version") or ""),
                   capabilities=tuple(str(c) for c in doc.get("capabilities") or ()),
                   schema=SettingsSchema.from_json(schema) if isinstance(schema, Mapping)
                   else None)


class AboutError(ValueError):
    """``--about`` said something that is not a connector's description."""


def parse_about(doc: Any) -> About:
    """``--about --format=json`` output (parsed JSON) as :class:`About`."""
    if not isinstance(doc, Mapping):
        raise AboutError("--about did not print a JSON object")
    settings = doc.get("settings")
    schema = None
    if isinstance(settings, Mapping) and isinstance(settings.get("properties"), Mapping):
        found: list[Setting] = []
        open_keys: set[KeyPath] = set()
        _walk(settings, (), found, open_keys)
        schema = SettingsSchema(tuple(found), frozenset(open_keys))
    return About(name=str(doc.get("name") or ""), description=str(doc.get("description") or ""),
                 version=str(doc.get("version") or ""),
                 sdk_version=str(doc.get("sdk_version") or ""),
                 capabilities=tuple(str(c) for c in doc.get("capabilities") or ()
                                    if isinstance(c, str)),
                 schema=schema)


def _walk(node: Mapping[str, Any], path: KeyPath, found: list[Setting],
          open_keys: set[KeyPath]) -> None:
    properties = node.get("properties") or {}
    required = {str(r) for r in node.get("required") or () if isinstance(r, str)}
    # JSON schema's default is "open"; the top level is taken as closed unless it says so,
    # since a key no property declares is a key the connector ignores without a word.
    extra = node.get("additionalProperties")
    if extra is True or isinstance(extra, Mapping) or (path and extra is None):
        open_keys.add(path)
    for key, prop in properties.items():
        if not isinstance(prop, Mapping):
            continue
        here = (*path, str(key))
        found.append(Setting(
            path=here, types=_types(prop), description=" ".join(
                str(prop.get("description") or prop.get("title") or "").split()),
            required=str(key) in required,
            secret=any(prop.get(mark) is True for mark in SECRET_MARKS),
            default=prop.get("default"), has_default="default" in prop,
            enum=tuple(prop.get("enum") or ())))
        if isinstance(prop.get("properties"), Mapping) and prop["properties"]:
            _walk(prop, here, found, open_keys)


def _types(prop: Mapping[str, Any]) -> tuple[str, ...]:
    """The JSON types a property accepts; empty when it does not say plainly (``anyOf``...)."""
    declared = prop.get("type")
    if isinstance(declared, str):
        return (declared,)
    if isinstance(declared, list) and all(isinstance(t, str) for t in declared):
        return tuple(declared)
    return ()


# -- asking the connector ------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """What asking a connector about itself gave: ``about``, or ``reason`` it could not."""

    about: About | None = None
    reason: str = ""
    notes: tuple[str, ...] = field(default=())


def ask_about(venv: Venv, executable: str, *, cwd: Path | None = None, log: Any = None,
              help_text: str | None = None, env: Mapping[str, str] | None = None) -> Answer:
    """Run ``EXECUTABLE --about --format=json`` in ``venv`` when its ``--help`` offers it
    (``help_text``: what ``--help`` printed, when the caller ran it already)."""
    from stackform.plugins.kit import PluginError, run_command

    exe = venv.executable(executable)
    env = dict(env) if env is not None else venv.environ()
    if help_text is None:
        try:
            helped = run_command([str(exe), "--help"], env=env, timeout=ABOUT_TIMEOUT,
                                 cancel=None, what=f"{executable} --help", cwd=cwd, log=log)
        except PluginError as exc:
            return Answer(reason=f"{executable} --help failed: {exc.reason}")
        help_text = helped.stdout + helped.stderr
    if "--about" not in help_text:
        return Answer(reason=f"{executable} offers no --about (not a Singer SDK connector)")
    try:
        answered = run_command([str(exe), "--about", "--format=json"], env=env,
                               timeout=ABOUT_TIMEOUT, cancel=None,
                               what=f"{executable} --about", cwd=cwd, log=log)
    except PluginError as exc:
        return Answer(reason=exc.reason)
    try:
        about = parse_about(json.loads(answered.stdout))
    except (ValueError, AboutError) as exc:
        return Answer(reason=f"{executable} --about --format=json printed no connector "
                      f"description ({exc})")
    if about.schema is None:
        return Answer(about=about, reason=f"{executable} --about lists no settings")
    return Answer(about=about)


# -- the record kept beside the plugin cache -----------------------------------------------------


def install_key(pip_url: str | Sequence[str], python: str | None, executable: str | None
                ) -> str:
    """What a block installs and runs, as a key: equal blocks share one recorded ``--about``."""
    words = pip_url.split() if isinstance(pip_url, str) else [str(w) for w in pip_url]
    return _install_key(tuple(words), python, executable)


@lru_cache(maxsize=4096)
def _install_key(words: tuple[str, ...], python: str | None, executable: str | None) -> str:
    doc = {"requirements": sorted({normalise_requirement(w) for w in words}),
           "python": normalise_python(python), "executable": executable or ""}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:32]


def about_path(key: str, cache: Path | None = None) -> Path:
    return (cache or cache_dir()) / "about" / f"{key}.json"


def record_about(key: str, about: About, executable: str, cache: Path | None = None,
                 venv: str = "") -> None:
    """Keep what ``--about`` said (no secret values: :meth:`About.to_json`) for later plans;
    ``venv`` is the key of the install that said it."""
    path = about_path(key, cache)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"executable": executable, "about": about.to_json(), "venv": venv}
    atomic_write(path, (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode(), 0o644)


def recorded_about(key: str, cache: Path | None = None, venv: str | None = None
                   ) -> tuple[str, About] | None:
    """``(executable, about)`` recorded for ``key`` (by the install ``venv``, when given), or
    ``None``."""
    path = about_path(key, cache)
    try:
        stat = path.stat()
    except OSError:
        return None
    found = _read_record(path, stat.st_mtime_ns, stat.st_size)
    if found is None or (venv is not None and found[2] != venv):
        return None
    return found[0], found[1]


@lru_cache(maxsize=1024)
def _read_record(path: Path, _mtime_ns: int, _size: int) -> tuple[str, About, str] | None:
    """A record, parsed once per version of the file: every resolve reads it per block."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return str(doc["executable"]), About.from_json(doc["about"]), str(doc.get("venv", ""))
    except (OSError, ValueError, KeyError, TypeError):
        return None
