"""Find providers through the ``stackform.providers`` entry-point group.

The entry point's name is the kind it owns (``files``, ``extractors``); its value is the provider
class. Listing kinds reads only package metadata; a provider module is imported the first time
its kind is used.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from stackform.errors import ProviderNotFoundError
from stackform.provider import Provider, ProviderOption, TakesOptions

GROUP = "stackform.providers"


class Registry:
    """The installed providers, loaded lazily; ``extra`` adds providers in-process (tests)."""

    def __init__(self, extra: Mapping[str, type[Any]] | None = None) -> None:
        self._extra = dict(extra or {})
        self._instances: dict[str, Provider] = {}

    @staticmethod
    @cache
    def entry_points_by_kind() -> dict[str, EntryPoint]:
        """Installed provider entry points by kind (reads package metadata only)."""
        return {ep.name: ep for ep in entry_points(group=GROUP)}

    def kinds(self) -> list[str]:
        return sorted({*self.entry_points_by_kind(), *self._extra})

    def __contains__(self, kind: object) -> bool:
        return kind in self._extra or kind in self.entry_points_by_kind()

    def get(self, kind: str) -> Provider:
        if kind in self._instances:
            return self._instances[kind]
        if kind in self._extra:
            cls = self._extra[kind]
        else:
            ep = self.entry_points_by_kind().get(kind)
            if ep is None:
                installed = ", ".join(self.kinds()) or "none"
                raise ProviderNotFoundError(
                    f"no installed provider owns the kind '{kind}' (installed: {installed})",
                    hint="install the package that provides it, e.g. `uv pip install "
                    f"stackform-{kind}`, or check the section name",
                )
            cls = ep.load()
        instance = cls()
        self._instances[kind] = instance
        return instance

    def declared_options(self, kinds: Iterable[str]) -> dict[str, tuple[str, ProviderOption]]:
        """``name -> (kind, option)`` for every option the providers of ``kinds`` take (see
        :class:`~stackform.provider.TakesOptions`); the first kind to declare a name keeps it."""
        found: dict[str, tuple[str, ProviderOption]] = {}
        for kind in kinds:
            provider = self.get(kind)
            if isinstance(provider, TakesOptions):
                for option in provider.provider_options:
                    found.setdefault(option.name, (kind, option))
        return found
