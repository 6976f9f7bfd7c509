"""``stackform invoke BLOCK -- ARGS``: a block's executable run by hand, with the environment's
rendered config and secrets, its output streamed and its exit code passed through.

The provider says how (:class:`~stackform.inspection.Invokes`); core runs it the way a run
runs a plugin: in a runtime folder under the environment's private folder (the files holding
secrets go there, owner-only, and the folder is removed afterwards, or swept by the next
command if stackform is killed), supervised (its own process group, killed with stackform:
:func:`stackform.supervise.popen`). Every known secret value is masked in what it prints
(:mod:`stackform.redact`): a tool printing its config shows ``***``.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable, Sequence
from typing import IO

from stackform.connector_blocks import find_capable
from stackform.errors import StackformError, os_reason
from stackform.fileio import atomic_write
from stackform.inspection import Invokes
from stackform.session import Session
from stackform.supervise import popen, runtime_folder, runtime_root, stop_group

STOP_GRACE = 5.0
"""Seconds a Ctrl-C'd command has to stop on SIGINT before it is killed."""


def invoke_block(session: Session, name: str, args: Sequence[str],
                 out: Callable[[str], None], err: Callable[[str], None]) -> int:
    """Run block ``name``'s executable with ``args``; ``out`` and ``err`` get its stdout and
    stderr line by line, secrets masked. Returns its exit code (128 + N for signal N)."""
    found = find_capable(session, name, Invokes, "invoke", "executable to invoke")
    provider: Invokes = found.provider
    from stackform.redact import stack_redactor

    redact = stack_redactor(session.stack)
    with runtime_folder(runtime_root(found.ctx.work_dir), "invoke", session.log) as runtime:
        how = provider.invocation(found.ctx, found.resource, found.prior, list(args), runtime)
        for file_name, text in how.files.items():
            atomic_write(runtime / file_name, text.encode(), 0o600, sync="never")
        session.log(f"invoke {found.resource.address}: {' '.join(how.argv)}")
        try:
            proc = popen(how.argv, runtime=runtime, env=how.env, cwd=how.cwd,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         errors="replace")
        except OSError as exc:
            raise StackformError(f"{found.resource.address}: cannot start {how.argv[0]}: "
                                 f"{os_reason(exc)}") from exc
        assert proc.stdout is not None and proc.stderr is not None
        pumps = [_pump(proc.stdout, out, redact), _pump(proc.stderr, err, redact)]
        try:
            code = proc.wait()
        except KeyboardInterrupt:
            stop_group(proc, STOP_GRACE)
            raise
        finally:
            for pump in pumps:
                pump.join(timeout=5)
    return code if code >= 0 else 128 - code


def _pump(stream: IO[str], write: Callable[[str], None],
          redact: Callable[[str], str]) -> threading.Thread:
    def pump() -> None:
        closed = False
        for line in stream:
            if closed:
                continue  # read on, so the command never blocks on a full pipe
            try:
                write(redact(line))
            except (BrokenPipeError, ValueError):
                closed = True  # our reader went away (`| head`): the command runs on

    thread = threading.Thread(target=pump, name="invoke-output", daemon=True)
    thread.start()
    return thread
