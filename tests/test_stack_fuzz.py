"""Fuzzing: generated stack files, valid ones mutated in hostile ways, checked as ``validate``
checks them.

Every case must end either valid or in a :class:`~stackform.errors.ConfigError` whose every
diagnostic has a location (line and column from 1) on a line the file has; never in any other
exception. The base file is always valid, so each problem comes from a mutation that knows
where it made it: a diagnostic must point there (a bad byte and a duplicate at the exact line
and column), never at 1:1 when the problem is elsewhere. Hypothesis runs with a fixed seed
(``derandomize``), so CI sees the same 1,000 files every time; a small number also go through
the real ``stackform validate`` to show that no traceback reaches a user.
"""

from __future__ import annotations

import re
import time
import tomllib
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from stackform.config.loader import load_stack_file
from stackform.config.resolve import resolve
from stackform.errors import ConfigError
from stackform.graph import checked_dependencies
from stackform.registry import Registry
from tests.cli_helpers import Result, Runner, make_env

IN_PROCESS_CASES = 1_000
CLI_CASES = 50
REGISTRY = Registry()


# -- a stack file as lines that know what they are ---------------------------------------------


@dataclass(eq=False)
class Line:
    text: str
    table: tuple[str, ...] = ()
    key: str | None = None
    header: bool = False


@dataclass(eq=False)
class Expect:
    """A problem a mutation made: on one of ``lines``, at ``column`` when it is known."""

    lines: tuple[Line, ...]
    column: int | None = None
    syntax: bool = False
    """Found by the TOML parser, which stops at the first such problem."""
    what: str = ""


@dataclass(eq=False)
class BadByte:
    line: Line
    index: int
    data: bytes


@dataclass
class Doc:
    lines: list[Line] = field(default_factory=list)
    expects: list[Expect] = field(default_factory=list)
    bad_bytes: list[BadByte] = field(default_factory=list)
    blocks: list[str] = field(default_factory=list)
    """Names of the ``files`` blocks."""
    envs: list[str] = field(default_factory=list)

    def table(self, path: tuple[str, ...], entries: list[tuple[str, str]]) -> Line:
        header = Line(f"[{'.'.join(path)}]", path, header=True)
        self.lines += [header, *(Line(f"{k} = {v}", path, key=k) for k, v in entries), Line("")]
        return header

    def entry(self, table: tuple[str, ...], key: str) -> Line:
        return next(x for x in self.lines if x.table == table and x.key == key)

    def add_entry(self, table: tuple[str, ...], key: str, value: str) -> Line:
        """A new ``key = value`` at the end of ``table``'s lines."""
        last = max(i for i, x in enumerate(self.lines) if x.table == table)
        line = Line(f"{key} = {value}", table, key=key)
        self.lines.insert(last + 1, line)
        return line

    def number(self, line: Line) -> int:
        return next(i for i, x in enumerate(self.lines) if x is line) + 1

    def render(self) -> bytes:
        out: list[bytes] = []
        for line in self.lines:
            text = line.text.encode()
            for bad in sorted((b for b in self.bad_bytes if b.line is line),
                              key=lambda b: -b.index):
                cut = len(line.text[:bad.index].encode())
                text = text[:cut] + bad.data + text[cut:]
            out.append(text)
        return b"\n".join(out) + b"\n"


# TOML escapes of characters that must never reach a terminal raw; valid in any basic string.
HOSTILE = ["\\u001b[31m", "\\r", "\\u202e", "\\u0007", "\\u200b", "\\u0085", "\\u2028"]
SAFE_TEXT = st.text(st.sampled_from(list("abc xyz-_/.é東")), max_size=8)


@st.composite
def basic_string(draw: st.DrawFn) -> str:
    parts = draw(st.lists(SAFE_TEXT | st.sampled_from(HOSTILE), max_size=4))
    return '"' + "".join(parts).replace('"', "") + '"'


@st.composite
def base_stack(draw: st.DrawFn) -> Doc:
    doc = Doc()
    doc.table(("stack",), [("name", '"fuzz"')])
    n_vars = draw(st.integers(0, 3))
    if n_vars:
        entries = [("v0", '"out"')]
        for i in range(1, n_vars):
            entries.append((f"v{i}", draw(st.sampled_from(
                [f'"${{var.v{i - 1}}}/x"', "5", "true", '["a", "b"]', draw(basic_string())]))))
        doc.table(("vars",), entries)
    if draw(st.booleans()):
        doc.envs = ["dev", "prod"]
        doc.table(("environments", "dev"), [("default", "true")])
        prod: list[tuple[str, str]] = []
        if draw(st.booleans()):
            prod.append(("per_developer", "true"))
        if n_vars and draw(st.booleans()):
            prod.append(("vars", '{ v0 = "prod" }'))
        doc.table(("environments", "prod"), prod)
    for i in range(draw(st.integers(1, 4))):
        name = f"f{i}"
        doc.blocks.append(name)
        entries = [("path", f'"out/{name}.txt"'), ("content", draw(basic_string()))]
        if i and draw(st.booleans()):
            entries.append(("depends_on", f'["files.f{draw(st.integers(0, i - 1))}"]'))
        if draw(st.booleans()):
            entries.append(("mode", '"0640"'))
        doc.table(("files", name), entries)
    if draw(st.booleans()):
        doc.table(("pipelines", "p"), [("steps", f'["files.{doc.blocks[0]}"]')])
    return doc


# -- mutations: each makes one problem and says where ----------------------------------------

Mutation = Callable[[st.DrawFn, Doc], None]


def block_line(draw: st.DrawFn, doc: Doc, key: str = "path") -> Line:
    return doc.entry(("files", draw(st.sampled_from(doc.blocks))), key)


def unknown_key(draw: st.DrawFn, doc: Doc) -> None:
    block = draw(st.sampled_from(doc.blocks))
    line = doc.add_entry(("files", block), draw(st.sampled_from(["contnet", "pth", "x"])), "1")
    doc.expects.append(Expect((line,), 1, what="unknown key"))


def wrong_type(draw: st.DrawFn, doc: Doc) -> None:
    line = block_line(draw, doc, draw(st.sampled_from(["path", "content"])))
    value = draw(st.sampled_from(["5", "true", "[1, 2]", "{ a = 1 }", "1e999", "-inf",
                                  "99999999999999999999999999999999", "1979-05-27"]))
    line.text = f"{line.key} = {value}"
    doc.expects.append(Expect((line,), what="wrong type"))


def huge_mode(draw: st.DrawFn, doc: Doc) -> None:
    block = draw(st.sampled_from(doc.blocks))
    table = ("files", block)
    value = draw(st.sampled_from(["99999999999999999999999", "0o777", '"99999"', '""']))
    if any(x.table == table and x.key == "mode" for x in doc.lines):
        line = doc.entry(table, "mode")
        line.text = f"mode = {value}"
    else:
        line = doc.add_entry(table, "mode", value)
    doc.expects.append(Expect((line,), what="bad mode"))


def hostile_block_name(draw: st.DrawFn, doc: Doc) -> None:
    name = draw(st.sampled_from(['""', '"a b"', '"x.y"', '"9lives"', '"a\\u001b[31m"',
                                 '"\\u202eevil"', '"a\\rb"', '"\\u0000"']))
    header = doc.table(("files", name), [("path", '"x"'), ("content", '"y"')])
    doc.expects.append(Expect((header,), 1, what="invalid block name"))


def unknown_section(draw: st.DrawFn, doc: Doc) -> None:
    header = doc.table((draw(st.sampled_from(["fils", "nosuch", "loader"])), "x"), [("a", "1")])
    doc.expects.append(Expect((header,), 1, what="unknown section"))


def bad_var_name(draw: st.DrawFn, doc: Doc) -> None:
    name = draw(st.sampled_from(['""', '"a.b"', '"1x"', '"\\u001b"']))
    if any(x.table == ("vars",) for x in doc.lines):
        line = doc.add_entry(("vars",), name, "1")
    else:
        doc.table(("vars",), [(name, "1")])
        line = doc.entry(("vars",), name)
    doc.expects.append(Expect((line,), 1, what="invalid var name"))


def var_cycle(draw: st.DrawFn, doc: Doc) -> None:
    entries = [("ca", '"${var.cb}"'), ("cb", '"x-${var.ca}"')]
    if any(x.table == ("vars",) for x in doc.lines):
        lines = tuple(doc.add_entry(("vars",), k, v) for k, v in entries)
    else:
        doc.table(("vars",), entries)
        lines = tuple(doc.entry(("vars",), k) for k, _ in entries)
    if draw(st.booleans()):  # used or not, the cycle is reported at its var, once
        block_line(draw, doc, "content").text = 'content = "${var.ca}"'
    doc.expects.append(Expect(lines, what="var cycle"))


def dependency_cycle(draw: st.DrawFn, doc: Doc) -> None:
    if len(doc.blocks) < 2:
        doc.blocks.append("f9")
        doc.table(("files", "f9"), [("path", '"out/f9.txt"'), ("content", '""')])
    a, b = draw(st.permutations(doc.blocks))[:2]
    lines: list[Line] = []
    for block, other in ((a, b), (b, a)):
        table = ("files", block)
        if any(x.table == table and x.key == "depends_on" for x in doc.lines):
            line = doc.entry(table, "depends_on")
            line.text = f'depends_on = ["files.{other}"]'
        else:
            line = doc.add_entry(table, "depends_on", f'["files.{other}"]')
        lines.append(line)
    if doc.envs and draw(st.booleans()):
        # the cycle only in prod: its override adds the closing edge
        lines[1].text = "depends_on = []"
        header = doc.table(("environments", "prod", "override", "files", b),
                           [("depends_on", f'["files.{a}"]')])
        lines[1] = doc.lines[doc.number(header)]
    doc.expects.append(Expect(tuple(lines), what="dependency cycle"))


def unknown_reference(draw: st.DrawFn, doc: Doc) -> None:
    line = block_line(draw, doc, "content")
    ref = draw(st.sampled_from(["${var.nope}", "${stack.nme}", "${vars.x}", "${oops",
                                "${environ.STACKFORM_FUZZ_UNSET}", "${var.}"]))
    line.text = f'content = "{ref}"'
    doc.expects.append(Expect((line,), what="bad reference"))


def unknown_dependency(draw: st.DrawFn, doc: Doc) -> None:
    block = draw(st.sampled_from(doc.blocks))
    table = ("files", block)
    value = draw(st.sampled_from(['["files.zz"]', '["zz"]', '"files.f0"', f'["files.{block}"]',
                                  "[1]"]))
    if any(x.table == table and x.key == "depends_on" for x in doc.lines):
        line = doc.entry(table, "depends_on")
        line.text = f"depends_on = {value}"
    else:
        line = doc.add_entry(table, "depends_on", value)
    doc.expects.append(Expect((line,), what="bad depends_on"))


def secret_in_file_name(draw: st.DrawFn, doc: Doc) -> None:
    line = block_line(draw, doc)
    line.text = 'path = "out/${secret.token}.txt"'
    doc.expects.append(Expect((line,), 8, what="secret in a file name"))


def override_of_unknown_block(draw: st.DrawFn, doc: Doc) -> None:
    env = draw(st.sampled_from(doc.envs or ["dev"]))
    if not doc.envs:
        doc.envs = [env]
        doc.table(("environments", env), [])
    header = doc.table(("environments", env, "override", "files", "zz"), [("path", '"x"')])
    doc.expects.append(Expect((header,), 1, what="override of an unknown block"))


def deep_value(draw: st.DrawFn, doc: Doc) -> None:
    depth = draw(st.integers(2, 99))
    line = block_line(draw, doc, "content")
    line.text = "content = " + "[" * depth + "1" + "]" * depth
    doc.expects.append(Expect((line,), what="deeply nested value"))


def empty_pipeline_step(draw: st.DrawFn, doc: Doc) -> None:
    step = draw(st.sampled_from(['""', '"nope"', '"files.f0:"', '":x"']))
    header = doc.table(("pipelines", "q"), [("steps", f"[{step}]")])
    doc.expects.append(Expect((doc.lines[doc.number(header)],), what="bad step"))


SEMANTIC: list[Mutation] = [
    unknown_key, wrong_type, huge_mode, hostile_block_name, unknown_section, bad_var_name,
    var_cycle, dependency_cycle, unknown_reference, unknown_dependency, secret_in_file_name,
    override_of_unknown_block, deep_value, empty_pipeline_step,
]


def duplicate_key(draw: st.DrawFn, doc: Doc) -> None:
    first = draw(st.sampled_from([x for x in doc.lines if x.key is not None]))
    copy = doc.add_entry(first.table, first.key or "", "1")
    doc.expects.append(Expect((copy,), 1, syntax=True, what="duplicate key"))


def duplicate_table(draw: st.DrawFn, doc: Doc) -> None:
    first = draw(st.sampled_from([x for x in doc.lines if x.header]))
    again = doc.table(first.table, [("zz", "1")])
    doc.expects.append(Expect((again,), 1, syntax=True, what="duplicate table"))


def duplicate_inline_key(draw: st.DrawFn, doc: Doc) -> None:
    block = draw(st.sampled_from(doc.blocks))
    line = doc.add_entry(("files", block), "vars", "{ k = 1, k = 2 }")
    doc.expects.append(Expect((line,), 17, syntax=True, what="duplicate inline key"))


def raw_control_character(draw: st.DrawFn, doc: Doc) -> None:
    line = block_line(draw, doc, "content")
    char = draw(st.sampled_from(["\x1b", "\x00", "\x7f", "\x08", "\x0b"]))
    line.text = f'content = "a{char}b"'
    doc.expects.append(Expect((line,), syntax=True, what="raw control character"))


def garbage(draw: st.DrawFn, doc: Doc) -> None:
    # each wrong on its own line (an unclosed array would be reported where it ends)
    text = draw(st.sampled_from(["= = 1", "[unclosed", 'x = "unterminated', "x = ", "x = [1,,]",
                                 "x = {a = 1 b = 2}", "[[]]", "x = 1 2", "x = 0x",
                                 "x = 1979-13-45"]))
    at = draw(st.integers(1, len(doc.lines)))
    line = Line(text)
    doc.lines.insert(at, line)
    doc.expects.append(Expect((line,), syntax=True, what="garbage"))


def too_deep(draw: st.DrawFn, doc: Doc) -> None:
    line = block_line(draw, doc, "content")
    depth = draw(st.integers(101, 3000))
    line.text = "content = " + "[" * depth + "]" * depth
    doc.expects.append(Expect((line,), syntax=True, what="nested too deep"))


SYNTAX: list[Mutation] = [duplicate_key, duplicate_table, duplicate_inline_key,
                          raw_control_character, garbage, too_deep]


def bad_bytes(draw: st.DrawFn, doc: Doc) -> None:
    line = draw(st.sampled_from(doc.lines))
    index = draw(st.integers(0, len(line.text)))
    data = draw(st.sampled_from([b"\xff", b"\x80", b"\xc3(", b"\xe2\x82", b"\xed\xa0\x80",
                                 b"\xf8\x88\x80\x80\x80"]))
    doc.bad_bytes.append(BadByte(line, index, data))


@st.composite
def cases(draw: st.DrawFn) -> Doc:
    doc = draw(base_stack())
    # each at most once: twice, most would write the same table or key twice
    for mutation in draw(st.lists(st.sampled_from(SEMANTIC), max_size=3, unique=True)):
        mutation(draw, doc)
    if draw(st.integers(0, 3)) == 0:
        draw(st.sampled_from(SYNTAX))(draw, doc)
    if draw(st.integers(0, 7)) == 0:
        for _ in range(draw(st.integers(1, 2))):
            bad_bytes(draw, doc)
    return doc


# -- what validate does, in process ------------------------------------------------------------


def validate(path: Path) -> list[str]:
    """Load, then resolve and check the graph of the default and every declared environment,
    as ``stackform validate`` does; the environments checked."""
    stack_file = load_stack_file(path, REGISTRY)
    checked = []
    for env in [None, *(stack_file.data.get("environments") or {})]:
        stack = resolve(stack_file, env, REGISTRY, environ={}, strict_secrets=False,
                        developer="fuzz")
        checked_dependencies(stack_file, stack)
        checked.append(stack.env)
    return checked


UNSAFE = ("Cc", "Cf", "Cs", "Zl", "Zp")


def check(doc: Doc, path: Path) -> None:
    data = doc.render()
    path.write_bytes(data)
    n_lines = data.count(b"\n")
    try:
        validate(path)
    except ConfigError as exc:
        found = exc.diagnostics
    else:
        assert not doc.expects and not doc.bad_bytes, "a problem went unreported"
        return
    assert found
    try:
        tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):  # 3,000 [[[
        pass
    else:  # the duplicate check is ours: it must never refuse valid TOML
        assert not any(d.message.startswith("defined twice") for d in found)
    where: list[tuple[int, int]] = []
    for d in found:
        assert d.location is not None, d.format()
        assert d.location.file == path
        assert 1 <= d.location.line <= n_lines + 1 and d.location.column >= 1, d.format()
        shown = d.format()
        assert all(c == "\n" or unicodedata.category(c) not in UNSAFE for c in shown), shown
        where.append((d.location.line, d.location.column))
    if doc.bad_bytes:
        first = min((doc.number(b.line), len(b.line.text[:b.index]) + 1) for b in doc.bad_bytes)
        assert where == [first], (where, first)
        return
    syntax = [e for e in doc.expects if e.syntax]
    if syntax:
        [expect] = syntax
        assert len(where) == 1
        assert where[0][0] == doc.number(expect.lines[0]), (expect.what, where)
        if expect.column is not None:
            assert where[0][1] == expect.column, (expect.what, where)
        return
    allowed = {doc.number(line) for e in doc.expects for line in e.lines}
    for (line, column), d in zip(where, found, strict=True):
        assert line in allowed, (d.format(), sorted(allowed), [e.what for e in doc.expects])
        assert (line, column) != (1, 1), d.format()


# -- the tests -------------------------------------------------------------------------------

FUZZ = settings(derandomize=True, database=None, deadline=None, print_blob=True,
                suppress_health_check=list(HealthCheck))


def test_generated_stack_files_give_located_errors_and_never_a_traceback() -> None:
    seen: list[Doc] = []

    @settings(FUZZ, max_examples=IN_PROCESS_CASES)
    @given(cases())
    def run(doc: Doc) -> None:
        seen.append(doc)
        with TemporaryDirectory() as tmp:
            try:
                check(doc, Path(tmp) / "stack.toml")
            except AssertionError as exc:  # show the file, not the generator's data
                text = doc.render().decode("utf-8", "backslashreplace")
                raise AssertionError(f"{exc}\n--- stack.toml ---\n{text}") from None

    started = time.perf_counter()
    run()
    seconds = time.perf_counter() - started
    assert len(seen) >= IN_PROCESS_CASES
    mutated = sum(1 for d in seen if d.expects or d.bad_bytes)
    assert mutated > IN_PROCESS_CASES // 2, mutated
    print(f"\n{len(seen)} generated stack files ({mutated} mutated) in {seconds:.1f} s")


LOCATED = re.compile(r"^stack\.toml:\d+:\d+: (error|warning): ")


@pytest.mark.slow
def test_no_traceback_reaches_a_user_of_validate(tmp_path: Path) -> None:
    docs: list[Doc] = []

    @settings(FUZZ, max_examples=CLI_CASES, phases=[Phase.generate])
    @given(cases())
    def collect(doc: Doc) -> None:
        docs.append(doc)

    collect()
    assert len(docs) >= CLI_CASES
    home = tmp_path / "home"
    home.mkdir()
    runner = Runner(tmp_path, make_env(home))

    def validate_with_the_cli(n: int) -> tuple[bytes, Result]:
        folder = tmp_path / f"case{n}"
        folder.mkdir()
        data = docs[n].render()
        (folder / "stack.toml").write_bytes(data)
        return data, runner("validate", cwd=folder)

    # processes, not Python: a few at once keep this well under a minute
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(validate_with_the_cli, range(len(docs))))
    assert sum(result.code == 1 for _, result in results) > len(results) // 2
    for data, result in results:
        shown = f"{result}\n--- stack.toml ---\n{data.decode('utf-8', 'backslashreplace')}"
        assert result.code in (0, 1), shown
        assert "Traceback" not in result.output, shown
        assert "internal error" not in result.output, shown
        if result.code == 1:
            problems = [x for x in result.stderr.splitlines()
                        if x and not x.startswith(("    hint: ", "Error: ", "Warning: "))]
            assert problems and all(LOCATED.match(x) for x in problems), shown
