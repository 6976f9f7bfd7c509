"""``catalog_digest``: a stable hash of a catalog, to tell whether a saved catalog is current."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any


def _canonical(node: Any) -> Any:
    """Metadata lists sorted by breadcrumb (their order means nothing); everything else kept."""
    if isinstance(node, Mapping):
        out = {str(k): _canonical(v) for k, v in node.items()}
        md = out.get("metadata")
        if isinstance(md, list) and all(isinstance(e, dict) and "breadcrumb" in e for e in md):
            out["metadata"] = sorted(md, key=lambda e: json.dumps(e["breadcrumb"]))
        return out
    if isinstance(node, list | tuple):
        return [_canonical(v) for v in node]
    return node


def catalog_digest(catalog: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` of the catalog's canonical JSON: independent of key order and of the
    order of ``metadata`` entries; stream order and every value count."""
    text = json.dumps(
        _canonical(catalog),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
