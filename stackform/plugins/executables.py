"""Which console script of an installed connector package to run, when a block does not say.

A Singer connector package installs one ``tap-*`` or ``target-*`` script, whose name often
differs from the package's (``pipelinewise-tap-mysql`` installs ``tap-mysql``). The rule, for
``stackform add`` and the Singer provider alike: a script named like the package wins; else the
package's only ``tap-*``/``target-*`` script; several of them, or none, is an error naming what
the install does have, so the user sets ``executable``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from stackform.errors import StackformError

PREFIXES = ("tap-", "target-")


class ExecutableError(StackformError):
    """The executable of a package cannot be told without ``executable``."""


@dataclass(frozen=True)
class Detected:
    """The script chosen, and why (``None``: it is named like the package)."""

    executable: str
    why: str | None = None


def connector_scripts(scripts: Sequence[str]) -> list[str]:
    """The ``tap-*``/``target-*`` scripts among ``scripts``, sorted."""
    return sorted(s for s in scripts if s.startswith(PREFIXES))


def detect(package: str, scripts: Sequence[str]) -> Detected:
    """The script to run for ``package`` among the ``scripts`` its install has."""
    if package in scripts:
        return Detected(package)
    found = connector_scripts(scripts)
    if len(found) == 1:
        return Detected(found[0], f"the only tap-*/target-* script {package} installs")
    listed = ", ".join(found or scripts) or "none"
    if found:
        raise ExecutableError(
            f"{package} installs several connector scripts: {listed}",
            hint=f"set executable to the one to run (one of: {listed})")
    raise ExecutableError(
        f"{package} installs no tap-* or target-* script (its scripts: {listed})",
        hint="check that the package is a Singer connector, or set executable to the "
        "command to run")
