"""Fixtures of the real end-to-end tests (tests/e2e).

* ``plugin_cache``: one ``STACKFORM_CACHE_DIR`` for the whole test session. Plugin venvs are
  content-addressed there, so each plugin is installed once per session whatever the number of
  tests and environments using it (``STACKFORM_E2E_CACHE_DIR`` reuses a folder across sessions).
* ``stackform_for``: the real ``stackform`` console script for a stack folder, with a private
  home, keyring and ``TMPDIR`` and the shared plugin cache.
* ``databases``: checks that MariaDB and PostgreSQL answer with the accounts
  ``scripts/ci-services`` creates, and fails (never skips) with what to run when they do not.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from e2e_support import MYSQL, POSTGRES, Stackform, mysql, postgres, stackform_in


@pytest.fixture(scope="session")
def plugin_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    explicit = os.environ.get("STACKFORM_E2E_CACHE_DIR", "").strip()
    if explicit:
        path = Path(explicit).expanduser()
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("stackform-cache")


@pytest.fixture
def stackform_for(tmp_path: Path, plugin_cache: Path
                  ) -> Callable[..., Stackform]:
    def make(stack_dir: Path, extra_env: Mapping[str, str] | None = None) -> Stackform:
        return stackform_in(stack_dir, tmp_path / "home", plugin_cache, extra_env)

    return make


@pytest.fixture(scope="session")
def databases() -> None:
    problems = []
    try:
        with mysql() as con, con.cursor() as cur:
            cur.execute("select 1")
    except Exception as exc:
        problems.append(f"MariaDB {MYSQL['user']}@{MYSQL['host']}:{MYSQL['port']}/"
                        f"{MYSQL['database']}: {exc}")
    try:
        with postgres() as con:
            con.execute("select 1")
    except Exception as exc:
        problems.append(f"PostgreSQL {POSTGRES['user']}@{POSTGRES['host']}:{POSTGRES['port']}/"
                        f"{POSTGRES['dbname']}: {exc}")
    if problems:
        pytest.fail("the end-to-end database servers do not answer; run scripts/ci-services "
                    "(CI does, before the tests):\n  " + "\n  ".join(problems), pytrace=False)
