"""The REST client against a real Superset: login failures, import with passwords, export,
normalised comparison, delete by uuid, connection tests."""

from __future__ import annotations

import socket

import pytest
from superset_support import (
    ASSETS,
    COUNT_CHART,
    DASHBOARD_UUID,
    WAREHOUSE_PASSWORD,
    Warehouse,
)

from stackform_superset.bundle import (
    closure,
    differences,
    digest,
    normalise,
    read_assets,
    read_zip,
    rewrite,
    to_zip,
)
from stackform_superset.client import SupersetClient, SupersetError
from tests.superset_server import SupersetServer


def client(server: SupersetServer, password: str | None = None) -> SupersetClient:
    return SupersetClient(server.url, server.username, password or server.password)


def test_a_wrong_password_is_a_clear_error_without_the_password(
        superset_server: SupersetServer) -> None:
    with pytest.raises(SupersetError) as caught:
        client(superset_server, "wrong-pw-8812").login()
    text = f"{caught.value.reason} {caught.value.hint}"
    assert f"Superset at {superset_server.url} refused the login of 'admin'" in text
    assert "wrong-pw-8812" not in text and "wrong-pw-8812" not in repr(caught.value)


def test_an_unreachable_server_is_named() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again below: nobody listens there
    with pytest.raises(SupersetError) as caught:
        SupersetClient(f"http://127.0.0.1:{port}", "admin", "pw-9931").login()
    assert caught.value.reason == f"cannot reach Superset at http://127.0.0.1:{port}"
    assert "pw-9931" not in repr(caught.value)


def test_import_export_and_delete_by_uuid(superset_server: SupersetServer,
                                          wh: Warehouse) -> None:
    api = client(superset_server)
    assets = read_assets(ASSETS)
    objects = rewrite(closure(assets, assets[DASHBOARD_UUID]), {"warehouse": wh.target("dev")})
    database = next(a for a in objects if a.kind == "database")
    api.import_assets(to_zip(objects), {database.bundle_path: WAREHOUSE_PASSWORD})

    exported = api.export_dashboard(DASHBOARD_UUID)
    assert exported is not None
    found = read_zip(exported)
    assert set(found) == {a.uuid for a in objects}, "identity is the uuid, on the server too"
    for asset in objects:
        # every field the bundle sets came back as it was sent
        assert differences(normalise(found[asset.uuid]), normalise(asset),
                           only_after_keys=True) == [], asset.label
    assert WAREHOUSE_PASSWORD.encode() not in exported
    # two exports in a row normalise to the same objects
    again = read_zip(api.export_dashboard(DASHBOARD_UUID) or b"")
    assert {u: digest(normalise(a)) for u, a in again.items()} == {
        u: digest(normalise(a)) for u, a in found.items()}

    assert api.delete("chart", COUNT_CHART) is True
    assert api.find("chart", COUNT_CHART) is None
    assert api.delete("chart", COUNT_CHART) is False
    assert api.export_dashboard("00000000-0000-0000-0000-000000000000") is None


def test_connection_tests(superset_server: SupersetServer, wh: Warehouse) -> None:
    api = client(superset_server)
    api.test_connection(wh.uri, WAREHOUSE_PASSWORD)
    bad = wh.uri.replace(wh.database, "no_such_database_x")
    with pytest.raises(SupersetError) as caught:
        api.test_connection(bad, WAREHOUSE_PASSWORD)
    assert "cannot connect to" in caught.value.reason
    assert WAREHOUSE_PASSWORD not in f"{caught.value.reason} {caught.value.hint}"
