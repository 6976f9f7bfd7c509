"""Tests for the TOML source map (stackform.config.locate)."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest
import tomlkit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tomlkit.items import Item

from stackform.config.locate import KeyPath, SourceMap

DOC = '''\
# a comment [not.a.table]
title = "x # not a comment"
a.b."c.d" = 1
"quoted.key" = 'lit'

[tbl]  # trailing
'q' = """multi
line # = [ ' "" \\""""
arr = [ 1, # one
  [2, 3],  # nested
  { x = 'y', z = { w = 1979-05-27T07:32:00Z } },
]
lit = \'\'\'
a ' b '' c = [
\'\'\'
after = true

[[aot]]
k = 1
[[aot]]
k = 2
[[aot.sub]]
z = -3.5

[tbl.deeper]
when = 1979-05-27 07:32:00
'''


def at(text: str, loc: tuple[int, int] | None) -> str:
    assert loc is not None
    line, col = loc
    lines = text.splitlines(keepends=True)
    return "".join(lines[line - 1 :])[col - 1 :]


@pytest.mark.parametrize(
    ("path", "starts"),
    [
        (("title",), '"x # not'),
        (("a", "b", "c.d"), "1"),
        (("quoted.key",), "'lit'"),
        (("tbl", "q"), '"""multi'),
        (("tbl", "arr"), "[ 1,"),
        (("tbl", "arr", 0), "1,"),
        (("tbl", "arr", 1), "[2, 3]"),
        (("tbl", "arr", 1, 1), "3]"),
        (("tbl", "arr", 2, "x"), "'y'"),
        (("tbl", "arr", 2, "z", "w"), "1979-05-27T07"),
        (("tbl", "lit"), "'''\na '"),
        (("tbl", "after"), "true"),
        (("aot", 0, "k"), "1"),
        (("aot", 1, "k"), "2"),
        (("aot", 1, "sub", 0, "z"), "-3.5"),
        (("tbl", "deeper", "when"), "1979-05-27 07"),
    ],
)
def test_leaf_locations(path: KeyPath, starts: str) -> None:
    sm = SourceMap(DOC)
    assert path in sm
    assert at(DOC, sm.locate(path)).startswith(starts)


def test_tables_point_at_key_or_header() -> None:
    sm = SourceMap(DOC)
    assert sm.locate(("tbl",)) == (6, 1)
    assert at(DOC, sm.locate(("aot", 1))).startswith("[[aot]]\nk = 2")
    assert at(DOC, sm.locate(("aot", 1, "sub", 0))).startswith("[[aot.sub]]")
    assert at(DOC, sm.locate(("tbl", "arr", 2, "z"))).startswith("z = { w =")
    assert at(DOC, sm.locate(("a", "b"))).startswith('b."c.d"')
    assert at(DOC, sm.locate(("tbl", "deeper"))).startswith("[tbl.deeper]")


def test_missing_paths_fall_back_to_nearest_ancestor() -> None:
    sm = SourceMap(DOC)
    assert sm.locate(("tbl", "nope")) == sm.locate(("tbl",))
    assert sm.locate(("tbl", "deeper", "x", "y")) == sm.locate(("tbl", "deeper"))
    assert sm.locate(("aot", 1, "missing")) == sm.locate(("aot", 1))
    assert sm.locate(("nothing", "here")) == (1, 1)
    assert sm.locate(()) == (1, 1)
    assert ("tbl", "nope") not in sm


def test_locate_key_points_at_the_key() -> None:
    sm = SourceMap(DOC)
    assert at(DOC, sm.locate_key(("tbl", "after"))).startswith("after = true")
    assert at(DOC, sm.locate_key(("a", "b", "c.d"))).startswith('"c.d" = 1')


def test_explicit_header_wins_over_implicit_table() -> None:
    text = "[a.b]\nx = 1\n\n[a]\ny = 2\n"
    sm = SourceMap(text)
    assert sm.locate(("a",)) == (4, 1)
    assert sm.locate(("a", "b")) == (1, 1)


def test_nested_array_of_tables_indices() -> None:
    text = "[[a]]\n[[a.b]]\nx = 1\n[[a.b]]\nx = 2\n[[a]]\n[[a.b]]\nx = 3\n"
    sm = SourceMap(text)
    assert sm.locate(("a", 0, "b", 1, "x")) == (5, 5)
    assert sm.locate(("a", 1, "b", 0, "x")) == (8, 5)


def test_escaped_quotes_and_crlf() -> None:
    text = "a = \"x \\\" # y\"\r\nb = 2\r\n[t]\r\nc = '''''q'''''\r\nd = 4\r\n"
    assert tomllib.loads(text)["t"]["c"] == "''q''"
    sm = SourceMap(text)
    assert sm.locate(("b",)) == (2, 5)
    assert sm.locate(("t", "d")) == (5, 5)


def test_lenient_on_garbage() -> None:
    sm = SourceMap('a = "unterminated\n[[[\n= 3\nb = [1, {x = \n')
    assert sm.locate(("a",)) == (1, 5)
    assert sm.locate(("zz",)) == (1, 1)


# -- property: every leaf tomlkit writes is found where its representation starts -------------

KEY_CHARS = st.sampled_from(list("abcXYZ09_-. \"'#=[]{}é\\\t"))
keys = st.text(KEY_CHARS, min_size=1, max_size=6)
STR_CHARS = st.sampled_from(list("ab #=[]{}\"'\\,\n\té$"))
plain_strings = st.text(STR_CHARS, max_size=12)


@st.composite
def string_item(draw: st.DrawFn) -> Item:
    value = draw(plain_strings)
    literal = draw(st.booleans())
    multiline = draw(st.booleans())
    try:
        return tomlkit.string(value, literal=literal, multiline=multiline)
    except Exception:  # tomlkit refuses e.g. a quote in a literal string
        return tomlkit.string(value, multiline=multiline)


def leaf_item(draw: st.DrawFn) -> Item:
    kind = draw(st.sampled_from(["int", "bool", "str", "float"]))
    if kind == "int":
        return tomlkit.integer(draw(st.integers(-(10**12), 10**12)))
    if kind == "bool":
        return tomlkit.boolean("true" if draw(st.booleans()) else "false")
    if kind == "float":
        return tomlkit.float_(repr(draw(st.floats(-1e6, 1e6, allow_nan=False))))
    return draw(string_item())


Expected = dict[KeyPath, str]
TABLE = "<table>"


def inline_value(draw: st.DrawFn, path: KeyPath, depth: int, expected: Expected) -> Any:
    """A value that may sit inside an inline table or array: leaf, array or inline table."""
    choice = draw(st.sampled_from(["leaf", "leaf", "array", "inline"] if depth < 3 else ["leaf"]))
    if choice == "leaf":
        item = leaf_item(draw)
        expected[path] = item.as_string()
        return item
    if choice == "array":
        arr = tomlkit.array()
        n = draw(st.integers(0, 3))
        multiline = draw(st.booleans())
        for i in range(n):
            arr.append(inline_value(draw, (*path, i), depth + 1, expected))
        if multiline and n:
            arr.multiline(True)
        expected[path] = "["
        return arr
    table = tomlkit.inline_table()
    for k in draw(st.lists(keys, max_size=3, unique=True)):
        table.append(k, inline_value(draw, (*path, k), depth + 1, expected))
    # An inline table under a key is located at that key (tables point at their key).
    expected[path] = "{" if isinstance(path[-1], int) else TABLE
    return table


def fill_table(
    draw: st.DrawFn, container: Any, path: KeyPath, depth: int, expected: Expected
) -> None:
    """Simple values first (plain, dotted, inline), then sub-tables and arrays of tables."""
    names = draw(st.lists(keys, max_size=4, unique=True))
    later: list[tuple[str, str]] = []
    for name in names:
        style = draw(
            st.sampled_from(
                ["value", "value", "dotted", "table", "aot"] if depth < 3 else ["value"]
            )
        )
        if style in ("table", "aot"):
            later.append((name, style))
        elif style == "dotted":
            sub = draw(keys)
            container.add(
                tomlkit.key([name, sub]),
                inline_value(draw, (*path, name, sub), depth + 1, expected),
            )
        else:
            container.add(name, inline_value(draw, (*path, name), depth, expected))
    for name, style in later:
        if style == "table":
            table = tomlkit.table()
            fill_table(draw, table, (*path, name), depth + 1, expected)
            container.add(name, table)
        else:
            aot = tomlkit.aot()
            for i in range(draw(st.integers(1, 2))):
                table = tomlkit.table()
                fill_table(draw, table, (*path, name, i), depth + 1, expected)
                aot.append(table)
            container.add(name, aot)


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, Expected]:
    doc = tomlkit.document()
    expected: Expected = {}
    fill_table(draw, doc, (), 0, expected)
    return tomlkit.dumps(doc), expected


def lookup(data: Any, path: KeyPath) -> Any:
    for key in path:
        data = data[key]
    return data


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_every_leaf_is_located(doc: tuple[str, Expected]) -> None:
    text, expected = doc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        # tomlkit can emit a document that is not valid TOML (a dotted key colliding with a
        # sibling); the scanner only promises anything for valid text.
        return
    sm = SourceMap(text)
    for path, rendering in expected.items():
        try:
            lookup(data, path)
        except (KeyError, IndexError):
            continue  # tomlkit merged duplicate names; not this scanner's concern
        assert path in sm, (path, text)
        if rendering == TABLE:
            assert sm.locate(path) == sm.locate_key(path), (path, text)
        else:
            assert at(text, sm.locate(path)).startswith(rendering), (path, rendering, text)
    assert sm.duplicates() == [], text  # valid TOML defines nothing twice


@pytest.mark.parametrize(("text", "path", "first", "again"), [
    ("a = 1\nb = 2\na = 3\n", ("a",), (1, 1), (3, 1)),
    ("[x]\na = 1\n[y]\n[x]\nc = 2\n", ("x",), (1, 1), (4, 1)),
    ("[x.y]\n[x.y]\n", ("x", "y"), (1, 1), (2, 1)),
    ("x.a = 1\nx.a = 2\n", ("x", "a"), (1, 3), (2, 3)),
    ("x = {a = 1, a = 2}\n", ("x", "a"), (1, 6), (1, 13)),
    ("a = 1\n[a]\n", ("a",), (1, 1), (2, 1)),
    ("[a]\n[[a]]\n", ("a",), (1, 1), (2, 1)),
    ("[[a]]\n[a]\n", ("a",), (1, 1), (2, 1)),
    ("[a]\nb.c = 1\n[a.b]\n", ("a", "b"), (2, 1), (3, 1)),
    ("[a.b]\n[a]\nb.c = 1\n", ("a", "b"), (1, 1), (3, 1)),
    ("x = {a = 1}\nx.b = 2\n", ("x",), (1, 1), (2, 1)),
    ("[[a]]\nx = 1\nx = 2\n", ("a", 0, "x"), (2, 1), (3, 1)),
])
def test_duplicates_are_found_at_their_second_definition(
        text: str, path: KeyPath, first: tuple[int, int], again: tuple[int, int]) -> None:
    with pytest.raises(tomllib.TOMLDecodeError):
        tomllib.loads(text)
    (dup,) = SourceMap(text).duplicates()
    assert (dup.path, dup.first, dup.again) == (path, first, again)


@pytest.mark.parametrize("text", [
    "[a.b]\nx = 1\n[a]\ny = 1\n",
    "[[a]]\n[a.b]\n[[a]]\n[a.b]\n",
    "[t]\na.b = 1\na.c = 2\n[t.a.d]\n",
    "x = {a.b = 1, a.c = 2}\n",
])
def test_valid_redefinitions_are_not_duplicates(text: str) -> None:
    tomllib.loads(text)
    assert SourceMap(text).duplicates() == []
