"""dbt for stackform: kind ``transformers``.

A ``[transformers.NAME]`` block installs a dbt adapter with uv into stackform's shared venv cache
(the helpers of :mod:`stackform_singer.plugin`), writes a ``profiles.yml`` of the environment's
own (:mod:`.profile`: secrets only as ``env_var()`` references, their values given to dbt's
process at run time), runs ``dbt deps`` when the project has packages and ``dbt parse`` to
validate it, and records a compact summary of the manifest. From that summary and a cheap hash of
the project's files, the plan says which models, tests, seeds and sources are new, changed or
removed and what they affect downstream (:mod:`.project`). In a pipeline, a ``dbt:<command>``
step runs dbt with the environment's profile and fails naming the failing nodes (:mod:`.run`).
"""

from stackform_dbt.provider import TransformerProvider

__all__ = ["TransformerProvider"]
