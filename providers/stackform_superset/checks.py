"""``stackform test``'s check of a managed dashboard: each of its charts runs its query against
the environment's warehouse through Superset's chart data API (``POST /api/v1/chart/data``),
so a chart whose dataset lost a column, or whose table is not there, fails by name.

A chart exported by Superset rarely carries its saved ``query_context`` (the assets here have
none), so the query is built from the chart's ``params`` the way the chart's own form builds
it: its grouping or raw columns, and its metrics.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from stackform.provider_schemas import FoundCheck
from stackform_superset.client import SupersetClient, SupersetError

ROW_LIMIT = 10


def _query(params: Mapping[str, Any]) -> dict[str, Any]:
    columns = list(params.get("groupby") or params.get("all_columns")
                   or params.get("columns") or [])
    metrics = list(params.get("metrics") or ([params["metric"]] if params.get("metric")
                                             else []))
    return {"columns": columns, "metrics": metrics, "row_limit": ROW_LIMIT,
            "filters": [], "orderby": []}


def _chart(api: SupersetClient, uuid: str, entry: Mapping[str, Any]) -> str | None:
    """Why the chart's query does not run, or None."""
    server: Mapping[str, Any] = entry.get("server") or {}
    dataset = server.get("dataset_uuid")
    ident = api.find("dataset", str(dataset)) if dataset else None
    if ident is None:
        return f"its dataset {dataset} is not on the server"
    if api.find("chart", uuid) is None:
        return "the chart is not on the server"
    params = server.get("params")
    body = {"datasource": {"id": ident, "type": "table"}, "force": True,
            "queries": [_query(params if isinstance(params, Mapping) else {})],
            "result_format": "json", "result_type": "full"}
    answer = api.request("POST", "/api/v1/chart/data", json=body,
                         ok=(200, 400, 403, 404, 422, 500))
    try:
        doc = answer.json()
    except ValueError:
        doc = {}
    if answer.status_code != 200:
        return f"HTTP {answer.status_code}: {_message(doc) or answer.text[:300]}"
    for result in doc.get("result") or ():
        if result.get("error") or result.get("status") not in (None, "success"):
            return str(result.get("error") or result.get("status"))
    return None


def _message(doc: Mapping[str, Any]) -> str:
    errors = doc.get("errors")
    if isinstance(errors, list) and errors:
        return "; ".join(str(e.get("message") or e) for e in errors if isinstance(e, dict))
    return str(doc.get("message") or "")


def chart_checks(api: SupersetClient, address: str, outputs: Mapping[str, Any]
                 ) -> list[FoundCheck]:
    """One check per chart of the dashboard (``dashboards.revenue: chart Customers``)."""
    objects: Mapping[str, Any] = outputs.get("objects") or {}
    found: list[FoundCheck] = []
    for uuid, entry in sorted(objects.items(), key=lambda i: str(i[1].get("name"))):
        if entry.get("kind") != "chart":
            continue
        name = f"{address}: chart {entry.get('name')}"
        started = time.monotonic()
        try:
            problem = _chart(api, uuid, entry)
        except SupersetError as exc:
            problem = exc.reason
        found.append(FoundCheck(name, problem is None, time.monotonic() - started,
                                " ".join((problem or "its query ran").split())[:1000]))
    return found
