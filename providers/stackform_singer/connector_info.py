"""What the Singer provider learns from an installed connector at apply, and says at plan.

At apply (:func:`learn_at_apply`): the connector's ``--about`` (when its ``--help`` offers it),
recorded beside the plugin cache for the next validate and plan, and returned as the
``settings_schema`` output for state (no secret value: see
:meth:`stackform.plugins.about.SettingsSchema.to_json`). A setting the connector marks secret
that the plan did not know as one, written literally, stops the apply before state records it.

At plan (:func:`executable_notes`): which script runs when the block does not name one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from stackform.plugins.about import ask_about, install_key, record_about, recorded_about
from stackform.plugins.executables import PREFIXES, ExecutableError, detect
from stackform.plugins.kit import PluginError, requirement_name
from stackform.provider import Context, Outputs
from stackform.resource import Resource
from stackform_singer.config import PluginConfig
from stackform_singer.settings_schema import secret_paths

if TYPE_CHECKING:
    from stackform.plugins.installs import Venv


def executable_of(ctx: Context, desired: Resource, config: PluginConfig, venv: Venv) -> str:
    """The script to run, a located error when the package has several (or none) to pick."""
    from stackform_singer.plugin import executable_name

    try:
        return executable_name(config, venv)
    except ExecutableError as exc:
        raise PluginError(ctx.diagnostic(desired.address, ("pip_url",), exc.reason,
                                         hint=exc.hint).format()) from None


def learn_at_apply(ctx: Context, desired: Resource, config: PluginConfig, venv: Venv,
                   executable: str, help_text: str, env: Mapping[str, str]) -> Outputs:
    """Ask the connector ``--about`` (once per install); record what it says; refuse an
    unmasked secret."""
    if "--about" not in help_text:
        return {}
    key = install_key(config.pip_url, config.python, config.executable)
    known = recorded_about(key, venv=venv.key)
    about = known[1] if known else None
    if about is None:
        answer = ask_about(venv, executable, cwd=ctx.stack_dir, log=ctx.log,
                           help_text=help_text, env=env)
        about = answer.about
        if about is None:
            ctx.log(f"{desired.address}: settings not learnt: {answer.reason}")
            return {}
        record_about(key, about, executable, venv=venv.key)
    if about.schema is None:
        return {}
    unmasked = [path for path in secret_paths(config) if path not in desired.sensitive]
    if unmasked:
        shown = ", ".join(".".join(str(k) for k in p[1:]) for p in unmasked)
        raise PluginError(ctx.diagnostic(
            desired.address, unmasked[0],
            f"{about.name or executable} marks {shown} secret, and this plan did not know it "
            "yet: nothing was recorded", hint="stackform has recorded the connector's settings "
            "now: plan again (the value is then masked), and better keep it in a secret: "
            "\"${secret.NAME}\"").format())
    return {"settings_schema": about.schema.to_json()}


def executable_notes(ctx: Context, desired: Resource, config: PluginConfig) -> list[str]:
    """A plan note when ``executable`` is not set and the package's name is not its script."""
    from stackform.plugins.connectors import is_connector
    from stackform.plugins.installs import find_venv
    from stackform.plugins.lockfile import install_spec_for

    first = config.pip_url.split()[0] if isinstance(config.pip_url, str) else config.pip_url[0]
    if config.executable or is_connector(first):
        return []
    package = requirement_name(first)
    venv = find_venv(install_spec_for(ctx.stack_dir, desired.address, desired.attributes))
    if venv is None:
        if package.startswith(PREFIXES):
            return []  # most likely its own script: nothing worth a line
        return [f"executable: not set; apply runs the only tap-*/target-* script {package} "
                "installs (or fails naming them)"]
    try:
        found = detect(package, venv.executables())
    except ExecutableError as exc:
        return [f"executable: {exc.reason}; set executable"]
    if found.why is None:
        return []
    return [f"executable: {found.executable} ({found.why}; executable is not set)"]
