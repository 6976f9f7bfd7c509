"""What the registry checks of a provider when it loads it, before anything uses it.

Like pluggy verifying a plugin when it is registered rather than in the middle of a hook call: a
class of the wrong kind, without a pydantic ``Config``, missing a method of
:class:`~stackform.provider.Provider`, or with an optional capability half declared or taking
the wrong arguments is refused once, at load, with everything that is wrong. Core can then trust
what ``isinstance(provider, Capability)`` says. The members checked are read from the protocols
themselves, so a hook added to :mod:`stackform.provider` is checked without a word here.
"""

from __future__ import annotations

import inspect
from functools import cache
from typing import Any, get_args, get_origin

from pydantic import BaseModel

from stackform.inspection import CONNECTOR_CAPABILITIES
from stackform.provider import CAPABILITIES, BaseProvider, Provider, ProviderOption
from stackform.provider_lineage import LINEAGE_CAPABILITIES
from stackform.provider_steps import CHAIN_ROLES


@cache
def members(protocol: type) -> tuple[dict[str, tuple[str, ...]], tuple[str, ...]]:
    """``(methods, attributes)`` a protocol declares: each method with the names of the
    arguments core passes it (positionally), and the class attributes."""
    methods: dict[str, tuple[str, ...]] = {}
    for name, value in vars(protocol).items():
        if not name.startswith("_") and inspect.isfunction(value):
            methods[name] = tuple(inspect.signature(value).parameters)[1:]
    attributes = tuple(name for name in vars(protocol).get("__annotations__", {})
                       if not name.startswith("_"))
    return methods, attributes


def class_problems(cls: Any, kind: str) -> list[str]:
    """What is wrong with ``cls`` as the class of kind ``kind``'s provider, before it is
    created (an empty list when nothing)."""
    if not isinstance(cls, type):
        return [f"it is a {type(cls).__name__}, not a class"]
    found: list[str] = []
    declared = getattr(cls, "kind", None)
    if not isinstance(declared, str) or not declared:
        found.append("it declares no kind")
    elif declared != kind:
        found.append(f"its kind is {declared!r}, not {kind!r}")
    config = getattr(cls, "Config", None)
    if not (isinstance(config, type) and issubclass(config, BaseModel)):
        found.append("its Config is not a pydantic model")
        return found
    fields = set(config.model_fields)
    for name in ("force_new", "sensitive_fields"):
        value = getattr(cls, name, None)
        if not (isinstance(value, frozenset) and all(isinstance(v, str) for v in value)):
            found.append(f"its {name} is not a frozenset of field names")
        elif value - fields:
            found.append(f"its {name} names what its Config does not have: "
                         f"{', '.join(sorted(value - fields))}")
    promised = _generic_config(cls)
    if promised is not None and not issubclass(config, promised):
        found.append(f"its Config is {config.__name__}, not the {promised.__name__} of "
                     f"BaseProvider[{promised.__name__}]")
    return found


def provider_problems(provider: Any) -> list[str]:
    """What is wrong with a created provider's methods and optional capabilities (an empty
    list when nothing): a method core calls that is missing or does not take core's
    arguments, a capability with some of its members and not the others."""
    methods, _ = members(Provider)
    found = [problem for name, args in methods.items()
             if (problem := _method_problem(provider, name, args))]
    for capability in (*CAPABILITIES, *CONNECTOR_CAPABILITIES, *LINEAGE_CAPABILITIES):
        methods, attributes = members(capability)
        names = [*methods, *attributes]
        present = [n for n in names if hasattr(provider, n)]
        if not present:
            continue
        if len(present) < len(names):
            missing = [n for n in names if n not in present]
            found.append(f"it has {', '.join(present)} but not {', '.join(missing)}, which "
                         f"{capability.__name__} needs too")
            continue
        found.extend(problem for name, args in methods.items()
                     if (problem := _method_problem(provider, name, args)))
    found.extend(_attribute_problems(provider))
    return found


def _method_problem(provider: Any, name: str, args: tuple[str, ...]) -> str | None:
    method = getattr(provider, name, None)
    if method is None:
        return f"it has no method {name}"
    if not callable(method):
        return f"its {name} is not a method"
    try:
        inspect.signature(method).bind(*args)
    except TypeError:
        return f"its {name} does not take ({', '.join(args)})"
    except ValueError:  # no signature to read (a builtin): nothing to check
        return None
    return None


def _attribute_problems(provider: Any) -> list[str]:
    found: list[str] = []
    fields = set(getattr(getattr(provider, "Config", None), "model_fields", {}))
    computed = getattr(provider, "computed_fields", None)
    if computed is not None:
        if not (isinstance(computed, frozenset) and all(isinstance(c, str) for c in computed)):
            found.append("its computed_fields is not a frozenset of names")
        elif computed & fields:
            found.append(f"its computed_fields are Config fields: "
                         f"{', '.join(sorted(computed & fields))}")
    exported = getattr(provider, "exported_fields", None)
    if exported is not None and not (isinstance(exported, frozenset)
                                     and all(isinstance(e, str) for e in exported)):
        found.append("its exported_fields is not a frozenset of names")
    role = getattr(provider, "chain_role", None)
    if role is not None and role not in CHAIN_ROLES:
        found.append(f"its chain_role is not one of {', '.join(CHAIN_ROLES)}")
    env_field = getattr(provider, "process_env_field", None)
    if env_field is not None and env_field not in fields:
        found.append(f"its process_env_field '{env_field}' is not a Config field")
    options = getattr(provider, "provider_options", None)
    if options is not None:
        if not (isinstance(options, tuple)
                and all(isinstance(o, ProviderOption) for o in options)):
            found.append("its provider_options is not a tuple of ProviderOption")
        else:
            names = [o.name for o in options]
            bad = [n for n in names if not n.isidentifier()]
            if bad:
                found.append(f"its provider_options are not identifiers: {', '.join(bad)}")
            if len(set(names)) < len(names):
                found.append("its provider_options name an option twice")
    return found


def _generic_config(cls: type) -> type | None:
    """``X`` of the ``BaseProvider[X]`` a class derives from, or ``None`` when it does not
    say."""
    for klass in cls.__mro__:
        for base in getattr(klass, "__orig_bases__", ()):
            origin = get_origin(base)
            if isinstance(origin, type) and issubclass(origin, BaseProvider):
                args = get_args(base)
                if args and isinstance(args[0], type):
                    return args[0]
    return None
