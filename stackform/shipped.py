"""Where files of the source tree that stackform ships are: its docs and first-party connectors.

One rule, for an installed wheel and a source checkout alike: a path ``P`` of the source tree
(``docs/singer.md``, ``providers/tap-stackform-jsonl``) is ``shipped_root() / P``.

* The wheel carries those files under ``stackform/_shipped/`` at the same relative paths
  (``[tool.hatch.build.targets.wheel.force-include]`` in ``pyproject.toml``), so the root is
  that folder of the installed package.
* A source checkout (and an editable install of one) has no ``stackform/_shipped/``: the root
  is the checkout itself, the folder holding the ``stackform`` package.
"""

from __future__ import annotations

from pathlib import Path

from stackform.errors import StackformError

PACKAGE_DIR = Path(__file__).resolve().parent
WHEEL_ROOT = PACKAGE_DIR / "_shipped"


def shipped_root() -> Path:
    """``stackform/_shipped`` of an installed wheel, else the source checkout."""
    return WHEEL_ROOT if WHEEL_ROOT.is_dir() else PACKAGE_DIR.parent


def shipped(*parts: str) -> Path:
    """The shipped copy of a source-tree path: ``shipped("docs", "singer.md")``."""
    return shipped_root().joinpath(*parts)


def doc_pages() -> dict[str, Path]:
    """The documentation pages shipped with stackform: ``{"singer": .../docs/singer.md}``."""
    folder = shipped("docs")
    return {p.stem: p for p in sorted(folder.glob("*.md"))} if folder.is_dir() else {}


def doc_page(name: str) -> Path:
    """One page by name (``singer``, ``stack-file.md`` and ``docs/singer.md`` work too)."""
    pages = doc_pages()
    stem = Path(name).name.removesuffix(".md")
    if stem in pages:
        return pages[stem]
    raise StackformError(f"no documentation page '{name}'",
                         hint=f"pages: {', '.join(pages) or 'none shipped with this install'}")
