"""Importers: turn another tool's project into a stack file (``stackform import ...``).

Each importer is a package of its own; :mod:`stackform.importers.meltano` reads a Meltano
project (``stackform import meltano``).
"""
