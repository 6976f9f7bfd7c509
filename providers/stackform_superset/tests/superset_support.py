"""Helpers of the Superset provider's tests: the fixture asset folder, a PostgreSQL warehouse
with one schema per environment, and the rewrite targets pointing at it."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psycopg

from stackform.config.model import EnvironmentSettings, ResolvedStack
from stackform.resource import KeyPath, Resource
from stackform_superset import BiConfig, BiProvider, DashboardConfig, DashboardProvider
from stackform_superset.bundle import DatabaseTarget

ASSETS = Path(__file__).parent / "assets" / "sales"
DASHBOARD_UUID = "18ee2d7c-d077-4cb7-a192-bf0ab1af9855"
REVENUE_CHART = "150b18b7-1e24-41f1-a5b6-e2833a8793cb"
COUNT_CHART = "7eccd133-d1b6-44dc-8399-166f232e8edf"
DATASET_UUID = "d73aa46c-a1ba-4ceb-b2b2-02a0d1de44b9"
DATABASE_UUID = "2b81fcf1-217b-482b-80ab-d10ff3b13076"
WAREHOUSE_PASSWORD = "wh-pw-not-to-leak-7731"
"""PostgreSQL here trusts 127.0.0.1, so any password works; it must still never leak."""


@dataclass(frozen=True)
class Warehouse:
    database: str

    @property
    def uri(self) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:5432/{self.database}"

    def target(self, env: str) -> DatabaseTarget:
        return DatabaseTarget(self.uri, {"analytics": f"analytics_{env}"})


@contextmanager
def warehouse() -> Iterator[Warehouse]:
    """A PostgreSQL database with schemas analytics_dev and analytics_prod, each with its own
    rows in ``revenue``."""
    name = f"sf_wh_{secrets.token_hex(4)}"
    admin = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={name}",
                             autocommit=True) as conn:
            for env, rows in (("dev", [("dev-a", 1), ("dev-b", 2)]), ("prod", [("prod-a", 10)])):
                conn.execute(f"CREATE SCHEMA analytics_{env}")
                conn.execute(f"CREATE TABLE analytics_{env}.revenue (customer text, amount "
                             "numeric)")
                for row in rows:
                    conn.execute(f"INSERT INTO analytics_{env}.revenue VALUES (%s, %s)", row)
        yield Warehouse(name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def copy_assets(to: Path) -> Path:
    shutil.copytree(ASSETS, to)
    return to


def resolved_pair(stack_dir: Path, server_url: str, username: str, password: str,
                  wh: Warehouse, *, env: str = "dev", assets: Path = ASSETS,
                  dashboard: dict[str, Any] | None = None, disallow_edits: bool = False,
                  stack_env: str = "test", uuid_mode: str = "same",
                  schemas: dict[str, str] | None = None) -> tuple[Resource, Resource]:
    """A ``bi`` and a ``dashboards`` resource as core resolves them (computed attributes and
    the kept passwords included), for one environment of the warehouse."""
    bi_config = BiConfig.model_validate({
        "url": server_url, "username": username, "password": password,
        "assets": str(assets), "disallow_edits": disallow_edits, "uuid_mode": uuid_mode,
        "databases": {"warehouse": {
            "sqlalchemy_uri": wh.uri, "password": WAREHOUSE_PASSWORD,
            "schemas": {"analytics": f"analytics_{env}"} if schemas is None else schemas}}})
    bi = Resource("bi.main", "bi", "main", bi_config, bi_config.model_dump(mode="json"),
                  BI_SENSITIVE)
    dash_config = DashboardConfig.model_validate(dashboard or {"bi": "main",
                                                               "uuid": DASHBOARD_UUID})
    plain = Resource("dashboards.sales", "dashboards", "sales", dash_config,
                     dash_config.model_dump(mode="json"))
    stack = ResolvedStack(name="conformance" if stack_env == "test" else "bi-demo",
                          env=stack_env, file=stack_dir / "stack.toml",
                          dir=stack_dir, environment=EnvironmentSettings(stack_env), state={},
                          resources={bi.address: bi, plain.address: plain})
    BiProvider().computed_attributes(stack, bi)
    computed = DashboardProvider().computed_attributes(stack, plain)
    return bi, replace(plain, attributes={**plain.attributes, **computed})


BI_SENSITIVE: frozenset[KeyPath] = frozenset({("password",),
                                              ("databases", "warehouse", "password")})


def clean_server(url: str, username: str, password: str) -> None:
    """Delete the fixture folder's dashboard, charts and dataset from a server (tests share
    one server; a database with datasets left cannot be deleted)."""
    from stackform_superset.client import SupersetClient

    api = SupersetClient(url, username, password)
    for kind, uuid in (("dashboard", DASHBOARD_UUID), ("chart", REVENUE_CHART),
                       ("chart", COUNT_CHART), ("dataset", DATASET_UUID)):
        api.delete(kind, uuid)
