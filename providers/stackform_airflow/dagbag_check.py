"""Run by the Airflow venv's own Python (not by stackform): import every DAG file of a folder
the way Airflow's DAG processor does, and write what it found as JSON.

Usage: ``python dagbag_check.py DAGS_FOLDER RESULT_FILE``. The result holds Airflow's version,
the dag ids it loaded, and the import errors by file name. Exit code 0 means the check ran (the
DAGs may still have errors); anything else means Airflow itself could not be used.
"""

from __future__ import annotations

import json
import os
import sys


def main(folder: str, result: str) -> int:
    import airflow

    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 2.x and early 3.0
        from airflow.models.dagbag import DagBag

    bag = DagBag(dag_folder=folder, safe_mode=False)
    errors = {os.path.basename(path): str(message)
              for path, message in bag.import_errors.items()}
    found = {dag_id: os.path.basename(str(dag.fileloc)) for dag_id, dag in bag.dags.items()}
    with open(result, "w", encoding="utf-8") as f:
        json.dump({"airflow": airflow.__version__, "dags": found, "errors": errors}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
