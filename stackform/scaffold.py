"""What ``stackform init`` writes: a commented stack file and the ignore entries."""

from __future__ import annotations

from pathlib import Path

STACK_TEMPLATE = '''\
# stackform stack file: the whole data stack, declared once.
# Reference: docs/stack-file.md. Check it with `stackform validate`, see changes with
# `stackform plan`, make them with `stackform apply`.

[stack]
name = "{name}"
requires = ">=0.1"  # stackform versions this file works with (PEP 440)

[state]
backend = "local"  # state lives in .stackform/state/<stack>/<env>.json

[vars]  # defaults; each environment may override them
greeting = "hello from ${{stack.env}}"

[environments.dev]
default = true  # `--env` defaults to this one
per_developer = false  # true: `--env dev` becomes dev-<you>, with its own state

[environments.prod]
protected = true
vars = {{ greeting = "hello from production" }}

# A first resource: a file rendered from the stack. Secrets go through ${{secret.NAME}}
# (`stackform secret set NAME`) and never land in state or plans.
[files.readme]
path = "out/${{stack.env}}/README.txt"
content = "${{var.greeting}}\\n"
mode = "0644"
'''

IGNORE_LINES = (".stackform/", "*.sfplan")


def scaffold(directory: Path, name: str, force: bool = False) -> list[Path]:
    """Write ``stack.toml`` and ignore entries; returns the files written or changed."""
    from stackform.errors import StackformError

    directory.mkdir(parents=True, exist_ok=True)
    stack = directory / "stack.toml"
    if stack.exists() and not force:
        raise StackformError(f"{stack} already exists", hint="pass --force to overwrite it")
    stack.write_text(STACK_TEMPLATE.format(name=name))
    written = [stack]
    gitignore = directory / ".gitignore"
    existing = gitignore.read_text().splitlines() if gitignore.exists() else []
    missing = [line for line in IGNORE_LINES if line not in existing]
    if missing:
        prefix = "\n" if existing and existing[-1] != "" else ""
        with gitignore.open("a") as f:
            f.write(prefix + "# stackform: local state, caches and saved plans\n"
                    + "\n".join(missing) + "\n")
        written.append(gitignore)
    return written
