"""tap-leaky: tap-stackform-jsonl behind a tap that prints its secrets.

Every invocation with ``--config`` first logs, on stderr, the whole config as JSON and a DSN
built with the URL-encoded ``password``. With ``fail_at = "discover"`` (or ``"sync"``) it then
fails in that mode with the password in its error message (``"discover-raise"``: with a Python
traceback, as an uncaught exception); otherwise it hands over to tap-stackform-jsonl, which
ignores the extra keys.
"""

from __future__ import annotations

import json
import sys
from urllib.parse import quote


def main() -> int:
    argv = sys.argv[1:]
    if "--config" not in argv:
        from tap_stackform_jsonl.tap import main as jsonl_main

        return jsonl_main(argv)
    path = argv[argv.index("--config") + 1]
    with open(path) as f:
        config = json.load(f)
    password = str(config.get("password", ""))
    sys.stderr.write(f"tap-leaky: starting with config {json.dumps(config)}\n")
    sys.stderr.write(f"tap-leaky: connecting to postgresql://reader:{quote(password, safe='')}"
                     "@db.internal/shop\n")
    sys.stderr.flush()
    mode = "discover" if "--discover" in argv else "sync"
    if config.get("fail_at") == mode:
        sys.stderr.write(f"tap-leaky: error: password authentication failed: {password}\n")
        return 1
    if config.get("fail_at") == f"{mode}-raise":
        _connect(password)
    # tap-stackform-jsonl ignores the extra keys (its warning names the key, not the value).
    from tap_stackform_jsonl.tap import main as jsonl_main

    return jsonl_main(argv)


def _connect(password: str) -> None:
    try:
        raise ConnectionRefusedError("db.internal:5432 refused the connection")
    except ConnectionRefusedError as exc:
        raise RuntimeError(f"password authentication failed: {password}") from exc
