"""Allow ``python -m stackform``."""

from stackform.cli import run

run()
