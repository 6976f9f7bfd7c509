"""What ``stackform init`` writes: a commented stack file and the ignore entries."""

from __future__ import annotations

import re
from pathlib import Path

from stackform.errors import StackformError

STACK_TEMPLATE = '''\
# stackform stack file: the whole data stack, declared once.
# Every section and key: `stackform docs stack-file` (the docs ship with stackform; `stackform
# docs` lists the pages). Check this file with `stackform validate`, see changes with
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

# A protected environment is applied (and destroyed) only from committed code: this folder
# must be in a git repository, its tree clean (no modified or untracked files; .gitignore
# covers what stackform writes) and on an allowed branch: `branches = ["main"]`, by default
# the repository's default branch. So `git init` and commit before `stackform apply --env prod`.
[environments.prod]
protected = true
vars = {{ greeting = "hello from production" }}

# A first resource: a file rendered from the stack. Secrets go through ${{secret.NAME}}
# (`stackform secret set NAME`) and never land in state or plans.
[files.readme]
path = "out/${{stack.env}}/README.txt"
content = "${{var.greeting}}\\n"
mode = "0644"

# Moving data: stackform ships a JSONL tap and a DuckDB loader, named without a path or an
# index (`stackform docs singer`). Uncomment, put *.jsonl files in data/, then `stackform
# apply` and `stackform run daily`.
# [extractors.orders]
# pip_url = "stackform:tap-jsonl"
# config = {{ path = "data/*.jsonl", stream_name = "orders", primary_keys = ["id"] }}
#
# [loaders.warehouse]
# pip_url = "stackform:target-duckdb"
# config = {{ path = "warehouse/${{stack.env}}.duckdb", default_target_schema = "raw" }}
#
# [pipelines.daily]
# steps = ["orders", "warehouse"]
'''

IGNORE_LINES = (".stackform/", "*.sfplan", "out/", "warehouse/")
"""Local state and caches, saved plans, and what the scaffolded stack writes (its rendered
files, and the DuckDB files of its commented loader): a protected environment refuses a tree
with untracked files."""


def default_stack_name(directory: Path) -> str:
    """The stack name ``init`` gives without ``--name``: the folder's, as a name may be
    (lower case, ``_`` for anything else)."""
    return re.sub(r"[^a-z0-9_]+", "_", directory.resolve().name.lower()).strip("_") or "stack"


def scaffold(directory: Path, name: str, force: bool = False) -> list[Path]:
    """Write ``stack.toml`` and ignore entries; returns the files written or changed."""
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
            f.write(prefix + "# stackform: local state, saved plans, rendered files, DuckDB files\n"
                    + "\n".join(missing) + "\n")
        written.append(gitignore)
    return written
