"""Running pipelines: the run-state store (bookmarks, run history, logs, the run lock), the
records it keeps, and the runner that walks a pipeline's steps through their providers.

Run state lives beside infrastructure state but under its own keys and its own lock, so a
pipeline run never waits on an apply, and two runs of one pipeline in one environment cannot
overlap.
"""
