"""A small REST client of Apache Superset: what the provider needs, nothing more.

Login (``/api/v1/security/login``) gives a bearer token; the CSRF token comes from the same
cookie session. Every call sends the bearer, ``X-CSRFToken``, ``Referer`` and ``Accept:
application/json`` (without the last, Superset answers errors with HTML pages). Objects are
found by UUID (list endpoints filter with rison), exported as zips and imported through
``/api/v1/assets/import/``, the one import that overwrites every object it carries. Database
passwords go only in that import's ``passwords`` field.

Errors name the server's URL and the user, never the password.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import requests

from stackform.errors import StackformError

TIMEOUT = 60.0
ENDPOINTS = {"database": "database", "dataset": "dataset", "chart": "chart",
             "dashboard": "dashboard"}


class SupersetError(StackformError):
    """Superset refused a call, or could not be reached."""


class SupersetClient:
    def __init__(self, url: str, username: str, password: str, *, timeout: float = TIMEOUT
                 ) -> None:
        self.url = url.rstrip("/")
        self.username = username
        self._password = password
        self.timeout = timeout
        self._session: requests.Session | None = None
        # One login per client, its calls one at a time: several resources of a plan may share
        # a client from different threads.
        self._lock = threading.RLock()

    def __repr__(self) -> str:  # never the password
        return f"SupersetClient({self.url!r}, user {self.username!r})"

    # -- the session ----------------------------------------------------------------------------

    def login(self) -> None:
        with self._lock:
            self._login()

    def _login(self) -> None:
        session = requests.Session()
        session.headers.update({"Accept": "application/json", "Referer": f"{self.url}/"})
        body = {"username": self.username, "password": self._password, "provider": "db",
                "refresh": True}
        answer = self._send(session, "POST", "/api/v1/security/login", json=body, retry=True)
        if answer.status_code in (400, 401, 403):
            raise SupersetError(
                f"Superset at {self.url} refused the login of {self.username!r} "
                f"(HTTP {answer.status_code})",
                hint="check the bi block's username and password (a secret)")
        token = self._json(answer, "login").get("access_token")
        if not token:
            raise SupersetError(f"Superset at {self.url} answered the login without a token",
                                hint="is this a Superset server? check the bi block's url")
        session.headers["Authorization"] = f"Bearer {token}"
        csrf = self._json(self._send(session, "GET", "/api/v1/security/csrf_token/"),
                          "the CSRF token").get("result")
        if csrf:
            session.headers["X-CSRFToken"] = str(csrf)
        self._session = session

    def _send(self, session: requests.Session, method: str, path: str, *, retry: bool = False,
              **kwargs: Any) -> requests.Response:
        for attempt in range(4):
            try:
                answer = session.request(method, f"{self.url}{path}", timeout=self.timeout,
                                         **kwargs)
            except requests.ConnectionError:
                raise SupersetError(f"cannot reach Superset at {self.url}",
                                    hint="is the server up, and the bi block's url right?"
                                    ) from None
            except requests.Timeout:
                raise SupersetError(f"Superset at {self.url} did not answer {method} {path} "
                                    f"within {self.timeout:.0f} s",
                                    hint="the server is overloaded or stuck") from None
            except requests.RequestException as exc:
                raise SupersetError(f"calling Superset at {self.url} failed: "
                                    f"{type(exc).__name__}", hint="check the bi block's url"
                                    ) from None
            # Login is rate limited (5 a second): wait and try again.
            if answer.status_code == 429 and (retry or attempt < 3):
                time.sleep(0.5 * (attempt + 1))
                continue
            return answer
        return answer

    def request(self, method: str, path: str, *, ok: tuple[int, ...] = (200,), **kwargs: Any
                ) -> requests.Response:
        with self._lock:
            return self._request(method, path, ok, **kwargs)

    def _request(self, method: str, path: str, ok: tuple[int, ...], **kwargs: Any
                 ) -> requests.Response:
        if self._session is None:
            self._login()
        assert self._session is not None
        answer = self._send(self._session, method, path, **kwargs)
        if answer.status_code == 401:  # the token expired (about 15 minutes): once more
            self._login()
            answer = self._send(self._session, method, path, **kwargs)
        if answer.status_code not in ok:
            raise SupersetError(
                f"Superset at {self.url}: {method} {path.split('?')[0]} failed with HTTP "
                f"{answer.status_code}: {_message(answer)}",
                hint="the server's log has the details")
        return answer

    def _json(self, answer: requests.Response, what: str) -> dict[str, Any]:
        if answer.status_code != 200:
            raise SupersetError(f"Superset at {self.url}: {what} failed with HTTP "
                                f"{answer.status_code}: {_message(answer)}",
                                hint="check the bi block's url and the server's log")
        try:
            doc = answer.json()
        except ValueError:
            raise SupersetError(f"{self.url} did not answer {what} with JSON",
                                hint="is this a Superset server? check the bi block's url"
                                ) from None
        return doc if isinstance(doc, dict) else {}

    # -- objects --------------------------------------------------------------------------------

    def find(self, kind: str, uuid: str) -> int | None:
        """The server's id of the object with this UUID, or None."""
        q = f"(filters:!((col:uuid,opr:eq,value:'{uuid}')),columns:!(id))"
        answer = self.request("GET", f"/api/v1/{ENDPOINTS[kind]}/", params={"q": q})
        result = self._json(answer, f"listing {kind}s").get("result") or []
        return int(result[0]["id"]) if result else None

    def export_dashboard(self, uuid: str) -> bytes | None:
        """The export zip of the dashboard with this UUID, or None when it does not exist."""
        ident = self.find("dashboard", uuid)
        if ident is None:
            return None
        answer = self.request("GET", "/api/v1/dashboard/export/", params={"q": f"!({ident})"})
        return answer.content

    def import_assets(self, bundle: bytes, passwords: Mapping[str, str]) -> None:
        """Import (overwriting by UUID) every object of an ``assets`` bundle. ``passwords``
        maps the bundle's database files (``databases/<uuid>.yaml``) to their passwords."""
        data = {"passwords": json.dumps(dict(passwords))} if passwords else {}
        answer = self.request("POST", "/api/v1/assets/import/", ok=(200, 201, 422, 400, 500),
                              files={"bundle": ("bundle.zip", bundle, "application/zip")},
                              data=data)
        if answer.status_code not in (200, 201):
            raise SupersetError(
                f"Superset at {self.url} refused the import (HTTP {answer.status_code}): "
                f"{_message(answer)}",
                hint="a new database needs its password; the server's log has the details")

    def delete(self, kind: str, uuid: str) -> bool:
        """Delete the object with this UUID; False when it was not there."""
        ident = self.find(kind, uuid)
        if ident is None:
            return False
        self.request("DELETE", f"/api/v1/{ENDPOINTS[kind]}/{ident}", ok=(200, 404))
        return True

    def test_connection(self, sqlalchemy_uri: str, password: str | None) -> None:
        """Ask the server to connect to a database (nothing is saved)."""
        body: dict[str, Any] = {"sqlalchemy_uri": sqlalchemy_uri}
        if password:
            body["sqlalchemy_uri"] = _with_password(sqlalchemy_uri, password)
        answer = self.request("POST", "/api/v1/database/test_connection/", json=body,
                              ok=(200, 400, 422, 500))
        if answer.status_code != 200:
            raise SupersetError(
                f"Superset at {self.url} cannot connect to {sqlalchemy_uri}: "
                f"{_message(answer)}",
                hint="check the database block's sqlalchemy_uri and password")

    def get(self, kind: str, ident: int) -> dict[str, Any]:
        result = self._json(self.request("GET", f"/api/v1/{ENDPOINTS[kind]}/{ident}"),
                            f"reading {kind} {ident}").get("result")
        return result if isinstance(result, dict) else {}

    def put(self, kind: str, ident: int, body: Mapping[str, Any]) -> None:
        self.request("PUT", f"/api/v1/{ENDPOINTS[kind]}/{ident}", json=dict(body))


def _with_password(uri: str, password: str) -> str:
    """``scheme://user@host/db`` with the password put in (for the connection test only)."""
    scheme, sep, rest = uri.partition("://")
    user, at, host = rest.partition("@")
    if not sep or not at or ":" in user:
        return uri
    return f"{scheme}://{user}:{quote(password, safe='')}@{host}"


def _message(answer: requests.Response) -> str:
    try:
        doc = answer.json()
    except ValueError:
        text = answer.text.strip().splitlines()
        return (text[0][:200] if text else "") or answer.reason or "no message"
    if isinstance(doc, dict):
        for key in ("message", "msg", "errors"):
            value = doc.get(key)
            if value:
                return (value if isinstance(value, str) else json.dumps(value))[:500]
    return json.dumps(doc)[:500]
