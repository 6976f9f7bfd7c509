"""One plugin venv cache for every provider test in a session: each plugin (a Singer tap, a
dbt adapter) installs once, and no test touches the user's own cache."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session", autouse=True)
def _plugin_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STACKFORM_CACHE_DIR", str(tmp_path_factory.mktemp("plugin-cache")))
        yield
