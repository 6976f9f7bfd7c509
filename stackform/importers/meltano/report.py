"""The import's report: every decision, where its input was written, in text, markdown or JSON.

Four categories: ``mapped`` (what became what), ``dropped`` (what has no place in a stack and
why), ``person`` (what needs a person before the stack works: a package to name, a secret to
store, a variable to set) and ``warning`` (what was wrong in the Meltano project: a dangling
reference, an unknown key). Values are never quoted in it, so no secret reaches it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Literal

Category = Literal["mapped", "dropped", "person", "warning"]
CATEGORIES: tuple[Category, ...] = ("person", "warning", "dropped", "mapped")
_TITLES = {
    "person": "Needs a person",
    "warning": "Warnings",
    "dropped": "Dropped",
    "mapped": "Mapped",
}


@dataclass(frozen=True)
class Entry:
    """One decision: its category, where the input was (``meltano.yml:12``), about what
    (``plugins.extractors.tap-x``), and what was decided."""

    category: Category
    where: str
    subject: str
    message: str


@dataclass
class Report:
    """The decisions of one import, in the order they were made."""

    entries: list[Entry] = field(default_factory=list)

    def add(self, category: Category, where: str, subject: str, message: str) -> None:
        entry = Entry(category, where, subject, message)
        if entry not in self.entries:
            self.entries.append(entry)

    def mapped(self, where: str, subject: str, message: str) -> None:
        self.add("mapped", where, subject, message)

    def dropped(self, where: str, subject: str, message: str) -> None:
        self.add("dropped", where, subject, message)

    def person(self, where: str, subject: str, message: str) -> None:
        self.add("person", where, subject, message)

    def warning(self, where: str, subject: str, message: str) -> None:
        self.add("warning", where, subject, message)

    def of(self, category: Category) -> list[Entry]:
        return [e for e in self.entries if e.category == category]

    def counts(self) -> dict[str, int]:
        return {c: len(self.of(c)) for c in CATEGORIES}

    def text(self) -> list[str]:
        """Lines for the console: the sections that need reading first."""
        out: list[str] = []
        for category in CATEGORIES:
            entries = self.of(category)
            if not entries:
                continue
            out.append(f"{_TITLES[category]} ({len(entries)}):")
            out.extend(f"  {e.where}: {e.subject}: {e.message}" for e in entries)
        return out

    def markdown(self, source: str, output: str) -> str:
        counts = self.counts()
        lines = [f"# Meltano import: {source} -> {output}", "",
                 ", ".join(f"{counts[c]} {_TITLES[c].lower()}" for c in CATEGORIES), ""]
        for category in CATEGORIES:
            entries = self.of(category)
            if not entries:
                continue
            lines += [f"## {_TITLES[category]}", "", "| where | what | decision |",
                      "| --- | --- | --- |"]
            lines += [f"| `{e.where}` | `{e.subject}` | {_cell(e.message)} |" for e in entries]
            lines.append("")
        return "\n".join(lines)

    def json(self, source: str, output: str) -> str:
        doc = {"source": source, "output": output, "counts": self.counts(),
               "entries": [asdict(e) for e in self.entries]}
        return json.dumps(doc, indent=2) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
