"""Airflow for stackform: kind ``orchestrators``.

A ``[orchestrators.NAME]`` block deploys one generated Airflow DAG file per scheduled pipeline
into ``dags_path``: its single task runs ``stackform run --env ENV PIPELINE`` on the worker,
so extract, load and dbt steps run exactly as on a laptop, with the environment's state and
bookmarks. With ``pip_url`` every DAG is first imported by that Airflow (its own venv in the
shared cache), and an import error deploys nothing. Refresh reads the deployed files back: a
hand edit or a deleted file is drift the next apply repairs. See ``docs/orchestration.md``.
"""

from stackform_airflow.provider import AirflowProvider

__all__ = ["AirflowProvider"]
