"""The conformance suite every provider runs, like dbt's adapter test suite.

A provider's tests subclass :class:`ProviderConformance` and supply fixtures; every check below
then runs against that provider::

    class TestFilesConformance(ProviderConformance):
        replace_variant = 2
        sensitive_variant = 3

        @pytest.fixture
        def provider(self) -> Provider:
            return FilesProvider()

        @pytest.fixture
        def make_resource(self) -> MakeResource:
            def make(name: str, variant: int) -> Resource: ...
            return make

Fixtures a subclass must supply:

``provider``
    A provider instance.
``make_resource``
    ``make(name, variant) -> Resource``: a desired resource. Variants ``0`` and ``1`` differ in
    an attribute that is updated in place. Variant :attr:`~ProviderConformance.replace_variant`
    differs from ``0`` only in force-new attributes (required when the provider has any).
    Variant :attr:`~ProviderConformance.sensitive_variant` carries at least one sensitive
    attribute; make its secret values distinctive strings (the check searches for them as
    substrings of outputs and state).

Fixtures a subclass may override: ``stack_dir`` (a fresh temporary folder) and ``ctx`` (a
:class:`Context` over it with a fixed-lineage fingerprint and a ``log`` that collects lines).

The suite plays core's part: after ``create``/``update`` it records state as core does,
``ResourceState(attributes=desired.masked(fingerprint), outputs=outputs)``, and hands that to
``read``/``update``/``delete``. The contract it checks:

- ``Config`` is a pydantic model that forbids unknown keys, and desired attributes validate
  (less the ``computed_fields`` a provider derives from the rest of the stack);
- ``force_new`` and ``sensitive_fields`` name real ``Config`` fields, ``computed_fields`` none;
- create then read gives back the desired masked attributes; read after update reflects it;
- read of something never created, or deleted, is ``None``; delete is idempotent;
- create over an existing resource succeeds (a crash between create and the state write must
  not wedge the next apply);
- read and plan notes are repeatable: the same answer for an unchanged world (apply builds a
  saved plan again and refuses it when anything differs, so no time stamps in notes);
- the provider passes the registry's checks at load (:mod:`stackform.provider_checks`): the
  right ``kind``, a pydantic ``Config`` (the one of ``BaseProvider[Config]``), core's methods
  taking core's arguments, every optional capability declared whole;
- each optional capability it declares keeps its contract: ``written_paths`` and
  ``watched_paths`` give paths, ``computed_attributes`` only ``computed_fields``,
  ``pipeline_dependencies`` only pipelines of the stack, ``unapplied`` is ``None`` right after
  an apply, ``plan_diagnostics`` returns ``Diagnostic`` objects, the same for an unchanged world
  (it runs at every plan);
- outputs are JSON-serialisable; no secret appears in outputs, in ``ResourceState.to_json()``,
  in plan notes or in plan diagnostics;
- providers never print (they log through ``ctx.log``);
- the provider class loads through the ``stackform.providers`` entry point for its kind
  (test-only providers that are not installed set ``check_entry_point = False``).

The checks live by concern: the declared shape and registration in :mod:`.provider_schema`,
the lifecycle in :mod:`.provider_lifecycle`, optional capabilities and secrets in
:mod:`.provider_capabilities`; the fixtures and helpers they share (exported here too) in
:mod:`.provider_support`.
"""

from __future__ import annotations

from stackform.testing.provider_capabilities import ProviderCapabilityChecks
from stackform.testing.provider_lifecycle import ProviderLifecycleChecks
from stackform.testing.provider_schema import ProviderSchemaChecks
from stackform.testing.provider_support import (
    LINEAGE,
    MIN_SECRET_LENGTH,
    MakeResource,
    assert_json_outputs,
    assert_strings,
    config_attributes,
    never_created,
    record,
    sensitive_leaves,
)


class ProviderConformance(ProviderSchemaChecks, ProviderLifecycleChecks, ProviderCapabilityChecks):
    """Base class of a provider's conformance tests; see the module docstring."""


__all__ = [
    "LINEAGE",
    "MIN_SECRET_LENGTH",
    "MakeResource",
    "ProviderConformance",
    "assert_json_outputs",
    "assert_strings",
    "config_attributes",
    "never_created",
    "record",
    "sensitive_leaves",
]
