"""Find providers through the ``stackform.providers`` entry-point group.

The entry point's name is the kind it owns (``files``, ``extractors``); its value is the provider
class. Listing kinds reads only package metadata; a provider module is imported the first time
its kind is used, and checked then (:mod:`stackform.provider_checks`): a package whose provider
is broken is refused once, naming the package and what is wrong, before any of it runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from stackform.errors import ProviderLoadError, ProviderNotFoundError
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
        """The provider of ``kind``, loaded and checked the first time it is asked for."""
        if kind in self._instances:
            return self._instances[kind]
        if kind in self._extra:
            cls = self._extra[kind]
            package = str(getattr(cls, "__module__", "?")).split(".")[0]
            source = f"{_qualified(cls)}, registered in-process"
        else:
            ep = self.entry_points_by_kind().get(kind)
            if ep is None:
                installed = ", ".join(self.kinds()) or "none"
                raise ProviderNotFoundError(
                    f"no installed provider owns the kind '{kind}' (installed: {installed})",
                    hint="install the package that provides it, e.g. `uv pip install "
                    f"stackform-{kind}`, or check the section name",
                )
            package = ep.dist.name if ep.dist is not None else ep.module.split(".")[0]
            source = ep.value
            try:
                cls = ep.load()
            except Exception as exc:  # whatever importing someone else's package raises
                raise _refused(kind, package, source, "cannot be loaded",
                               [f"{type(exc).__name__}: {exc}"]) from None
        instance = checked(kind, cls, package, source)
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


def checked(kind: str, cls: Any, package: str, source: str) -> Provider:
    """``cls()`` when it is a usable provider of ``kind``; else a :class:`ProviderLoadError`
    naming ``package`` (and ``source``, where in it) and every problem found."""
    from stackform.provider_checks import class_problems, provider_problems

    problems = class_problems(cls, kind)
    if problems:
        raise _refused(kind, package, source, "is not a usable provider", problems)
    try:
        instance = cls()
    except Exception as exc:  # a provider's constructor is its own code
        raise _refused(kind, package, source, "cannot be created",
                       [f"{type(exc).__name__}: {exc}"]) from None
    problems = provider_problems(instance)
    if problems:
        raise _refused(kind, package, source, "is not a usable provider", problems)
    provider: Provider = instance
    return provider


def _refused(kind: str, package: str, source: str, what: str, problems: list[str]
             ) -> ProviderLoadError:
    return ProviderLoadError(
        f"the provider of kind '{kind}' in package {package} ({source}) {what}: "
        f"{'; '.join(problems)}",
        hint=f"a fault of {package}, not of the stack: upgrade or reinstall it, or uninstall it "
        f"if no stack uses the kind '{kind}'")


def _qualified(cls: Any) -> str:
    return f"{getattr(cls, '__module__', '?')}:{getattr(cls, '__qualname__', repr(cls))}"
