"""S3 settings: parsed and checked without boto3, with errors a user can act on."""

from __future__ import annotations

import subprocess
import sys

import pytest

from stackform.errors import StackformError
from stackform.s3.settings import S3Settings


def test_from_table_and_keys() -> None:
    s = S3Settings.from_table({"backend": "s3", "bucket": "acme-state", "prefix": "/team//jaffle/",
                               "region": "eu-west-1", "endpoint_url": "http://127.0.0.1:8333"})
    assert (s.bucket, s.prefix, s.region, s.endpoint_url, s.profile) == (
        "acme-state", "team/jaffle", "eu-west-1", "http://127.0.0.1:8333", None)
    assert s.key("state", "dev.json") == "team/jaffle/state/dev.json"
    assert s.url("state") == "s3://acme-state/team/jaffle/state"
    assert S3Settings("acme-state").key("state", "dev.json") == "state/dev.json"


def test_from_url() -> None:
    s = S3Settings.from_url("s3://acme-state/a/b", region="us-east-1")
    assert (s.bucket, s.prefix, s.region) == ("acme-state", "a/b", "us-east-1")
    assert S3Settings.from_url("s3://acme-state").prefix == ""


@pytest.mark.parametrize(("make", "needle"), [
    (lambda: S3Settings.from_table({"backend": "s3"}), "needs a bucket"),
    (lambda: S3Settings.from_table({"bucket": "acme-state", "path": "x"}), "'path'"),
    (lambda: S3Settings.from_table({"bucket": "Acme_State"}), "not a valid S3 bucket name"),
    (lambda: S3Settings.from_table({"bucket": "acme-state", "prefix": "a/../b"}), "'..'"),
    (lambda: S3Settings.from_table({"bucket": "acme-state", "endpoint_url": "localhost:9000"}),
     "http://"),
    (lambda: S3Settings.from_table({"bucket": "acme-state",
                                    "endpoint_url": "https://key:secret@host"}), "credentials"),
    (lambda: S3Settings.from_url("https://acme-state/x"), "s3:// URL"),
])
def test_errors_say_what_to_fix(make: object, needle: str) -> None:
    with pytest.raises(StackformError) as err:
        make()  # type: ignore[operator]
    assert needle in err.value.reason and err.value.hint
    assert "secret" not in str(err.value)


def test_settings_import_no_boto3() -> None:
    code = ("import sys; import stackform.s3.settings, stackform.state.s3, stackform.runs.s3; "
            "print('boto3' in sys.modules or 'botocore' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"
