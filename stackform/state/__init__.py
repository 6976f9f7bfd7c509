"""Recorded state: the document model, the backend interface, and the backends.

One JSON document per environment. Backends store it atomically, keep the previous version,
lock an environment for mutating commands, and refuse to overwrite a state that is corrupt, of
another lineage, or newer than the one the writer read.
"""
