"""Tests for isolated plugin installs (stackform.plugins.installs), with the real uv and
package index.

Each test gets its own cache directory (``STACKFORM_CACHE_DIR`` in tmp_path) unless it tests
sharing on purpose. Packages are tiny and pure Python (``six``), except one test that installs
``tap-jsonl`` to check a real Singer tap's executable and the cold and warm timings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from stackform.errors import Interrupted
from stackform.plugins.installs import (
    MARKER,
    InstallError,
    Venv,
    cache_dir,
    compile_requirements,
    ensure_venv,
    explain_uv_failure,
    find_venv,
    freeze,
    prune,
    trim_uv_message,
)
from stackform.plugins.spec import InstallSpec, current_python

SIX = InstallSpec(("six==1.16.0",))


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("STACKFORM_CACHE_DIR", str(cache))
    return cache


def venv_dirs(cache: Path) -> list[str]:
    root = cache / "venvs"
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.exists() else []


# -- specs and the cache folder -----------------------------------------------------------------


def test_cache_dir_precedence(tmp_path: Path) -> None:
    assert cache_dir({"STACKFORM_CACHE_DIR": str(tmp_path / "a"), "XDG_CACHE_HOME": "/x"}) \
        == tmp_path / "a"
    assert cache_dir({"XDG_CACHE_HOME": str(tmp_path / "xdg")}) == tmp_path / "xdg" / "stackform"
    assert cache_dir({}) == Path.home() / ".cache" / "stackform"


def test_spec_key_is_content_addressed() -> None:
    a = InstallSpec(("six==1.16.0", "tap-jsonl==0.3.1"))
    b = InstallSpec(("Tap_JSONL == 0.3.1", " six==1.16.0 "))
    assert a.key == b.key, "order, spelling and blanks do not make a new venv"
    assert a.python == current_python()
    assert InstallSpec(a.requirements, python=current_python()).key == a.key
    assert InstallSpec(a.requirements, python="3.12").key != a.key
    assert InstallSpec(("six==1.17.0",)).key != SIX.key
    with pytest.raises(InstallError, match="at least one requirement"):
        InstallSpec(("  ",))


# -- building and reusing -----------------------------------------------------------------------


def test_second_ensure_is_instant_and_builds_nothing(own_cache: Path) -> None:
    logs: list[str] = []
    venv = ensure_venv(SIX, log=logs.append)
    assert venv.is_complete()
    assert venv.path == own_cache / "venvs" / SIX.key
    assert venv.frozen == ["six==1.16.0"]
    assert any(m.startswith("installing") for m in logs)
    # Compiled at install, before anything imports it: a plugin started where Python may not
    # write bytecode (PYTHONDONTWRITEBYTECODE) does not compile its modules at every start.
    assert list(venv.path.glob("lib/python3*/site-packages/__pycache__/six.cpython-*.pyc"))
    ok = subprocess.run([str(venv.python), "-c", "import six; print(six.__version__)"],
                        capture_output=True, text=True, check=True)
    assert ok.stdout.strip() == "1.16.0"
    before_dirs = venv_dirs(own_cache)
    marker = venv.path / MARKER
    stamp = marker.stat().st_mtime_ns
    content = marker.read_text()

    again: list[str] = []
    second = ensure_venv(InstallSpec((" Six==1.16.0",)), log=again.append)
    assert second.path == venv.path
    assert venv_dirs(own_cache) == before_dirs == [SIX.key]
    assert marker.stat().st_mtime_ns == stamp and marker.read_text() == content
    assert not any(m.startswith("installing") for m in again)
    assert find_venv(SIX) == second


def test_concurrent_threads_build_once(own_cache: Path) -> None:
    logs: list[list[str]] = [[], [], []]
    results: list[Venv | BaseException] = [RuntimeError("not run")] * 3
    barrier = threading.Barrier(3)

    def work(i: int) -> None:
        barrier.wait()
        try:
            results[i] = ensure_venv(SIX, log=logs[i].append)
        except BaseException as exc:  # pragma: no cover - reported below
            results[i] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert all(isinstance(r, Venv) for r in results), results
    assert len({r.path for r in results if isinstance(r, Venv)}) == 1
    builds = [m for log in logs for m in log if m.startswith("installing")]
    assert len(builds) == 1, logs
    assert venv_dirs(own_cache) == [SIX.key]


def test_concurrent_processes_build_once(own_cache: Path) -> None:
    script = (
        "import sys\n"
        "from stackform.plugins.installs import ensure_venv\n"
        "from stackform.plugins.spec import InstallSpec\n"
        "v = ensure_venv(InstallSpec(('six==1.16.0',)), log=lambda m: print(m, flush=True))\n"
        "print('PATH', v.path)\n"
    )
    env = {**os.environ, "STACKFORM_CACHE_DIR": str(own_cache)}
    procs = [subprocess.Popen([sys.executable, "-c", script], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(3)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    stdout = [out for out, _ in outputs]
    assert sum(out.count("\ninstalled ") + out.startswith("installed ") for out in stdout) == 1, \
        stdout
    assert len({out.split("PATH ")[1].strip() for out in stdout}) == 1
    assert venv_dirs(own_cache) == [SIX.key]


def test_a_shared_cache_serves_another_environment(tmp_path: Path) -> None:
    """Two stacks (or environments, or developers) pointing at one cache share the venv."""
    shared = tmp_path / "shared"
    first = ensure_venv(SIX, cache=shared)
    logs: list[str] = []
    second = ensure_venv(InstallSpec(("six==1.16.0",)), cache=shared, log=logs.append)
    assert second.path == first.path
    assert logs and logs[0].startswith("reusing")


def test_failed_install_carries_uv_message_and_leaves_nothing(own_cache: Path) -> None:
    spec = InstallSpec(("this-package-does-not-exist-xyz==1",))
    with pytest.raises(InstallError) as info:
        ensure_venv(spec)
    err = info.value
    assert "this-package-does-not-exist-xyz" in err.reason
    assert "not found in the package registry" in err.reason  # uv's resolver, verbatim
    assert err.hint and "pip_url" in err.hint
    assert venv_dirs(own_cache) == [], "no partial venv, no temp folder"
    assert find_venv(spec) is None


def test_cancel_stops_and_leaves_nothing(own_cache: Path) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Interrupted):
        ensure_venv(InstallSpec(("six==1.15.0",)), cancel=cancel)
    assert venv_dirs(own_cache) == []


def test_incomplete_leftovers_are_rebuilt(own_cache: Path) -> None:
    root = own_cache / "venvs"
    (root / f"{SIX.key}.tmp-dead").mkdir(parents=True)  # a build killed before its rename
    (root / SIX.key).mkdir()  # a named folder without its marker
    venv = ensure_venv(SIX)
    assert venv.is_complete()
    assert venv_dirs(own_cache) == [SIX.key]


def test_locked_spec_installs_exactly_the_list(own_cache: Path) -> None:
    venv = ensure_venv(InstallSpec(("six==1.15.0",), locked=True))
    assert venv.frozen == ["six==1.15.0"]
    assert list(venv.path.glob("lib/python3*/site-packages/__pycache__/six.cpython-*.pyc"))
    assert venv.info()["locked"] is True
    assert freeze(venv) == ["six==1.15.0"]


def test_executable_lookup_lists_what_exists(own_cache: Path) -> None:
    venv = ensure_venv(SIX)
    with pytest.raises(InstallError) as info:
        venv.executable("tap-six")
    assert "no executable 'tap-six'" in info.value.reason
    assert "(it has: none)" in info.value.reason


def test_tap_jsonl_cold_then_warm(own_cache: Path) -> None:
    spec = InstallSpec(("tap-jsonl==0.3.1",))
    venv = ensure_venv(spec)
    logged: list[str] = []
    again = ensure_venv(spec, log=logged.append)
    assert again.path == venv.path
    assert not any(m.startswith("installing") for m in logged), "the warm call reinstalled"
    about = subprocess.run([str(venv.executable("tap-jsonl")), "--about", "--format=json"],
                           capture_output=True, text=True, timeout=60)
    assert about.returncode == 0, about.stderr
    assert json.loads(about.stdout)["name"] == "tap-jsonl"
    with pytest.raises(InstallError) as info:
        venv.executable("tap-json")
    assert "tap-jsonl" in info.value.reason and "tap-jsonl" in (info.value.hint or "")
    assert "python" not in info.value.reason.split("(it has:")[1].split(",")


def _local_plugin(folder: Path, message: str) -> Path:
    """A tiny installable package with a console script printing ``message``."""
    (folder / "src" / "tap_local").mkdir(parents=True, exist_ok=True)
    (folder / "pyproject.toml").write_text(textwrap.dedent("""\
        [build-system]
        requires = ["hatchling>=1.25"]
        build-backend = "hatchling.build"

        [project]
        name = "tap-local"
        version = "0.1.0"

        [project.scripts]
        tap-local = "tap_local:main"

        [tool.hatch.build.targets.wheel]
        packages = ["src/tap_local"]
        """))
    (folder / "src" / "tap_local" / "__init__.py").write_text(
        f"def main() -> None:\n    print({message!r})\n")
    return folder


def test_local_folder_key_follows_the_folder_content(tmp_path: Path) -> None:
    folder = _local_plugin(tmp_path / "tap-local", "one")
    spec = InstallSpec((str(folder), "six==1.16.0"))
    same = InstallSpec(("six==1.16.0", str(folder)))
    assert spec.key == same.key
    # What building and running leave behind is not the plugin's content.
    for junk in ("__pycache__/x.pyc", ".git/HEAD", "build/lib/x.py", "dist/x.whl",
                 "src/tap_local/__pycache__/y.pyc", "tap_local.egg-info/PKG-INFO"):
        (folder / junk).parent.mkdir(parents=True, exist_ok=True)
        (folder / junk).write_text("junk")
    assert InstallSpec(spec.requirements).key == spec.key
    (folder / "src" / "tap_local" / "__init__.py").write_text("def main() -> None: ...\n")
    assert InstallSpec(spec.requirements).key != spec.key, "an edited plugin is a new venv"
    (folder / "src" / "tap_local" / "extra.py").write_text("")
    assert len({InstallSpec(spec.requirements).key, spec.key,
                InstallSpec((str(folder), "six==1.16.0")).key}) == 2
    # A package name is never a folder, even when one of that name is in the working folder.
    assert InstallSpec(("six==1.16.0",)).local_digests == {}


def test_an_edited_local_plugin_is_installed_afresh(own_cache: Path, tmp_path: Path) -> None:
    folder = _local_plugin(tmp_path / "tap-local", "first version")
    first = ensure_venv(InstallSpec((str(folder),)))
    ran = subprocess.run([str(first.executable("tap-local"))], capture_output=True, text=True)
    assert ran.stdout == "first version\n"
    digest = InstallSpec((str(folder),)).key

    _local_plugin(folder, "second version")  # an upgrade in place: same path, new files
    second = ensure_venv(InstallSpec((str(folder),)))
    assert second.path != first.path
    ran = subprocess.run([str(second.executable("tap-local"))], capture_output=True, text=True)
    assert ran.stdout == "second version\n"
    assert first.key == digest and second.key != digest
    assert set(second.info()["local_digests"]) == {str(folder)}, "the marker records it"


def test_prune_keeps_what_is_asked(own_cache: Path) -> None:
    kept = ensure_venv(SIX)
    other = ensure_venv(InstallSpec(("six==1.15.0",)))
    assert prune([kept.key]) == [other.key]
    assert venv_dirs(own_cache) == [kept.key]


# -- resolution ---------------------------------------------------------------------------------


def test_compile_pins_and_prefers_previous_pins() -> None:
    loose = InstallSpec(("six",))
    assert compile_requirements(loose, preferred=["six==1.15.0"]) == ["six==1.15.0"]
    upgraded = compile_requirements(loose, preferred=["six==1.15.0"], upgrade=True)
    assert len(upgraded) == 1 and upgraded[0].startswith("six==")
    assert upgraded != ["six==1.15.0"]


def test_compile_failure_is_an_install_error() -> None:
    with pytest.raises(InstallError, match="not found in the package registry"):
        compile_requirements(InstallSpec(("this-package-does-not-exist-xyz==1",)))


# -- messages -----------------------------------------------------------------------------------

DBT_1_12_BUILD_FAILURE = """\
error: Failed to build `dbt-core-experimental-parser==2.0.8`
  cause: The build backend returned an error
  cause: Call to `_dbt_sa_build.build_wheel` failed (exit status: 1)

         [stderr]
         Traceback (most recent call last):
           File "<string>", line 11, in <module>
           File "/root/.cache/uv/sdists-v11/x/src/_dbt_sa_build/__init__.py", line 100, in b
             data = _fetch(url)
                    ^^^^^^^^^^^
           File "/root/.cache/uv/sdists-v11/x/src/_dbt_sa_build/__init__.py", line 92, in _f
             raise RuntimeError(f"failed to download {url}: {last}")
         RuntimeError: failed to download https://github.com/dbt-labs/dbt/releases/download/\
v2.0.8/dbt_core_experimental_parser-2.0.8-py3-none-manylinux_2_28_x86_64.whl: <urlopen error \
[Errno -2] Name or service not known>

hint: `dbt-core-experimental-parser` (v2.0.8) was included because `dbt-core` (v1.12.6) \
depends on `dbt-core-experimental-parser`

hint: Build failures usually indicate a problem with the package or the build environment
"""


def test_build_failure_that_downloads_at_build_time_gets_a_plain_hint() -> None:
    """uv's real output for ``dbt-core>=1.12`` on a machine without GitHub access."""
    err = explain_uv_failure("install", InstallSpec(("dbt-duckdb", "dbt-core>=1.12")),
                             DBT_1_12_BUILD_FAILURE)
    assert err.reason.startswith("could not install dbt-duckdb")
    assert "Failed to build `dbt-core-experimental-parser==2.0.8`" in err.reason
    assert "RuntimeError: failed to download" in err.reason
    assert "File \"<string>\"" not in err.reason, "the traceback is cut to its last lines"
    assert err.hint is not None
    assert "dbt-core-experimental-parser 2.0.8 downloads files while it builds" in err.hint
    assert "`dbt-core<1.12`" in err.hint


def test_dbt_1_12_from_a_locked_set_still_gets_the_pin() -> None:
    """``uv pip sync`` of a locked set never says which package pulled the parser in: the hint
    still names dbt-core 1.12, the pin, and re-locking."""
    synced = "\n".join(line for line in DBT_1_12_BUILD_FAILURE.split("\n\n")
                       if "was included because" not in line)
    assert "dbt-core` (v1.12" not in synced
    err = explain_uv_failure("install", InstallSpec(("dbt-core==1.12.6", "dbt-duckdb==1.11.1"),
                                                    locked=True), synced)
    assert err.hint is not None
    assert "dbt-core-experimental-parser 2.0.8 downloads files while it builds" in err.hint
    assert "add `dbt-core<1.12` to pip_url and run `stackform lock` again" in err.hint


def test_trim_keeps_uv_lines_and_cuts_build_output() -> None:
    lines = trim_uv_message(DBT_1_12_BUILD_FAILURE)
    assert lines[0].startswith("error: Failed to build")
    assert any(line.strip() == "..." for line in lines)
    assert any(line.startswith("hint: `dbt-core-experimental-parser`") for line in lines)
    assert len(lines) < 12


def test_missing_python_is_explained(own_cache: Path) -> None:
    with pytest.raises(InstallError) as info:
        ensure_venv(InstallSpec(("six",), python="3.99"))
    assert info.value.reason.startswith("could not create a virtual environment for six")
    assert "No interpreter found for Python 3.99" in info.value.reason
    assert "uv python install 3.99" in (info.value.hint or "")
    assert venv_dirs(own_cache) == []
