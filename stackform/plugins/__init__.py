"""Plugin installs: the shared uv-built environments plugins run in (``installs``, on
``uvtool``), the lock file that pins them (``lockfile``), the first-party connectors a stack may
name by short name (``connectors``), and what plugin providers use to run their plugins
(``kit``). Nothing is imported here, so that each part loads only what it needs."""
