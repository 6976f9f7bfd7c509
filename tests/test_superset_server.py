"""The Superset the tests start: it answers, its admin logs in, and its template is reused."""

from __future__ import annotations

import requests

from tests.superset_server import SupersetServer, ensure_template, superset_venv


def test_the_server_answers_and_its_admin_logs_in(superset_server: SupersetServer) -> None:
    assert requests.get(f"{superset_server.url}/health", timeout=10).text == "OK"
    login = requests.post(f"{superset_server.url}/api/v1/security/login", timeout=30, json={
        "username": superset_server.username, "password": superset_server.password,
        "provider": "db", "refresh": True})
    assert login.status_code == 200, login.text
    assert login.json()["access_token"]


def test_a_wrong_password_is_refused(superset_server: SupersetServer) -> None:
    login = requests.post(f"{superset_server.url}/api/v1/security/login", timeout=30, json={
        "username": superset_server.username, "password": "not-the-password",
        "provider": "db", "refresh": True})
    assert login.status_code == 401, login.text


def test_the_template_is_current_and_reused(superset_server: SupersetServer) -> None:
    assert ensure_template(superset_venv()) is False
