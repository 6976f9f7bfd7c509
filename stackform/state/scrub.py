"""Fingerprint the clear values a recorded state holds under keys that name a secret.

Apart from :mod:`stackform.resource` because it asks the installed providers (through the
registry) which attributes they compute, and providers are built on resources.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

from stackform.registry import Registry
from stackform.resource import Fingerprinter, ResourceState, fingerprinter, mask, secret_key_paths


def scrub_secrets(resources: dict[str, ResourceState], lineage: str
                  ) -> dict[str, ResourceState]:
    """Recorded resources with every clear value under a key that names a secret fingerprinted.

    A state written before that rule existed may hold a literal ``password`` in clear. Scrubbed
    when the state is read, it is never shown or diffed in clear, the next write stores only the
    fingerprint, and an unchanged value plans no change (it fingerprints to exactly what the
    desired resource masks it to). Outputs are the provider's own data (catalogs, manifests,
    file lists keyed by names) and are left alone, as are the attributes a provider computes
    (:attr:`~stackform.provider.ComputesAttributes.computed_fields`): the desired side does
    not apply the rule to them either. Returns ``resources`` itself when nothing needed scrubbing.
    """
    out: dict[str, ResourceState] | None = None
    fingerprint: Fingerprinter | None = None
    for address, recorded in resources.items():
        paths = frozenset(secret_key_paths(recorded.attributes))
        if paths:
            computed = _computed_fields(recorded.kind)
            paths = frozenset(p for p in paths if p[0] not in computed)
        if not paths:
            continue
        fingerprint = fingerprint or fingerprinter(lineage)
        out = out if out is not None else dict(resources)
        out[address] = replace(recorded, attributes=mask(dict(recorded.attributes), paths,
                                                         fingerprint))
    return resources if out is None else out


@lru_cache(maxsize=64)
def _computed_fields(kind: str) -> frozenset[str]:
    """The attributes the installed provider of ``kind`` computes (none when it cannot be
    loaded: then every attribute is scrubbed, which is the safe side). Only asked when a state
    holds a clear value under a secret-named key, so a clean state never imports a provider."""
    try:
        provider = Registry().get(kind)
    except Exception:  # a missing or broken provider must not make the state unreadable
        return frozenset()
    return frozenset(getattr(provider, "computed_fields", ()))
