"""Literal secrets written straight into the stack file, for real: the quickstart with a
``password`` in the extractor's ``config``, an ``api_key`` in a nested table of it, and a
``password`` in the dbt ``target``. None of them is ever printed, saved in a plan, stored in
state or written to a file stackform keeps; ``validate`` warns where each is written; and a state
written before the rule, holding them in clear, is scrubbed on its next write and plans no change.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from e2e_support import Stackform, copy_quickstart, write_orders

from tests.cli_helpers import Result, env_dir, plan_json, read_state, state_path

pytestmark = pytest.mark.slow

EXTRACTOR_PW = "Lit3ral-extractor-PW-81x"
NESTED_KEY = "Lit3ral-nested-APIKEY-27q"
DBT_PW = "Lit3ral-dbt-PW-55z"
LITERALS = (EXTRACTOR_PW, NESTED_KEY, DBT_PW)


def _stack(tmp_path: Path) -> Path:
    stack = copy_quickstart(tmp_path / "literal", dbt=True, extractor_config={
        "password": EXTRACTOR_PW, "auth": {"api_key": NESTED_KEY}})
    path = stack / "stack.toml"
    doc: Any = tomlkit.parse(path.read_text())
    doc["transformers"]["dbt"]["target"]["password"] = DBT_PW
    path.write_text(tomlkit.dumps(doc))
    write_orders(stack / "data" / "orders-01.jsonl", range(1, 4))  # discovery reads them
    return stack


def _leaks(stack: Path, results: list[Result], extra: list[Path]) -> list[str]:
    found = [f"output of `{i}`" for i, r in enumerate(results)
             if any(s in r.output for s in LITERALS)]
    for path in [*stack.rglob("*"), *extra]:
        if path.is_file() and path.name != "stack.toml":
            data = path.read_bytes()
            found += [f"{path.relative_to(stack)}" for s in LITERALS if s.encode() in data]
    return found


def _where(stack: Path, literal: str) -> str:
    """``stack.toml:LINE:COL`` of a literal's value as written."""
    for number, line in enumerate((stack / "stack.toml").read_text().splitlines(), 1):
        if f'"{literal}"' in line:
            return f"stack.toml:{number}:{line.index(f'{chr(34)}{literal}') + 1}"
    raise AssertionError(f"{literal} is not in the stack file")


def test_literal_secrets_are_masked_everywhere_and_old_states_scrubbed(
        tmp_path: Path, stackform_for) -> None:
    stack = _stack(tmp_path)
    sf: Stackform = stackform_for(stack)
    outputs: list[Result] = []

    def ok(*args: str) -> Result:
        result = sf.ok(*args, timeout=900)
        outputs.append(result)
        return result

    validated = ok("validate")
    for path, literal in (("extractors.orders.config.password", EXTRACTOR_PW),
                          ("extractors.orders.config.auth.api_key", NESTED_KEY),
                          ("transformers.dbt.target.password", DBT_PW)):
        assert re.search(rf"{re.escape(_where(stack, literal))}: warning: {re.escape(path)}: "
                         r"'(password|api_key)' names a secret", validated.stderr), validated
    assert validated.stderr.count("names a secret") == 3, validated  # once, not per env
    assert "stackform secret set orders_password" in validated.stderr, validated

    text = ok("plan")
    assert text.stdout.count("(sensitive)") >= 3, text
    assert "names a secret" in text.stdout, text  # the plan's warnings
    markdown = ok("plan", "--format", "markdown")
    assert "(sensitive)" in markdown.stdout, markdown
    doc = plan_json(ok("plan", "--format", "json"))
    changes = {c["address"]: c["change"] for c in doc["resource_changes"]}
    orders, dbt = changes["extractors.orders"], changes["transformers.dbt"]
    assert orders["after"]["config"]["password"] is None
    assert orders["after_sensitive"]["config"] == {"password": True, "auth": {"api_key": True}}
    assert dbt["after_sensitive"]["target"] == {"password": True}
    assert any("names a secret" in w for w in doc["warnings"]), doc["warnings"]
    ok("plan", "-o", "literal.sfplan", "--out-markdown", "literal.md")
    ok("apply", "--auto-approve", "literal.sfplan")

    state_text = state_path(stack).read_text()
    recorded = read_state(stack)["resources"]
    config = recorded["extractors.orders"]["attributes"]["config"]
    assert set(config["password"]) == {"__sensitive__"}, config
    assert set(config["auth"]["api_key"]) == {"__sensitive__"}, config
    assert set(recorded["transformers.dbt"]["attributes"]["target"]["password"]) == {
        "__sensitive__"}
    for address in ("extractors.orders", "transformers.dbt"):
        shown = ok("state", "show", address)
        assert "(sensitive)" in shown.stdout, shown
    assert sf("plan", "--detailed-exitcode").code == 0
    profile = json.loads((env_dir(stack) / "transformers" / "dbt" / "profiles"
                          / "profiles.yml").read_text())
    output = next(iter(profile.values()))["outputs"]["dev"]
    assert output["password"] == "{{ env_var('STACKFORM_DBT_PASSWORD') }}", output
    assert not _leaks(stack, outputs, list(sf.tmpdir.rglob("*"))), "a literal leaked"
    assert all(s not in state_text for s in LITERALS)

    # A state written before the rule: the same document with the values in clear.
    old: Any = json.loads(state_text)
    old_config = old["resources"]["extractors.orders"]["attributes"]["config"]
    old_config["password"] = EXTRACTOR_PW
    old_config["auth"]["api_key"] = NESTED_KEY
    old["resources"]["transformers.dbt"]["attributes"]["target"]["password"] = DBT_PW
    state_path(stack).write_text(json.dumps(old))
    outputs.clear()
    unchanged = sf("plan", "--detailed-exitcode")
    outputs.append(unchanged)
    assert unchanged.code == 0, unchanged  # the scrubbed values equal the desired ones
    for address in ("extractors.orders", "transformers.dbt"):
        assert "(sensitive)" in ok("state", "show", address).stdout
    ok("plan", "--format", "json")
    ok("plan", "--format", "markdown")
    assert "__sensitive__" in ok("state", "pull").stdout

    # The next write (an unrelated change) stores only fingerprints.
    path = stack / "stack.toml"
    edited: Any = tomlkit.parse(path.read_text())
    edited["vars"]["owner"] = "someone-else"
    path.write_text(tomlkit.dumps(edited))
    changed = ok("apply", "--auto-approve")
    assert "files.settings" in changed.stdout, changed
    rewritten = read_state(stack)
    assert rewritten["serial"] > old["serial"]
    # Every document written since (the resources, then the bundle the apply published for
    # workers: the stack file changed) holds fingerprints only.
    written = [p for p in (state_path(stack).parent / "history" / "dev").glob("*.json")
               if int(p.name.split("-")[0]) > old["serial"]]
    assert all(s not in p.read_text() for p in [state_path(stack), *written] for s in LITERALS)
    assert rewritten["resources"]["extractors.orders"] == json.loads(state_text)["resources"][
        "extractors.orders"]
    assert sf("plan", "--detailed-exitcode").code == 0
    outputs_leaked = [i for i, r in enumerate(outputs) if any(s in r.output for s in LITERALS)]
    assert not outputs_leaked, [outputs[i] for i in outputs_leaked]
