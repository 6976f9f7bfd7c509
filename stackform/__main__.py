"""Allow ``python -m stackform``."""

from stackform.cli.main import run

run()
