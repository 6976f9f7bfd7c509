"""No silent selection: rules and metadata that match nothing, misspelt metadata keys,
replication keys that are not properties, and a selection of no stream, through the real
``stackform`` with real taps (tap-jsonl 0.3.1 from the package index; pipelinewise-tap-mysql
on the MariaDB of the machine for a tap that selects nothing by default) and
target-stackform-duckdb.

Every problem is reported where the stack file writes it (``stack.toml:LINE:COL``), at apply
and at every plan for as long as it lasts; ``stackform run`` refuses a tap that selects no
stream before starting it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from e2e_support import MYSQL, MYSQL_PASSWORD, Stackform, mysql

pytestmark = pytest.mark.slow

ROWS = [
    {"id": 1, "customer": "ada", "ssn": "078-05-1120", "updated_at": "2026-11-01T08:00:00Z"},
    {"id": 2, "customer": "bob", "ssn": "219-09-9999", "updated_at": "2026-11-02T08:00:00Z"},
]


def jsonl_stack(directory: Path, extractor: str) -> Path:
    """A stack reading ``data/orders.jsonl`` with tap-jsonl into DuckDB; ``extractor`` is the
    rest of the ``[extractors.orders]`` block (select, metadata...)."""
    (directory / "data").mkdir(parents=True, exist_ok=True)
    (directory / "data" / "orders.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in ROWS))
    (directory / "stack.toml").write_text(f"""\
[stack]
name = "picky"

[extractors.orders]
pip_url = "tap-jsonl==0.3.1"
config = {{ path = "data/orders.jsonl", stream_name = "orders", primary_keys = ["id"] }}
{extractor.strip()}

[pipelines.daily]
steps = ["orders", "warehouse"]

[loaders.warehouse]
pip_url = "stackform:target-duckdb"

[loaders.warehouse.config]
path = "warehouse.duckdb"
batch_size_rows = 100
""")
    return directory


def where(stack: Path, text: str, within: str | None = None) -> str:
    """``stack.toml:LINE:COL`` of the first ``text`` on the first line containing ``within``
    (default: ``text``), as diagnostics print it from the stack's folder."""
    for number, line in enumerate((stack / "stack.toml").read_text().splitlines(), 1):
        if (within or text) in line:
            return f"stack.toml:{number}:{line.index(text) + 1}"
    raise AssertionError(f"{within or text!r} is not in the stack file")


def test_a_select_typo_is_named_at_apply_and_every_plan_and_run_refuses(
        tmp_path: Path, stackform_for: Callable[..., Stackform]) -> None:
    stack = jsonl_stack(tmp_path / "typo", 'select = ["ordres.*"]')
    sf = stackform_for(stack)
    at_rule = where(stack, '"ordres.*"')
    rule = (f"{at_rule}: warning: extractors.orders.select[0]: 'ordres.*' "
            "matches no stream of the tap's catalog: it selects nothing\n"
            "    hint: did you mean 'orders.*'? streams: orders")
    empty = (f"{where(stack, '[', 'select =')}: warning: extractors.orders.select: selects no "
             "stream of the tap's catalog: `stackform run` refuses to run this extractor")

    applied = sf.apply()
    assert rule in applied.stderr and empty in applied.stderr, applied
    assert "extractors.orders  create  done" in applied.stdout
    assert "2 warnings (below)" in applied.stdout, applied

    planned = sf.ok("plan")  # nothing to change: still reported
    assert "No changes." in planned.stdout, planned
    assert rule in planned.stdout and empty in planned.stdout, planned

    ran = sf("run", "daily")
    assert ran.code == 1, ran
    assert ('extractors.orders selects no stream (select = ["ordres.*"]), so the run stops '
            "before starting the tap") in ran.stderr, ran
    assert "allow_empty_selection = true in [extractors.orders]" in ran.stderr, ran
    run = sf.last_run("daily")
    assert run["status"] == "failed" and run["steps"] == [], run
    log = Path(run["log"]).read_text()
    assert "[tap]" not in log and "[target]" not in log, log  # neither plugin started
    assert not (stack / "warehouse.duckdb").exists()


def test_allow_empty_selection_turns_the_refusal_into_a_warning(
        tmp_path: Path, stackform_for: Callable[..., Stackform]) -> None:
    stack = jsonl_stack(tmp_path / "allowed",
                        'select = ["!orders"]\nallow_empty_selection = true')
    sf = stackform_for(stack)
    applied = sf.apply()
    assert ("warning: extractors.orders.select: selects no stream of the tap's catalog; "
            "allow_empty_selection = true, so runs extract nothing") in applied.stderr, applied
    ran = sf.ok("run", "daily")
    assert ('warning: extractors.orders selects no stream (select = ["!orders"]); '
            "allow_empty_selection = true: the tap runs and extracts nothing") in ran.stderr, ran
    assert sf.last_run("daily")["status"] == "success"


def test_an_exclusion_matching_nothing_is_warned_at_every_plan_until_fixed(
        tmp_path: Path, stackform_for: Callable[..., Stackform]) -> None:
    stack = jsonl_stack(tmp_path / "leak", 'select = ["orders.*", "!orders.SSN"]')
    sf = stackform_for(stack)
    at_rule = where(stack, '"!orders.SSN"')
    leak = (f"{at_rule}: warning: extractors.orders.select[1]: "
            "exclusion '!orders.SSN' matches no property of stream orders: it keeps nothing "
            "out, so what it was meant to exclude is extracted\n"
            "    hint: did you mean '!orders.ssn'?")

    applied = sf.apply()
    assert leak in applied.stderr, applied
    assert "PII" in applied.stderr
    for _ in range(2):  # every plan, not only the one that edits select
        planned = sf.ok("plan")
        assert "No changes." in planned.stdout and leak in planned.stdout, planned
    as_json = json.loads(sf.ok("plan", "--format", "json").stdout)
    assert any(w.startswith(leak) for w in as_json["warnings"]), as_json["warnings"]
    markdown = sf.ok("plan", "--format", "markdown").stdout
    assert "'!orders.SSN' matches no property of stream orders" in markdown, markdown

    # Another block changes: the plan still says it.
    text = (stack / "stack.toml").read_text()
    (stack / "stack.toml").write_text(text.replace("batch_size_rows = 100",
                                                   "batch_size_rows = 50"))
    planned = sf.ok("plan")
    assert "~ loaders.warehouse" in planned.stdout and leak in planned.stdout, planned

    # Fixed: the plan shows what the exclusion now removes, and says nothing more.
    text = (stack / "stack.toml").read_text()
    (stack / "stack.toml").write_text(text.replace('"!orders.SSN"', '"!orders.ssn"'))
    planned = sf.ok("plan")
    assert "- property orders.ssn" in planned.stdout, planned
    assert "Warning" not in planned.stdout + planned.stderr, planned
    applied = sf.apply()
    assert "Warning" not in applied.stdout + applied.stderr, applied
    assert "Warning" not in sf.ok("plan").stdout


def test_a_misspelt_metadata_key_is_a_located_error_with_a_suggestion(
        tmp_path: Path, stackform_for: Callable[..., Stackform]) -> None:
    stack = jsonl_stack(tmp_path / "key", """
select = ["orders.*"]

[extractors.orders.metadata.orders]
replication_key = "updated_at"
""")
    sf = stackform_for(stack)
    error = (f"{where(stack, 'replication_key')}: error: "
             "extractors.orders.metadata.orders.replication_key: unknown metadata key "
             "'replication_key'\n    hint: did you mean 'replication-key'?")
    for command in (("validate",), ("plan",)):
        result = sf(*command)
        assert result.code == 1, result
        assert error in result.stderr, result
    assert not (stack / ".stackform" / "state").exists()  # nothing was installed or applied


def test_a_replication_key_that_is_not_a_property_is_a_located_error(
        tmp_path: Path, stackform_for: Callable[..., Stackform]) -> None:
    stack = jsonl_stack(tmp_path / "rkey", """
select = ["orders.*"]

[extractors.orders.metadata.orders]
replication-method = "INCREMENTAL"
replication-key = "updatedat"
""")
    sf = stackform_for(stack)
    located = where(stack, '"updatedat"') + ": "
    problem = "replication-key 'updatedat' is not a property of stream orders"

    # validate cannot know the tap's properties before a catalog is discovered...
    assert sf("validate").code == 0
    # ...apply discovers it and refuses, before the extractor is recorded.
    applied = sf("apply", "--auto-approve", timeout=900)
    assert applied.code == 1, applied
    assert ("extractors.orders  create  failed" in applied.stdout
            and f"{located}error: extractors.orders.metadata.orders.replication-key: "
            f"{problem} (more below)" in applied.stdout), applied
    assert (f"  {located}error: extractors.orders.metadata.orders.replication-key: {problem}\n"
            "      hint: did you mean 'updated_at'?") in applied.stderr, applied
    assert "extractors.orders" not in sf.ok("state", "list").stdout

    fixed = (stack / "stack.toml").read_text().replace('"updatedat"', '"updated_at"')
    (stack / "stack.toml").write_text(fixed)
    sf.apply()
    assert sf.ok("plan").stdout.startswith("No changes."), "applied as written"

    # Broken again: every plan refuses it, from the catalog the last apply discovered.
    (stack / "stack.toml").write_text(fixed.replace('"updated_at"', '"updatedat"'))
    planned = sf("plan")
    assert planned.code == 1, planned
    assert (f"{located}error: extractors.orders.metadata.orders.replication-key: {problem}\n"
            "    hint: did you mean 'updated_at'?") in planned.stderr, planned
    # --refresh-catalog discovers at plan: the check is against the source as it is now.
    refreshing = sf("plan", "--refresh-catalog")
    assert refreshing.code == 1, refreshing
    assert (f"{located}error: extractors.orders.metadata.orders.replication-key: "
            f"{problem}\n") in refreshing.stderr, refreshing
    # A config change makes apply discover again with it: then apply decides.
    (stack / "stack.toml").write_text(fixed.replace('"updated_at"', '"updatedat"').replace(
        'primary_keys = ["id"]', 'primary_keys = ["id"], emit_state_every = 100'))
    changed = sf.ok("plan")
    assert (f"{located}warning: extractors.orders.metadata.orders.replication-key: {problem}; "
            "apply discovers the catalog again, then checks again") in changed.stdout


@pytest.fixture
def source_table(databases: None) -> Iterator[str]:
    """A table of its own in the source database, so discovery lists at least one stream."""
    name = f"e2e_sel_{uuid.uuid4().hex[:10]}"
    with mysql() as con, con.cursor() as cur:
        cur.execute(f"create table `{name}` (id int primary key, note text)")
    try:
        yield name
    finally:
        with mysql() as con, con.cursor() as cur:
            cur.execute(f"drop table if exists `{name}`")


def test_an_empty_select_with_a_tap_that_selects_nothing_by_default(
        tmp_path: Path, stackform_for: Callable[..., Stackform], source_table: str) -> None:
    stack = tmp_path / "defaults"
    stack.mkdir()
    (stack / "stack.toml").write_text(f"""\
[stack]
name = "defaults"

# pipelinewise-tap-mysql marks every table selected-by-default: false.
[extractors.source]
pip_url = "pipelinewise-tap-mysql==1.6.0"
executable = "tap-mysql"
select = []

[extractors.source.config]
host = "{MYSQL['host']}"
port = {MYSQL['port']}
user = "{MYSQL['user']}"
password = "${{secret.mysql_password}}"
filter_dbs = "{MYSQL['database']}"

[loaders.warehouse]
pip_url = "stackform:target-duckdb"
config = {{ path = "warehouse.duckdb" }}

[pipelines.copy]
steps = ["source", "warehouse"]
""")
    sf = stackform_for(stack, {"STACKFORM_SECRET_MYSQL_PASSWORD": MYSQL_PASSWORD})
    empty = (f"{where(stack, '[]', 'select =')}: warning: extractors.source.select: selects no "
             "stream: select is empty, which keeps the tap's own defaults, and the tap selects "
             "no stream by default: `stackform run` refuses to run this extractor\n"
             f'    hint: name the streams to extract (e.g. select = ["{MYSQL["database"]}-')
    applied = sf.apply()
    assert empty in applied.stderr, applied
    planned = sf.ok("plan")
    assert empty in planned.stdout, planned
    ran = sf("run", "copy")
    assert ran.code == 1, ran
    assert ("extractors.source selects no stream (select = []), so the run stops before "
            "starting the tap") in ran.stderr, ran
    assert not (stack / "warehouse.duckdb").exists()


def test_a_malformed_select_rule_is_a_located_error_at_validate(
        tmp_path: Path, stackform_for: Callable[..., Stackform]) -> None:
    stack = jsonl_stack(tmp_path / "malformed", 'select = ["orders.*", "!!orders.ssn"]')
    result = stackform_for(stack)("validate")
    assert result.code == 1, result
    at_rule = where(stack, '"!!orders.ssn"')
    assert (f"{at_rule}: error: extractors.orders.select[1]: \"!!orders.ssn\": use a single "
            "'!'") in result.stderr, result
