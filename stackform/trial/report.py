"""The report of ``stackform test`` three ways: console rows, JUnit XML (read natively by
GitHub Actions and GitLab CI), and a markdown section for the merge-request comment."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from stackform.trial.model import TrialReport

_MARK = {"passed": "✅", "failed": "❌", "error": "💥", "skipped": "⏭️"}
PHASES = ("apply", "runs", "dbt", "checks", "destroy")


def summary_line(report: TrialReport) -> str:
    counts: dict[str, int] = {}
    for check in report.checks:
        counts[check.outcome] = counts.get(check.outcome, 0) + 1
    told = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items())) or "no checks"
    verdict = "passed" if report.passed else "interrupted" if report.interrupted else "failed"
    where = ("kept" if report.kept else "destroyed" if report.destroyed
             else "NOT destroyed")
    return f"stackform test {verdict} in {report.env}: {told}; environment {where}"


def table_rows(report: TrialReport) -> list[list[str]]:
    return [[c.name, c.outcome, f"{c.seconds:.1f}s", (c.message.splitlines() or [""])[0]]
            for c in report.checks]


def phase_line(report: TrialReport) -> str:
    return ", ".join(f"{p} {report.phases[p]:.1f}s" for p in PHASES if p in report.phases)


def junit_xml(report: TrialReport) -> str:
    """One ``testsuite`` named after the environment, one ``testcase`` per check."""
    suite = ET.Element("testsuite", {
        "name": f"stackform test ({report.env})",
        "tests": str(len(report.checks)),
        "failures": str(sum(c.outcome == "failed" for c in report.checks)),
        "errors": str(sum(c.outcome == "error" for c in report.checks)),
        "skipped": str(sum(c.outcome == "skipped" for c in report.checks)),
        "time": f"{sum(report.phases.get(p, 0.0) for p in PHASES if p != 'dbt'):.3f}",
    })
    for check in report.checks:
        case = ET.SubElement(suite, "testcase", {"classname": f"stackform.{check.group}",
                                                 "name": check.name,
                                                 "time": f"{check.seconds:.3f}"})
        if check.outcome in ("failed", "error"):
            tag = "failure" if check.outcome == "failed" else "error"
            first = (check.message.splitlines() or [check.outcome])[0]
            node = ET.SubElement(case, tag, {"message": first[:500]})
            node.text = check.message
        elif check.outcome == "skipped":
            ET.SubElement(case, "skipped", {"message": check.message})
    if report.interrupted:
        ET.SubElement(suite, "system-err").text = "interrupted"
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")[:300]


def markdown(report: TrialReport) -> str:
    """A section for the merge-request comment (beside the plan)."""
    verdict = "passed" if report.passed else "failed"
    lines = [f"### stackform test: {_MARK['passed' if report.passed else 'failed']} "
             f"{verdict}", "",
             f"Throwaway environment `{report.env}` (from `{report.base}`): "
             + summary_line(report).split(": ", 1)[1] + ".", "",
             "| check | outcome | time | detail |", "| --- | --- | --- | --- |"]
    for check in report.checks:
        lines.append(f"| {_cell(check.name)} | {_MARK[check.outcome]} {check.outcome} | "
                     f"{check.seconds:.1f}s | {_cell(check.message)} |")
    if report.phases:
        lines += ["", f"Time: {phase_line(report)}."]
    return "\n".join(lines) + "\n"
