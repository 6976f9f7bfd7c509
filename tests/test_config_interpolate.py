"""Tests for ${...} interpolation and sensitivity tracking (stackform.config.interpolate)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stackform.config.interpolate import Interpolator, Ref, TemplateError, parse_template
from stackform.diagnostics import Location
from stackform.errors import SecretError
from stackform.resource import KeyPath


class FakeSecrets:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.calls: list[str] = []

    def get(self, name: str) -> str:
        self.calls.append(name)
        if name not in self.values:
            raise SecretError(f"secret '{name}' is not set", hint=f"stackform secret set {name}")
        return self.values[name]


def make(vars_: dict[str, Any] | None = None, *, secrets: FakeSecrets | None = None,
         strict: bool = True, environ: dict[str, str] | None = None) -> Interpolator:
    vars_ = vars_ or {}

    def locate(path: KeyPath, key: bool) -> Location:
        # A fake location that encodes the source path, so tests can see where it points.
        return Location(Path("/".join(map(str, path)) or "<root>"), 1, 1)

    return Interpolator(
        vars=vars_,
        var_sources={k: ("vars", k) for k in vars_},
        stack={"env": "dev-alice", "dir": "/stack", "name": "jaffle"},
        environ=environ or {},
        locate=locate,
        secrets=secrets if secrets is not None else FakeSecrets({"pw": "hunter2"}),
        strict_secrets=strict,
    )


def where(interp: Interpolator) -> list[tuple[str, str, str | None]]:
    return [(str(d.location.file) if d.location else "", d.message, d.hint)
            for d in interp.diagnostics]


def test_parse_template() -> None:
    assert parse_template("plain") == ["plain"]
    assert parse_template("a ${var.x} b") == ["a ", Ref("var", "x", 2, 10), " b"]
    assert parse_template("$${var.x} and $ and $5") == ["${var.x} and $ and $5"]
    assert parse_template("${ stack.env }") == [Ref("stack", "env", 0, 14)]
    with pytest.raises(TemplateError, match="unclosed"):
        parse_template("a ${var.x")
    with pytest.raises(TemplateError, match="bad interpolation"):
        parse_template("${var}")
    with pytest.raises(TemplateError, match="bad interpolation"):
        parse_template("${var.a b}")


def test_stack_environ_and_strings() -> None:
    interp = make(environ={"HOME": "/home/a"})
    value, sensitive = interp.interpolate(
        {"a": "${stack.env}/${stack.name}@${stack.dir}", "b": ["${environ.HOME}", 3],
         "c": "cost: $$${var.nope}", "d": True},
        ("files", "x"),
    )
    assert value == {"a": "dev-alice/jaffle@/stack", "b": ["/home/a", 3],
                     "c": "cost: $${var.nope}", "d": True}
    assert sensitive == set()
    assert not interp.diagnostics


def test_exact_var_keeps_native_type() -> None:
    interp = make({"n": 5, "tags": ["a", "b"], "t": {"k": "${var.n}"}, "flag": False})
    value, _ = interp.interpolate(
        {"n": "${var.n}", "tags": "${var.tags}", "t": "${var.t}", "s": "n=${var.n} ${var.flag}"}
    )
    assert value == {"n": 5, "tags": ["a", "b"], "t": {"k": 5}, "s": "n=5 false"}


def test_vars_referencing_vars_and_secrets_are_sensitive() -> None:
    interp = make({
        "pw": "${secret.pw}",
        "dsn": "postgres://u:${var.pw}@h/db",
        "conf": {"user": "u", "password": "${secret.pw}", "list": ["x", "${var.pw}"]},
    })
    value, sensitive = interp.interpolate(
        {"dsn": "${var.dsn}", "embedded": "x${var.dsn}", "conf": "${var.conf}", "plain": "p",
         "direct": ["a", "${secret.pw}"]}
    )
    assert value["dsn"] == "postgres://u:hunter2@h/db"
    assert value["conf"]["password"] == "hunter2"
    assert sensitive == {("dsn",), ("embedded",), ("conf", "password"), ("conf", "list", 1),
                         ("direct", 1)}


def test_secret_looked_up_once() -> None:
    secrets = FakeSecrets({"pw": "s"})
    interp = make(secrets=secrets)
    interp.interpolate(["${secret.pw}", "${secret.pw}", "${secret.pw}"])
    assert secrets.calls == ["pw"]


def test_unknown_var_did_you_mean_located_at_reference() -> None:
    interp = make({"warehouse": "w"})
    value, _ = interp.interpolate({"path": "x/${var.warehous}"}, ("loaders", "w", "config"))
    assert value == {"path": "x/${var.warehous}"}
    [(loc, message, hint)] = where(interp)
    assert loc == "loaders/w/config/path"
    assert message == "unknown var 'warehous'"
    assert hint == "did you mean 'warehouse'?"
    assert interp.diagnostics.items[0].path == "loaders.w.config.path"


def test_source_mapping_used_for_locations() -> None:
    interp = make()
    interp.interpolate({"a": {"b": "${var.x}"}}, ("files", "f"),
                       source=lambda rel: ("environments", "prod", "override", "files", "f", *rel))
    assert where(interp)[0][0] == "environments/prod/override/files/f/a/b"
    assert interp.diagnostics.items[0].path == "files.f.a.b"


def test_var_cycle_reported_once_at_var() -> None:
    interp = make({"a": "${var.b}", "b": "x${var.c}", "c": "${var.a}"})
    interp.interpolate(["${var.a}", "${var.b}", "${var.c}"])
    found = where(interp)
    assert len(found) == 1
    assert found[0][0] == "vars/a"
    assert found[0][1] == "vars refer to each other in a cycle: a -> b -> c -> a"


def test_self_reference_is_a_cycle() -> None:
    interp = make({"a": "${var.a}"})
    interp.interpolate("${var.a}")
    assert [m for _, m, _ in where(interp)] == ["vars refer to each other in a cycle: a -> a"]


def test_a_cycle_nothing_uses_is_still_reported_at_its_var() -> None:
    interp = make({"used": "fine", "a": "x-${var.b}", "b": {"k": ["${var.a}"]},
                   "self": "${var.self}", "unset": "${environ.NOPE}"})
    interp.check_cycles()
    assert where(interp) == [
        ("vars/a", "vars refer to each other in a cycle: a -> b -> a",
         "make one of them a plain value"),
        ("vars/self", "vars refer to each other in a cycle: self -> self",
         "make one of them a plain value"),
    ]  # an unused var's other problems (an unset environment variable) stay quiet
    interp.interpolate(["${var.a}", "${var.b}", "${var.used}"])
    assert len(interp.diagnostics) == 2  # a use reports the same cycle no second time


def test_a_long_chain_of_vars_is_checked_without_recursion() -> None:
    n = 20_000
    chain = {f"v{i}": f"${{var.v{i + 1}}}" for i in range(n)}
    interp = make({**chain, f"v{n}": "${var.v0}"})
    interp.check_cycles()
    [(_, message, _)] = where(interp)
    assert message.startswith("vars refer to each other in a cycle: v0 -> v1 -> ")


def test_a_chain_of_vars_deeper_than_the_limit_is_an_error_not_a_crash() -> None:
    from stackform.config.interpolate import MAX_VAR_DEPTH

    for n in (MAX_VAR_DEPTH - 1, 5_000):
        chain = {f"v{i}": f"${{var.v{i + 1}}}" for i in range(n)}
        interp = make({**chain, f"v{n}": "end"})
        value, _ = interp.interpolate(["${var.v0}", "${var.v1}"])
        if n < MAX_VAR_DEPTH:
            assert value == ["end", "end"] and not where(interp)
        else:
            assert where(interp) == [("vars/v0", f"vars use vars more than {MAX_VAR_DEPTH} "
                                      "deep, starting here",
                                      "give one of the vars along the chain a plain value")]


def test_bad_namespace_syntax_and_environ() -> None:
    interp = make()
    interp.interpolate({"a": "${vars.x}", "b": "${stack.nam}", "c": "${environ.NOPE}",
                        "d": "${oops", "e": "${x}"})
    found = {loc: (message, hint) for loc, message, hint in where(interp)}
    assert found["a"] == ("unknown namespace 'vars' in '${vars.x}'", "did you mean 'var'?")
    assert found["b"] == ("unknown stack attribute 'nam' in '${stack.nam}'",
                          "did you mean 'name'?")
    assert found["c"][0] == "environment variable 'NOPE' is not set"
    assert "export NOPE=" in (found["c"][1] or "")
    assert found["d"][0].startswith("unclosed '${'")
    assert found["e"][0] == "bad interpolation '${x}'"


def test_table_var_inside_string_is_an_error() -> None:
    interp = make({"t": {"a": 1}})
    interp.interpolate("x ${var.t}")
    assert where(interp)[0][1] == "var 't' is a table; it cannot be part of a string"


def test_missing_secret_strict_and_lenient() -> None:
    strict = make(secrets=FakeSecrets({}))
    strict.interpolate({"a": "${secret.db}", "b": "${secret.db}"})
    assert [(loc, m) for loc, m, _ in where(strict)] == [("a", "secret 'db' is not set")]

    lenient = make(secrets=FakeSecrets({}), strict=False)
    value, sensitive = lenient.interpolate({"a": "${secret.db}", "b": "u:${secret.db}"})
    assert value == {"a": "<secret db>", "b": "u:<secret db>"}
    assert sensitive == {("a",), ("b",)}
    assert not lenient.diagnostics


def test_no_secret_source() -> None:
    interp = Interpolator(vars={}, var_sources={}, stack={}, environ={},
                          locate=lambda p, k: None, secrets=None, strict_secrets=True)
    interp.interpolate("${secret.x}")
    assert interp.diagnostics.items[0].message == "secret 'x' is not available"


def test_broken_var_reported_once_at_the_var() -> None:
    interp = make({"a": "${environ.MISSING}"})
    interp.interpolate(["${var.a}", "x${var.a}"])
    assert [loc for loc, _, _ in where(interp)] == ["vars/a"]
