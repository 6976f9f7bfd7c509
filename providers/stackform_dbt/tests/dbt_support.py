"""A small dbt project the tests write, and the adapter they install."""

from __future__ import annotations

from pathlib import Path

PIP_URL = "dbt-duckdb==1.11.1 dbt-core<1.12"

PROJECT = {
    "dbt_project.yml": 'name: jaffle\nversion: "1.0.0"\nprofile: jaffle\n'
                       'model-paths: ["models"]\nseed-paths: ["seeds"]\n',
    "seeds/raw_orders.csv": "id,customer,amount\n1,ann,10\n2,bob,20\n3,ann,5\n",
    "models/staging/stg_orders.sql":
        "select id, customer, amount from {{ ref('raw_orders') }}\n",
    "models/marts/customers.sql":
        "select customer, sum(amount) as total\nfrom {{ ref('stg_orders') }}\ngroup by customer\n",
    "models/schema.yml": (
        "version: 2\nmodels:\n  - name: stg_orders\n    columns:\n      - name: id\n"
        "        data_tests: [not_null, unique]\n  - name: customers\n    columns:\n"
        "      - name: customer\n        data_tests: [unique]\n"),
}


def write_project(stack_dir: Path, folder: str = "transform") -> Path:
    root = stack_dir / folder
    for rel, text in PROJECT.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root
