"""Run a tap into a target through an OS pipe, saving each bookmark the target confirms.

stackform never relays records: the tap's stdout is the target's stdin, or the first mapper's
when mappers come between (:mod:`.chain`: ``tap | mapper | ... | target``, all OS pipes). It
reads the target's stdout, where a Singer target prints each state it has committed, and stores
every one at once; every stderr stream goes to the run's log, and the tap's ``METRIC`` lines
give the number of records it emitted. When any process fails the run fails; when the target
dies the tap and the mappers are stopped; Ctrl-C stops the tap first so the target can commit
what it has, and no process is left behind. All run supervised (:mod:`stackform.supervise`): a
``kill -9`` of stackform kills them too.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from stackform.plugins.installs import Venv
from stackform.plugins.kit import (
    failure_summary,
    install,
    plugin_dir,
    plugin_environ,
    runtime_dir,
    write_private,
)
from stackform.provider import RunContext, RunStep, typed_config
from stackform.runs.model import RunStatus, StepOutcome, bookmark_key
from stackform.state.model import utc_now
from stackform.supervise import popen
from stackform_singer.catalog import apply_selection, catalog_digest
from stackform_singer.catalog.schema import apply_schema
from stackform_singer.chain import Mapper, prepare_mappers, split_chain, start_mappers
from stackform_singer.config import ExtractorConfig, LoaderConfig
from stackform_singer.discovery import discover
from stackform_singer.landing import (
    Counter,
    Counts,
    landing_warning,
    rows_by_stream,
    rows_landed,
    snapshot,
    wants_snapshot,
)
from stackform_singer.plugin import executable_name, full_config
from stackform_singer.sample import Sampler, sampler_for
from stackform_singer.selection import require_selected_stream
from stackform_singer.warehouse_columns import keep as keep_columns

DRAIN_SECONDS = 60.0
"""After Ctrl-C or a tap failure, how long the target may take to commit what it received."""


class _Stderr(threading.Thread):
    """Copies one process's stderr into the run log, counting the tap's emitted records."""

    def __init__(self, stream: IO[bytes], prefix: str, run: RunContext) -> None:
        super().__init__(name=f"stderr-{prefix}", daemon=True)
        self.stream = stream
        self.prefix = prefix
        self.runctx = run
        self.records: dict[str, int] = {}
        self.saw_metrics = False
        self.tail: list[str] = []

    def run(self) -> None:
        for raw in iter(self.stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.runctx.log(f"[{self.prefix}] {line}")
            self.tail = [*self.tail[-39:], line]
            if "METRIC" in line:
                self._metric(line)

    def _metric(self, line: str) -> None:
        _, _, payload = line.partition("METRIC:")
        try:
            metric = json.loads(payload.strip())
        except json.JSONDecodeError:
            return
        if metric.get("metric") != "record_count" or metric.get("type") != "counter":
            return
        tags = metric.get("tags") or {}
        stream = tags.get("stream") or tags.get("endpoint") or tags.get("stream_name")
        if not stream and tags.get("table"):  # pipelinewise taps: {"database", "table"}
            stream = "-".join(str(tags[k]) for k in ("database", "table") if tags.get(k))
        stream = str(stream or "?")
        self.saw_metrics = True
        self.records[stream] = self.records.get(stream, 0) + int(metric.get("value") or 0)


def _catalog(run: RunContext, tap: RunStep, env: dict[str, str]) -> Path:
    """The selected catalog apply made; rediscovered when this machine does not have it."""
    path = plugin_dir(run.ctx, tap.resource.address) / "catalog.json"
    expected = tap.state.outputs.get("catalog_digest")
    if path.exists():
        current = json.loads(path.read_text())
        if catalog_digest(current) == expected:
            return path
    config = typed_config(tap.resource, ExtractorConfig)
    run.say(f"{tap.resource.address}: no catalog from apply on this machine; discovering")
    discovered = apply_schema(discover(run.ctx, tap.resource, tap.state.outputs["executable"],
                                       env), config.schema_overrides)
    selected = apply_selection(discovered, config.select, config.metadata)
    if catalog_digest(selected) != expected:
        run.say(f"warning: {tap.resource.address}: the tap's catalog changed since apply")
        run.log(f"# warning: catalog of {tap.resource.address} differs from the applied one")
    write_private(path, selected)
    return path


def _stop(proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    if proc.poll() is not None:
        return
    try:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    except ProcessLookupError:
        pass


@dataclass(frozen=True)
class _Pair:
    """An extractor step and the loader step after it, installed and ready to run."""

    name: str
    key: str
    """The bookmark's key."""
    tap: RunStep
    target: RunStep
    tap_venv: Venv
    target_venv: Venv
    tap_env: dict[str, str]
    target_env: dict[str, str]
    tap_exe: str
    target_exe: str
    catalog: Path
    counter: Counter
    """Counts the rows landed; started before the run, so its driver import overlaps it."""
    mappers: tuple[Mapper, ...] = ()


@dataclass
class _Flow:
    """What happened while the pair ran: the bookmarks the target confirmed, how each process
    ended, and what each wrote to stderr."""

    tap_err: _Stderr
    target_err: _Stderr
    mapper_errs: list[_Stderr] = field(default_factory=list)
    mapper_codes: list[int | None] = field(default_factory=list)
    states: int = 0
    last_state: Any = None
    interrupted: bool = False
    tap_code: int | None = None
    target_code: int | None = None

    def confirmed(self, run: RunContext, key: str, value: dict[str, Any]) -> None:
        """The target committed up to ``value``: it is the bookmark now."""
        run.bookmarks.put(key, value)
        self.last_state = value
        self.states += 1


def run_pair(run: RunContext, steps: Sequence[RunStep]) -> tuple[int, StepOutcome]:
    """Run the extractor step ``steps[0]`` through the mapper steps after it into the loader
    step that ends the chain; all consumed."""
    pair = _prepare(run, steps)
    try:
        prior = None if run.full_refresh else run.bookmarks.get(pair.key)
        # Without arrival times on the rows, what landed is the tables' growth: count first.
        before = (snapshot(run, pair.target, pair.target_venv, pair.counter)
                  if wants_snapshot(pair.target) else None)
        started_at = utc_now()
        started = time.monotonic()
        run.say(f"{pair.name}: starting" + (" (full refresh)" if run.full_refresh else
                                            " from the last bookmark" if prior else ""))
        with runtime_dir(run.ctx, "run") as tmp:
            flow = _run_processes(run, pair, tmp, prior)
        seconds = time.monotonic() - started
        return 2 + len(pair.mappers), _outcome(run, pair, flow, seconds, prior, started_at,
                                               before)
    finally:
        pair.counter.close()


def _prepare(run: RunContext, steps: Sequence[RunStep]) -> _Pair:
    """Both plugins installed, their executables and environments, and the tap's catalog."""
    tap = steps[0]
    mapper_steps, target = split_chain(run, steps)
    mappers = prepare_mappers(run, mapper_steps)
    tap_venv = install(run.ctx, tap.resource)
    target_venv = install(run.ctx, target.resource)
    tap_env = plugin_environ(tap_venv, tap.resource)
    target_env = plugin_environ(target_venv, target.resource)
    tap_exe = str(tap_venv.executable(executable_name(
        typed_config(tap.resource, ExtractorConfig), tap_venv)))
    target_exe = str(target_venv.executable(executable_name(
        typed_config(target.resource, LoaderConfig), target_venv)))
    counter = Counter(run, target, target_venv)
    try:
        catalog = _catalog(run, tap, tap_env)
        require_selected_stream(run, tap, catalog)
    except BaseException:
        counter.close()
        raise
    return _Pair(name=f"{tap.resource.name}-to-{target.resource.name}",
                 key=tap.step.bookmark or bookmark_key(run.pipeline, tap.resource.name),
                 tap=tap, target=target, tap_venv=tap_venv, target_venv=target_venv,
                 tap_env=tap_env, target_env=target_env, tap_exe=tap_exe, target_exe=target_exe,
                 catalog=catalog, counter=counter, mappers=mappers)


def _run_processes(run: RunContext, pair: _Pair, tmp: Path, prior: Any) -> _Flow:
    """Start the chain, store the bookmarks the target confirms, and wait for all to end."""
    sampler = sampler_for(run, pair.catalog)  # only `stackform test --sample N` relays
    tap_proc, mapper_procs, target_proc = _start(run, pair, tmp, prior, sampler)
    assert tap_proc.stderr and target_proc.stderr and target_proc.stdout
    flow = _Flow(_Stderr(tap_proc.stderr, "tap", run),
                 _Stderr(target_proc.stderr, "target", run))
    for mapper, proc in zip(pair.mappers, mapper_procs, strict=True):
        assert proc.stderr
        flow.mapper_errs.append(_Stderr(proc.stderr, f"mapper {mapper.name}", run))
    for err in (flow.tap_err, *flow.mapper_errs, flow.target_err):
        err.start()
    upstream = [tap_proc, *mapper_procs]
    try:
        _read_bookmarks(run, pair, tap_proc, target_proc, flow)
        flow.target_code = target_proc.wait()
        if flow.target_code != 0 and any(p.poll() is None for p in upstream):
            run.log(f"# target exited {flow.target_code}; stopping the tap")
            for proc in upstream:
                _stop(proc)
        # Each process ends when the one before it does (end of its input): tap first.
        deadline = time.monotonic() + DRAIN_SECONDS
        codes: list[int] = []
        for proc in upstream:
            try:
                codes.append(proc.wait(timeout=max(0.1, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                _stop(proc)
                codes.append(proc.wait())
        flow.tap_code, flow.mapper_codes = codes[0], list(codes[1:])
    finally:
        for proc in (*upstream, target_proc):
            _stop(proc, 2.0)
        for err in (flow.tap_err, *flow.mapper_errs, flow.target_err):
            err.join(5)
    if sampler is not None:
        sampler.join()
        flow.tap_err.records, flow.tap_err.saw_metrics = sampler.records, True
        flow.tap_code = 0 if sampler.stopped_tap else flow.tap_code
    return flow


def _start(run: RunContext, pair: _Pair, tmp: Path, prior: Any, sampler: Sampler | None = None
           ) -> tuple[subprocess.Popen[bytes], list[subprocess.Popen[bytes]],
                      subprocess.Popen[bytes]]:
    """The tap, the mappers and the target, each one's stdout piped into the next's stdin
    (with ``sampler``, the tap's through its relay)."""
    # Gone with the run (its runtime folder): no wait for the disk.
    write_private(tmp / "tap.json", full_config(pair.tap.resource), sync="never")
    write_private(tmp / "target.json", full_config(pair.target.resource), sync="never")
    tap_cmd = [pair.tap_exe, "--config", str(tmp / "tap.json"),
               str(pair.tap.state.outputs.get("catalog_flag") or "--catalog"), str(pair.catalog)]
    if prior is not None:
        write_private(tmp / "state.json", dict(prior), sync="never")
        tap_cmd += ["--state", str(tmp / "state.json")]
    through = "".join(f" | {m.exe}" for m in pair.mappers)
    run.log(f"# {pair.name}: {' '.join(tap_cmd[:1])}{through} | {pair.target_exe}")
    # Temp files the plugins make (a target's staged batches) go where a killed run's
    # leftovers are swept, not into the machine's /tmp.
    private_tmp = tmp / "tmp"
    private_tmp.mkdir(mode=0o700)
    tmpdir = {"TMPDIR": str(private_tmp)}
    read_end, write_end = (os.pipe() if sampler is None
                           else (sampler.target_stdin, sampler.tap_stdout))
    target_in = read_end
    tap_proc = target_proc = None
    mapper_procs: list[subprocess.Popen[bytes]] = []
    try:
        # Supervised: own sessions (a terminal's Ctrl-C reaches stackform only, which stops
        # the tap first and lets the target commit instead of killing both mid-batch), and
        # killed with this thread if stackform dies, so no load goes on unrecorded.
        tap_proc = popen(tap_cmd, runtime=tmp, stdin=subprocess.DEVNULL, stdout=write_end,
                         stderr=subprocess.PIPE, env={**pair.tap_env, **tmpdir},
                         cwd=run.ctx.stack_dir)
        if sampler is None:  # the sampler closes its own ends
            os.close(write_end)
        write_end = -1
        target_in = start_mappers(pair.mappers, tmp, read_end, tmpdir, run.ctx.stack_dir,
                                  mapper_procs)
        target_proc = popen([pair.target_exe, "--config", str(tmp / "target.json")],
                            runtime=tmp, stdin=target_in, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**pair.target_env, **tmpdir},
                            cwd=run.ctx.stack_dir)
    finally:
        ours = {target_in} - {read_end} | ({read_end, write_end} if sampler is None else set())
        for fd in ours - {-1}:
            os.close(fd)
        if sampler is not None and (target_proc is None or tap_proc is None):
            sampler.close_all()
        elif sampler is not None and tap_proc is not None:
            sampler.close_child_ends()
            sampler.start(tap_proc)
        if target_proc is None:
            for proc in (tap_proc, *mapper_procs):
                if proc is not None:
                    _stop(proc, 1.0)
    return tap_proc, mapper_procs, target_proc


def _read_bookmarks(run: RunContext, pair: _Pair, tap_proc: subprocess.Popen[bytes],
                    target_proc: subprocess.Popen[bytes], flow: _Flow) -> None:
    """Store each state the target prints as it comes. On Ctrl-C, stop the tap and give the
    target up to :data:`DRAIN_SECONDS` to commit what it received."""
    assert target_proc.stdout
    try:
        for raw in iter(target_proc.stdout.readline, b""):
            value = _state_line(run, raw)
            if value is not None:
                flow.confirmed(run, pair.key, value)
    except KeyboardInterrupt:
        flow.interrupted = True
        run.say(f"{pair.name}: stopping the tap; the target commits what it has")
        _stop(tap_proc)
        deadline = time.monotonic() + DRAIN_SECONDS
        for raw in iter(target_proc.stdout.readline, b""):
            try:
                value = json.loads(raw)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                flow.confirmed(run, pair.key, value)
            if time.monotonic() > deadline:
                break


def _state_line(run: RunContext, raw: bytes) -> dict[str, Any] | None:
    """The state a line of the target's stdout confirms; other lines go to the log."""
    text = raw.decode("utf-8", "replace").strip()
    if not text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        run.log(f"[target stdout] {text}")
        return None
    if isinstance(value, dict) and value.get("type") == "STATE":
        value = value.get("value")  # a target that echoes whole messages
    if not isinstance(value, dict):
        run.log(f"[target stdout] {text}")
        return None
    return value


def _status(flow: _Flow) -> tuple[RunStatus, str | None]:
    """How the chain ended: interrupted, failed (the target's failure first, then the mappers'
    from the last), or success."""
    if flow.interrupted:
        return "interrupted", "stopped by the user"
    if flow.target_code != 0:
        tail = failure_summary(chr(10).join(flow.target_err.tail))
        return "failed", f"target exited {flow.target_code}: {tail}"
    for err, code in reversed(list(zip(flow.mapper_errs, flow.mapper_codes, strict=True))):
        if code != 0:
            tail = failure_summary(chr(10).join(err.tail))
            return "failed", f"{err.prefix} exited {code}: {tail}"
    if flow.tap_code != 0:
        tail = failure_summary(chr(10).join(flow.tap_err.tail))
        return "failed", f"tap exited {flow.tap_code}: {tail}"
    return "success", None


def _outcome(run: RunContext, pair: _Pair, flow: _Flow, seconds: float, prior: Any,
             started_at: str, before: Counts | None) -> StepOutcome:
    """The step's outcome, also said on the console in one line."""
    status, error = _status(flow)
    emitted = sum(flow.tap_err.records.values()) if flow.tap_err.saw_metrics else None
    details: dict[str, Any] = {"records_by_stream": flow.tap_err.records, "states": flow.states,
                               "bookmark_key": pair.key}
    landed = None
    counted = ""
    if status == "success":
        landed, counted = _landed(run, pair, emitted, started_at, before, details)
    report = [f"{pair.name}: {status} in {seconds:.1f}s",
              f"{emitted} records emitted" if emitted is not None
              else "records emitted: unknown (the tap logged no record_count metric)"]
    if status == "success":
        report.append(f"{landed} rows landed{counted}" if landed is not None
                      else "rows landed: unknown")
    if flow.states:
        report.append("bookmark moved" if flow.last_state != prior else "bookmark unchanged")
    run.say(", ".join(report))
    return StepOutcome(name=pair.name, status=status, seconds=round(seconds, 3),
                       records_emitted=emitted, rows_landed=landed,
                       bookmark_moved=flow.states > 0 and flow.last_state != prior, error=error,
                       details=details)


def _landed(run: RunContext, pair: _Pair, emitted: int | None, started_at: str,
            before: Counts | None, details: dict[str, Any]) -> tuple[int | None, str]:
    """The rows the run landed and how they were counted (added to ``details``); a warning
    when they do not match the records emitted."""
    # With the columns: the lineage's confirmation after the run then reads nothing again.
    result = rows_landed(run, pair.target, pair.target_venv, started_at, before, pair.counter,
                         columns=True)
    if result.columns is not None and (schema := pair.counter.schema) is not None:
        keep_columns(run.ctx, pair.target.resource, schema, result.columns, run.run_id)
    details["rows_landed_by"] = result.how
    if result.rows is not None:
        details["rows_by_stream"] = rows_by_stream(details["records_by_stream"], result)
    counted = ""
    if result.how == "unknown":
        run.log(f"# rows landed: unknown: {result.why}")
    elif result.how == "delta":
        counted = " (tables' growth)"
    # Mappers may filter, split or rename records: emitted and landed need not match.
    warning = (None if pair.mappers else
               landing_warning(pair.name, emitted, result.rows, result.how))
    if warning:
        details["warning"] = warning
        run.say(f"warning: {warning}")
        run.log(f"# warning: {warning}")
    return result.rows, counted

