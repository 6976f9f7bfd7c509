"""tap-stackform-jsonl: an incremental Singer tap for JSONL files."""

__version__ = "0.1.0"
