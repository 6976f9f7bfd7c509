"""The Airflow provider without Airflow: the conformance suite, the DAGs a stack computes (ids,
command lines, schedules), what is refused (secrets, s3://, templates), the DAG store, and
ownership of files in a shared folder. The real Airflow is in test_airflow_real.py."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from airflow_support import files_stack, resolved, resource_in, write

from stackform.bundles.publish import bundle_of
from stackform.errors import ConfigError, StackformError
from stackform.provider import Context, Provider
from stackform.resource import Resource, ResourceState, fingerprinter
from stackform.testing.provider_conformance import MakeResource, ProviderConformance, record
from stackform_airflow import AirflowProvider
from stackform_airflow.dags import DagError, dag_id, owner_of, render_entry
from stackform_airflow.store import DagStoreError, FolderDagStore, S3DagStore, store_for

SECRET = "s3cr3t-index-token"


class TestAirflowConformance(ProviderConformance):
    replace_variant = 2
    sensitive_variant = 3

    @pytest.fixture
    def provider(self) -> Provider:
        return AirflowProvider()

    @pytest.fixture
    def make_resource(self, stack_dir: Path) -> MakeResource:
        def make(name: str, variant: int) -> Resource:
            config: dict[str, object] = {"dags_path": "moved" if variant == 2 else "dags",
                                         "owner": "ops" if variant == 1 else "data-team"}
            sensitive: frozenset[tuple[str | int, ...]] = frozenset()
            if variant == 3:
                # pip_url and python never reach a DAG file; a private index token may be in
                # them. (python here: a secret pip_url would install from that index.)
                config["python"] = SECRET
                sensitive = frozenset({("python",)})
            return resource_in(stack_dir, config, name=name, sensitive=sensitive)
        return make


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    work = tmp_path / ".stackform" / "envs" / "test"
    work.mkdir(parents=True)
    return Context(env="test", stack_name="conformance", stack_dir=tmp_path, work_dir=work,
                   fingerprint=fingerprinter("lineage"))


# -- what a stack computes ----------------------------------------------------------------------


def test_one_dag_per_scheduled_pipeline_named_by_stack_and_environment(tmp_path: Path) -> None:
    write(tmp_path, files_stack())
    dev = resolved(tmp_path, "dev").resources["orchestrators.airflow"].attributes["dags"]
    prod = resolved(tmp_path, "prod").resources["orchestrators.airflow"].attributes["dags"]
    # adhoc has no schedule: no DAG.
    assert list(dev) == ["stackform_demo_dev_daily"]
    assert list(prod) == ["stackform_demo_prod_daily"]
    entry = prod["stackform_demo_prod_daily"]
    assert entry["pipeline"] == "daily" and entry["schedule"] == "0 6 * * *"
    # No workdir: the worker runs the bundle this apply publishes, pinned by digest.
    bundle = bundle_of(resolved(tmp_path, "prod")).digest
    assert entry["command"] == (
        f"stackform worker run --state {shlex.quote(str(tmp_path / '.stackform/state'))} "
        f"--stack demo --env prod --bundle {bundle} daily")
    assert dev["stackform_demo_dev_daily"]["command"].endswith(f"--bundle {bundle} daily")
    assert len(entry["sha256"]) == 16
    assert dag_id("a", "dev-alice", "x y") == "stackform_a_dev-alice_x_y"


def test_command_line_is_quoted_for_the_shell(tmp_path: Path) -> None:
    write(tmp_path, files_stack('''
        dags_path = "dags"
        workdir = "/srv/it's here"
        command = "uv run --project '/opt/my tools' stackform"
        '''), name="my stack.toml")
    stack = resolved(tmp_path, "dev", file="my stack.toml")
    entry = stack.resources["orchestrators.airflow"].attributes["dags"]["stackform_demo_dev_daily"]
    command = entry["command"]
    assert command.startswith("cd '/srv/it'\"'\"'s here' && ")
    words = shlex.split(command.split(" && ", 1)[1])
    assert words == ["uv", "run", "--project", "/opt/my tools", "stackform", "--file",
                     "my stack.toml", "run", "--env", "dev", "daily"]


def test_schedules_cron_presets_and_an_empty_one_per_environment(tmp_path: Path) -> None:
    write(tmp_path, files_stack(schedule="${var.at}", extra='''
        [vars]
        at = "@daily"
        [environments.dev]
        vars = { at = "" }
        [environments.prod]
        '''))
    assert resolved(tmp_path, "dev").resources["orchestrators.airflow"].attributes["dags"] == {}
    dags = resolved(tmp_path, "prod").resources["orchestrators.airflow"].attributes["dags"]
    assert dags["stackform_demo_prod_daily"]["schedule"] == "@daily"


@pytest.mark.parametrize(("schedule", "message"), [
    ("every day", "is not a cron expression"),
    ("0 6 * *", "is not a cron expression"),
    ("@dialy", "unknown schedule preset '@dialy'"),
])
def test_a_schedule_of_the_wrong_shape_is_a_located_error(tmp_path: Path, schedule: str,
                                                          message: str) -> None:
    write(tmp_path, files_stack(schedule=schedule))
    with pytest.raises(ConfigError) as err:
        resolved(tmp_path)
    text = str(err.value)
    assert "stack.toml:10:12: error: pipelines.daily.schedule:" in text, text
    assert message in text


def test_the_generated_file_compiles_and_names_its_owner(tmp_path: Path) -> None:
    write(tmp_path, files_stack('''
        dags_path = "dags"
        env = { STACKFORM_CACHE_DIR = "/opt/cache" }
        timeout = "2h"
        queue = "stackform"
        tags = ["stackform", "orders"]
        '''))
    resource = resolved(tmp_path).resources["orchestrators.airflow"]
    dag, entry = next(iter(resource.attributes["dags"].items()))
    data = render_entry("demo", "dev", resource.config, dag, entry)
    compile(data, "dag.py", "exec")
    text = data.decode()
    assert text.startswith("# Generated by stackform from stack 'demo', environment 'dev'")
    owner = owner_of(data)
    assert owner is not None
    assert (owner.stack, owner.env, owner.pipeline) == ("demo", "dev", "daily")
    for expected in ("from airflow.sdk import DAG",
                     "from airflow.providers.standard.operators.bash import BashOperator",
                     "catchup=False", "max_active_runs=1", "append_env=True",
                     "execution_timeout=datetime.timedelta(seconds=7200)", "queue='stackform'",
                     f"bash_command={entry['command']!r}"):
        assert expected in text, expected


# -- refused --------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["${secret.api-token}", "written-literally"])
def test_a_secret_is_never_written_into_a_dag(tmp_path: Path, value: str) -> None:
    # API_TOKEN names a secret: a literal value is one too (stackform.secret_keys).
    write(tmp_path, files_stack(f'''
        dags_path = "dags"
        env = {{ API_TOKEN = "{value}" }}
        '''))
    with pytest.raises(ConfigError) as err:
        resolved(tmp_path)
    text = str(err.value)
    assert "orchestrators.airflow.env.API_TOKEN holds a secret" in text, text
    assert "STACKFORM_SECRET_<NAME>" in text


def test_dag_ids_naming_a_secret_are_not_secrets(tmp_path: Path) -> None:
    """The computed DAG entries are keyed by ids holding the stack's and pipelines' names;
    the key rule applies to what the block declares, not to them."""
    write(tmp_path, files_stack(name="secrets-vault"))
    stack = resolved(tmp_path)
    resource = stack.resources["orchestrators.airflow"]
    assert list(resource.attributes["dags"]) == ["stackform_secrets-vault_dev_daily"]
    assert not resource.sensitive and not stack.warnings


def test_a_secret_in_pip_url_is_fine(tmp_path: Path) -> None:
    write(tmp_path, files_stack('''
        dags_path = "dags"
        pip_url = "apache-airflow --index-url https://u:${secret.index}@pypi.example/simple"
        '''))
    resource = resolved(tmp_path).resources["orchestrators.airflow"]
    assert ("pip_url",) in resource.sensitive and resource.attributes["dags"]


def test_an_s3_dags_path_is_an_s3_store(tmp_path: Path, ctx: Context) -> None:
    store = store_for(ctx, "s3://acme-dags/team/dags", "eu-west-1")
    assert isinstance(store, S3DagStore) and store.location == "s3://acme-dags/team/dags"
    assert store.objects.settings.region == "eu-west-1"
    with pytest.raises(DagStoreError, match="only folders"):
        store_for(ctx, "gs://bucket/dags")


def test_jinja_markers_are_refused(tmp_path: Path) -> None:
    write(tmp_path, files_stack('''
        dags_path = "dags"
        workdir = "/srv/{{ ds }}"
        '''))
    with pytest.raises(ConfigError, match="Jinja marker"):
        resolved(tmp_path)


# -- the store and file ownership -----------------------------------------------------------------


def test_folder_store(tmp_path: Path) -> None:
    store = FolderDagStore(tmp_path / "dags")
    assert not store.exists() and store.list() == [] and store.read("a.py") is None
    store.write("stackform_a.py", b"one")
    store.write("other.py", b"two")
    (tmp_path / "dags" / "stackform_notes.txt").write_text("not a DAG")
    assert store.exists()
    assert store.list() == ["other.py", "stackform_a.py"]
    assert store.list("stackform_") == ["stackform_a.py"]
    assert store.read("stackform_a.py") == b"one"
    assert (tmp_path / "dags" / "stackform_a.py").stat().st_mode & 0o777 == 0o644
    store.delete("stackform_a.py")
    store.delete("stackform_a.py")
    assert store.list() == ["other.py"]


def test_files_of_other_environments_are_never_touched(tmp_path: Path, ctx: Context) -> None:
    provider = AirflowProvider()
    mine = resource_in(tmp_path, {"dags_path": "dags"})
    # Environment "test_x" shares the file-name prefix of "test": the header decides.
    theirs = resource_in(tmp_path, {"dags_path": "dags"}, env="test_x")
    dags = tmp_path / "dags"
    dags.mkdir()
    (their_id, entry), = theirs.attributes["dags"].items()
    their_file = dags / f"{their_id}.py"
    their_file.write_bytes(render_entry("conformance", "test_x", theirs.config, their_id, entry))
    (dags / "unrelated.py").write_text("# someone's DAG\n")
    state = record(ctx, mine, provider.create(ctx, mine))
    assert provider.read(ctx, state) == state
    provider.delete(ctx, state)
    assert their_file.is_file() and (dags / "unrelated.py").is_file()
    assert sorted(p.name for p in dags.iterdir()) == [their_file.name, "unrelated.py"]


def test_a_file_of_another_stack_at_our_name_is_not_overwritten(tmp_path: Path,
                                                                ctx: Context) -> None:
    mine = resource_in(tmp_path, {"dags_path": "dags"})
    (name,) = mine.attributes["dags"]
    (tmp_path / "dags").mkdir()
    foreign = (tmp_path / "dags" / f"{name}.py")
    foreign.write_text('# stackform-dag: {"env": "x", "pipeline": "daily", "stack": "other"}\n')
    with pytest.raises(DagError, match="belongs to stack other, environment x"):
        AirflowProvider().create(ctx, mine)
    assert foreign.read_text().startswith("# stackform-dag")


def test_hand_edits_deletions_and_leftovers_are_drift(tmp_path: Path, ctx: Context) -> None:
    provider = AirflowProvider()
    two = resource_in(tmp_path, {"dags_path": "dags"}, {"daily": "0 6 * * *",
                                                         "hourly": "@hourly"})
    state = record(ctx, two, provider.create(ctx, two))
    daily, hourly = (tmp_path / "dags" / f"{d}.py" for d in sorted(two.attributes["dags"]))
    daily.write_text(daily.read_text() + "# edited\n")
    hourly.unlink()
    now = provider.read(ctx, state)
    assert now is not None
    dags = now.attributes["dags"]
    assert list(dags) == [daily.stem]
    assert dags[daily.stem]["sha256"] != two.attributes["dags"][daily.stem]["sha256"]
    # Apply repairs both.
    state = record(ctx, two, provider.update(ctx, now, two))
    assert provider.read(ctx, state) == state
    # A file of ours that state does not know (an apply killed before recording) shows up, and
    # the next update removes it.
    one = resource_in(tmp_path, {"dags_path": "dags"})
    state = ResourceState(state.address, state.kind, one.masked(ctx.fingerprint))
    leftover = provider.read(ctx, state)
    assert leftover is not None and hourly.stem in leftover.attributes["dags"]
    provider.update(ctx, leftover, one)
    assert not hourly.exists() and daily.exists()
    # All files gone: the resource is gone.
    daily.unlink()
    assert provider.read(ctx, state) is None


def test_an_empty_deploy_exists(tmp_path: Path, ctx: Context) -> None:
    provider = AirflowProvider()
    none = resource_in(tmp_path, {"dags_path": "dags"}, {"daily": None})
    assert none.attributes["dags"] == {}
    state = record(ctx, none, provider.create(ctx, none))
    assert provider.read(ctx, state) == state


def test_plan_notes_name_each_dag(tmp_path: Path, ctx: Context) -> None:
    provider = AirflowProvider()
    before = resource_in(tmp_path, {"dags_path": "dags"}, {"daily": "0 6 * * *",
                                                           "weekly": "@weekly"})
    after = resource_in(tmp_path, {"dags_path": "dags", "owner": "ops"},
                        {"daily": "0 6 * * *", "hourly": "@hourly"})
    state = record(ctx, before, {})
    notes = provider.plan_notes(ctx, state, after)
    assert notes[0] == "rewrites DAG stackform_conformance_test_daily"
    assert notes[1].startswith("deploys DAG stackform_conformance_test_hourly (pipeline hourly, "
                               "schedule @hourly): stackform worker run ")
    assert notes[2] == ("deletes DAG stackform_conformance_test_weekly (its pipeline is no "
                        "longer scheduled)")
    assert "only syntax-checked" in notes[3]
    assert provider.plan_notes(ctx, state, None) == [
        "deletes the DAG file of stackform_conformance_test_daily from dags",
        "deletes the DAG file of stackform_conformance_test_weekly from dags"]


def test_without_pip_url_validation_is_a_syntax_check(tmp_path: Path, ctx: Context) -> None:
    resource = resource_in(tmp_path, {"dags_path": "dags"})
    found = AirflowProvider().validate_deep(ctx, resource)
    assert found is not None and [d.severity for d in found] == ["warning"]
    assert not (tmp_path / "dags").exists()


def test_a_resource_not_resolved_by_stackform_is_refused(tmp_path: Path, ctx: Context) -> None:
    resource = resource_in(tmp_path, {"dags_path": "dags"})
    bare = Resource(resource.address, resource.kind, resource.name, resource.config,
                    {k: v for k, v in resource.attributes.items() if k != "dags"})
    with pytest.raises(StackformError, match="were not computed"):
        AirflowProvider().create(ctx, bare)
