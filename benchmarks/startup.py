"""Start-up time of ``stackform --version`` and ``--help`` against ``python -c pass``.

Usage: python benchmarks/startup.py [RUNS]   (default 30)
Target (issue 2): median under 150 ms for both.
"""

from __future__ import annotations

import sys

from _common import median_ms, stackform_command, time_command


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    sf = stackform_command()
    # Warm the file cache and .pyc files so every variant is measured warm.
    time_command([*sf, "--help"], 2)
    baseline = median_ms(time_command([sys.executable, "-c", "pass"], runs))
    print(f"{'command':<28}{'median ms':>10}{'vs python -c pass':>20}")
    print(f"{'python -c pass':<28}{baseline:>10.1f}{1.0:>19.2f}x")
    for args in (["--version"], ["--help"], ["plan", "--help"]):
        ms = median_ms(time_command(sf + args, runs))
        label = "stackform " + " ".join(args)
        print(f"{label:<28}{ms:>10.1f}{ms / baseline:>19.2f}x")


if __name__ == "__main__":
    main()
