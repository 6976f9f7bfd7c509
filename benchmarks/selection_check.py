"""What checking an extractor's selection costs every plan, on large database catalogs.

Every plan (a no-op too) checks each applied extractor's ``select`` and ``metadata`` against the
catalog its last apply discovered (``check_selection`` in
``providers/stackform_singer/catalog/checks.py``): read the JSON, apply the selection, look for
rules and patterns that match nothing. Catalogs are generated in the shape
pipelinewise-tap-mysql discovers (``selected-by-default: false``, ``sql-datatype`` on every
column), with a few rules over them; for each size, the best of several repeats of:

- **parse**: ``json.loads`` of the catalog file's text;
- **selection** (what a changed extractor's plan notes cost): ``apply_selection`` then
  ``selection_of``;
- **check** (what every plan pays per extractor): ``check_selection``.

Usage: python benchmarks/selection_check.py [STREAMS...]   (default 50 500 2000; 42 columns)
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

from stackform_singer.catalog import apply_selection, check_selection, selection_of

COLUMNS = 40
SELECT = ["db-t1*.*", "!db-t10.c3", "!db-*.ssn", "db-t2.c5"]
METADATA = {"db-t1*": {"replication-method": "INCREMENTAL", "replication-key": "updated_at"}}


def stream(i: int) -> dict[str, Any]:
    props: dict[str, Any] = {f"c{j}": {"type": ["null", "string"]} for j in range(COLUMNS)}
    props["id"] = {"type": "integer"}
    props["updated_at"] = {"type": ["null", "string"], "format": "date-time"}
    metadata: list[dict[str, Any]] = [{"breadcrumb": [], "metadata": {
        "selected-by-default": False, "table-key-properties": ["id"], "database-name": "db"}}]
    metadata += [{"breadcrumb": ["properties", p],
                  "metadata": {"inclusion": "available", "sql-datatype": "varchar(100)"}}
                 for p in props]
    return {"tap_stream_id": f"db-t{i}", "stream": f"t{i}",
            "schema": {"type": "object", "properties": props}, "metadata": metadata}


def best_ms(work: Callable[[], object], repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times) * 1000


def main(sizes: list[int]) -> None:
    print(f"{'streams':>8} {'MB':>6} {'parse':>9} {'selection':>10} {'check':>9}")
    for n in sizes:
        text = json.dumps({"streams": [stream(i) for i in range(n)]})
        catalog = json.loads(text)
        parse = best_ms(lambda: json.loads(text))  # noqa: B023 - called at once
        selection = best_ms(
            lambda: selection_of(apply_selection(catalog, SELECT, METADATA)))  # noqa: B023
        check = best_ms(lambda: check_selection(catalog, SELECT, METADATA))  # noqa: B023
        print(f"{n:>8} {len(text) / 1e6:>6.1f} {parse:>7.0f}ms {selection:>8.0f}ms "
              f"{check:>7.0f}ms")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [50, 500, 2000])
