"""Applying a Superset dashboard: ``stackform apply`` and a no-op ``stackform plan`` against
the same import and export done by a bare ``requests`` script, on the same server in the same run.

A real Superset is started (``tests/superset_server.py``: the first run on a machine builds its
venv and template database, about 40 s) with a PostgreSQL warehouse. The asset folder is the
test fixture's dashboard grown to N charts (default 10). Timed, each a fresh process:

- ``stackform apply`` of the dashboard after a chart of the folder changed (so it imports):
  read and lint the folder, rewrite, import, export back and record each object;
- the baseline: a Python script that logs in, zips the same rewritten bundle and posts it to
  ``/api/v1/assets/import/`` with the password, and nothing else;
- ``stackform plan`` with nothing to change (it exports the dashboard and compares each object);
- the baseline: a script that logs in and exports the dashboard.

Usage: python benchmarks/superset_apply.py [N] [RUNS]   (defaults 10 and 5)
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import sys
import tempfile
import textwrap
import uuid
from pathlib import Path

import psycopg
import yaml
from _common import median_ms, stackform_command, time_command

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.superset_server import start_superset, stop_superset  # noqa: E402

FIXTURE = ROOT / "providers" / "stackform_superset" / "tests" / "assets" / "sales"
REVENUE = "150b18b7-1e24-41f1-a5b6-e2833a8793cb"
PASSWORD = "bench-wh-pw"

STACK = '''
[stack]
name = "bench"

[bi.main]
url = "{url}"
username = "{user}"
password = "${{secret.superset}}"
assets = "assets"

[bi.main.databases.warehouse]
sqlalchemy_uri = "postgresql+psycopg2://postgres@127.0.0.1:5432/{db}"
password = "${{secret.warehouse}}"
schemas = {{ analytics = "analytics_dev" }}

[dashboards.sales]
bi = "main"
slug = "sales"
depends_on = ["bi.main"]
'''

BARE_IMPORT = '''
import io, json, sys, zipfile
from pathlib import Path
import requests
base, user, password, folder, db_file, db_password = sys.argv[1:]
s = requests.Session()
s.headers.update({"Accept": "application/json", "Referer": base + "/"})
token = s.post(base + "/api/v1/security/login", json={"username": user, "password": password,
               "provider": "db", "refresh": True}).json()["access_token"]
s.headers["Authorization"] = "Bearer " + token
s.headers["X-CSRFToken"] = s.get(base + "/api/v1/security/csrf_token/").json()["result"]
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w") as zf:
    for path in Path(folder).rglob("*.yaml"):
        zf.writestr("bundle/" + path.relative_to(folder).as_posix(), path.read_text())
answer = s.post(base + "/api/v1/assets/import/", files={"bundle": ("b.zip", buf.getvalue())},
                data={"passwords": json.dumps({db_file: db_password})})
assert answer.status_code == 200, answer.text
'''

BARE_EXPORT = '''
import sys
import requests
base, user, password, slug = sys.argv[1:]
s = requests.Session()
s.headers.update({"Accept": "application/json", "Referer": base + "/"})
token = s.post(base + "/api/v1/security/login", json={"username": user, "password": password,
               "provider": "db", "refresh": True}).json()["access_token"]
s.headers["Authorization"] = "Bearer " + token
ident = s.get(base + "/api/v1/dashboard/" + slug).json()["result"]["id"]
answer = s.get(base + "/api/v1/dashboard/export/", params={"q": "!(%d)" % ident})
assert answer.status_code == 200 and answer.content[:2] == b"PK"
'''


def grow(folder: Path, n: int) -> None:
    """The fixture's dashboard with ``n`` charts: copies of the revenue chart in a grid."""
    shutil.copytree(FIXTURE, folder)
    chart = yaml.safe_load((folder / "charts" / "revenue_by_customer.yaml").read_text())
    for old in (folder / "charts").iterdir():
        old.unlink()
    dash_path = folder / "dashboards" / "sales.yaml"
    dash = yaml.safe_load(dash_path.read_text())
    position = {k: v for k, v in dash["position"].items()
                if not (isinstance(v, dict) and v.get("type") in ("CHART", "ROW"))}
    rows: list[str] = []
    for i in range(n):
        cid = str(uuid.UUID(int=0xC0FFEE0000 + i)) if i else REVENUE
        doc = {**chart, "uuid": cid, "slice_name": f"Revenue {i:02d}"}
        (folder / "charts" / f"revenue_{i:02d}.yaml").write_text(yaml.safe_dump(doc))
        if i % 3 == 0:
            rows.append(f"ROW-{i}")
            position[f"ROW-{i}"] = {"children": [], "id": f"ROW-{i}", "type": "ROW",
                                    "meta": {"background": "BACKGROUND_TRANSPARENT"},
                                    "parents": ["ROOT_ID", "GRID_ID"]}
        node = f"CHART-{i}"
        position[rows[-1]]["children"].append(node)
        position[node] = {"children": [], "id": node, "type": "CHART",
                          "parents": ["ROOT_ID", "GRID_ID", rows[-1]],
                          "meta": {"uuid": cid, "width": 4, "height": 50,
                                   "sliceName": f"Revenue {i:02d}"}}
    position["GRID_ID"]["children"] = rows
    dash["position"] = position
    dash_path.write_text(yaml.safe_dump(dash))


def bare_bundle(folder: Path, to: Path, db: str) -> str:
    """The folder rewritten as stackform would import it (for the baseline script)."""
    shutil.copytree(folder, to)
    (to / "metadata.yaml").write_text(
        "version: 1.0.0\ntype: assets\ntimestamp: '1970-01-01T00:00:00+00:00'\n")
    database = next((to / "databases").iterdir())
    doc = yaml.safe_load(database.read_text())
    doc["sqlalchemy_uri"] = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{db}"
    database.write_text(yaml.safe_dump(doc))
    for path in (to / "datasets").rglob("*.yaml"):
        doc = yaml.safe_load(path.read_text())
        doc["schema"] = "analytics_dev"
        path.write_text(yaml.safe_dump(doc))
    for path in (to / "dashboards").rglob("*.yaml"):  # the importer wants chartIds
        doc = yaml.safe_load(path.read_text())
        for i, node in enumerate(v for v in doc["position"].values()
                                 if isinstance(v, dict) and v.get("type") == "CHART"):
            node["meta"]["chartId"] = i + 1
        path.write_text(yaml.safe_dump(doc))
    return database.relative_to(to).as_posix()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    db = f"sf_bench_wh_{secrets.token_hex(3)}"
    admin = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={db}", autocommit=True) as conn:
        conn.execute("CREATE SCHEMA analytics_dev; CREATE TABLE analytics_dev.revenue "
                     "(customer text, amount numeric); INSERT INTO analytics_dev.revenue "
                     "VALUES ('a', 1)")
    server = start_superset()
    try:
        with tempfile.TemporaryDirectory(prefix="sf-bench-") as tmp:
            project = Path(tmp) / "project"
            project.mkdir()
            grow(project / "assets", n)
            (project / "stack.toml").write_text(textwrap.dedent(STACK.format(
                url=server.url, user=server.username, db=db)))
            env = {"STACKFORM_SECRET_SUPERSET": server.password,
                   "STACKFORM_SECRET_WAREHOUSE": PASSWORD, "HOME": tmp,
                   "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}
            sf = stackform_command()
            first = time_command([*sf, "apply", "--auto-approve"], 1, project, extra_env=env)
            chart = project / "assets" / "charts" / "revenue_00.yaml"
            applies = []
            for i in range(runs):
                chart.write_text(chart.read_text().replace(
                    f"row_limit: {100 + i}", f"row_limit: {101 + i}"))
                applies += time_command([*sf, "apply", "--auto-approve"], 1, project,
                                        extra_env=env)
            plans = time_command([*sf, "plan", "--detailed-exitcode"], runs, project,
                                 extra_env=env)
            bundle = Path(tmp) / "bare"
            db_file = bare_bundle(project / "assets", bundle, db)
            bare_imports = time_command(
                [sys.executable, "-c", BARE_IMPORT, server.url, server.username,
                 server.password, str(bundle), db_file, PASSWORD], runs)
            bare_exports = time_command(
                [sys.executable, "-c", BARE_EXPORT, server.url, server.username,
                 server.password, "sales"], runs)
            check = subprocess.run([*sf, "plan"], cwd=project, capture_output=True, text=True,
                                   env={**env, "PATH": "/usr/bin:/bin"}, check=False)
    finally:
        stop_superset(server)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    print(f"dashboard with {n} charts, {runs} runs each (median)")
    print(f"  stackform apply, first (create bi + dashboard)  {median_ms(first):8.0f} ms")
    print(f"  stackform apply, one chart changed             {median_ms(applies):8.0f} ms")
    print(f"  bare script: login + import                     {median_ms(bare_imports):8.0f} ms"
          f"   ratio {median_ms(applies) / median_ms(bare_imports):.2f}")
    print(f"  stackform plan, no changes                     {median_ms(plans):8.0f} ms")
    print(f"  bare script: login + export                     {median_ms(bare_exports):8.0f} ms"
          f"   ratio {median_ms(plans) / median_ms(bare_exports):.2f}")
    print(f"  plan after the bare import: {check.stdout.strip().splitlines()[-1]}")


if __name__ == "__main__":
    main()
