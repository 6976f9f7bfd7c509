"""Requirements already in canonical spelling, and local paths, are answered without importing
packaging, and exactly as packaging would answer them."""

from __future__ import annotations

import subprocess
import sys

from hypothesis import example, given
from hypothesis import strategies as st
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from stackform.plugins.kit import requirement_name
from stackform.plugins.spec import canonical_pin, normalise_requirement


def _by_packaging(text: str) -> str:
    try:
        parsed = Requirement(text.strip())
    except InvalidRequirement:
        return text.strip()
    parsed.name = canonicalize_name(parsed.name)
    return str(parsed)


_NAMES = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,12}[A-Za-z0-9]", fullmatch=True)
_VERSIONS = st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3}){0,3}", fullmatch=True)


@given(name=_NAMES, version=st.none() | _VERSIONS, op=st.sampled_from(["==", ">=", "~=", " == "]))
@example(name="tap-jsonl", version="0.3.1", op="==")
@example(name="Tap_JSONL", version=None, op="==")
@example(name="a--b", version="1", op="==")
def test_the_quick_answer_is_packagings(name: str, version: str | None, op: str) -> None:
    text = name if version is None else f"{name}{op}{version}"
    assert normalise_requirement(text) == _by_packaging(text)
    if canonical_pin(text):
        assert requirement_name(text) == Requirement(text).name


def test_paths_and_urls_keep_their_old_answers() -> None:
    assert normalise_requirement(" ./plugins/tap-x ") == "./plugins/tap-x"
    assert requirement_name("/opt/plugins/tap-local/") == "tap-local"
    assert requirement_name("git+https://github.com/o/tap-foo.git") == "tap-foo"
    assert requirement_name("tap-foo @ git+https://github.com/o/x.git") == "tap-foo"
    assert requirement_name("Tap_Foo[extra]>=1") == "Tap_Foo"


def test_a_plain_pin_does_not_import_packaging() -> None:
    code = ("import sys; from stackform.plugins.spec import normalise_requirement; "
            "from stackform.plugins.kit import requirement_name; "
            "normalise_requirement('tap-jsonl==0.3.1'); normalise_requirement('/x/tap-y'); "
            "requirement_name('tap-jsonl==0.3.1'); requirement_name('/x/tap-y'); "
            "print('packaging' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"
