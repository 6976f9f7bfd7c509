"""Bundles: the files a run needs, published by apply and fetched by workers.

A bundle is one content-addressed archive of the stack file, its lock file and every file a
resource is built from (a dbt project, a template, a plugin developed in the repository):
:mod:`.manifest` builds and checks it, :mod:`.store` keeps it next to the state,
:mod:`.cache` brings it onto a worker, verified, and :mod:`.worker` runs a pipeline from it.
"""
