"""``stackform test``: a throwaway environment applied, run on a sample, checked, reported and
destroyed (its warehouse schemas included). See docs/testing.md."""
