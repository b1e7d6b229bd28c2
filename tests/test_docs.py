"""Fast consistency checks of the documentation site's sources (docs/), without Sphinx.

The full build (`sphinx-build -W --keep-going -b html docs docs/_build/html`, the `docs` extra) runs in
CI as its own step; these checks catch the common breakages in well under a second: a toctree or
``{doc}`` link to a page that does not exist, an ``automodule`` of a module that was renamed or
removed, an API root that the reference no longer lists, the notebooks not reachable from docs/.
Pure Python: nothing here imports neuro, torch or sphinx.
"""

from __future__ import annotations

import ast
import functools
import re
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, as a package
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SOURCE_SUFFIXES = (".md", ".rst", ".ipynb")

# the body of a ```{toctree} fence (MyST) or of a .. toctree:: directive (reST)
MD_TOCTREE = re.compile(r"```\{toctree\}\n(.*?)```", re.S)
RST_TOCTREE = re.compile(r"^\.\. toctree::\n((?:[ \t]+.*\n|[ \t]*\n)*)", re.M)
DOC_ROLE = re.compile(r"\{doc\}`(?:[^`<]*<)?([^`>]+)>?`|:doc:`(?:[^`<]*<)?([^`>]+)>?`")
AUTOMODULE = re.compile(r"^\s*\.\. automodule:: ([\w.]+)", re.M)
MOD_ROLE = re.compile(r"\{(?:py:)?mod\}`~?([\w.]+)`|:mod:`~?([\w.]+)`")


def _rel(path: Path) -> str:
    """``path`` as the messages show it: relative to the repository when it is inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _sources() -> list[Path]:
    """The hand-written pages (the generated API stubs are build outputs)."""
    return [p for p in DOCS.rglob("*") if p.suffix in (".md", ".rst") and "generated" not in p.parts
            and "_build" not in p.parts and "notebooks" not in p.relative_to(DOCS).parts]


def _toctree_entries(page: Path) -> list[str]:
    text = page.read_text()
    blocks = MD_TOCTREE.findall(text) if page.suffix == ".md" else RST_TOCTREE.findall(text)
    entries = []
    for block in blocks:
        for line in block.splitlines():
            line = line.strip()
            if line and not line.startswith(":"):
                entries.append(line.split("<")[-1].rstrip(">").strip() if "<" in line else line)
    return entries


def _page(base: Path, name: str) -> Path | None:
    """The source file of docname ``name`` as referenced from ``base`` (relative, or from docs/ with a
    leading /), or None."""
    stem = DOCS / name.lstrip("/") if name.startswith("/") else base.parent / name
    for suffix in SOURCE_SUFFIXES:
        if stem.with_name(stem.name + suffix).exists():
            return stem.with_name(stem.name + suffix)
    return None


@functools.cache
def _setuptools_config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def _module_file(name: str) -> Path | None:
    """The file of module ``name`` under the package-dir mapping of pyproject.toml, or None."""
    mapping = _setuptools_config().get("package-dir", {})
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        prefix = ".".join(parts[:cut])
        if prefix in mapping:
            base = ROOT / mapping[prefix]
            rest = parts[cut:]
            break
    else:
        return None
    path = base.joinpath(*rest)
    for candidate in (path / "__init__.py", path.with_name(path.name + ".py")):
        if candidate.exists():
            return candidate
    return None


def _walk(page: Path, seen: set[Path]) -> None:
    """Every page reachable from ``page`` through toctrees (globs expanded), into ``seen``."""
    if page in seen or page.suffix == ".ipynb":
        seen.add(page)
        return
    seen.add(page)
    for entry in _toctree_entries(page):
        if "generated/" in entry:
            continue  # written at build time by docs/conf.py
        if any(ch in entry for ch in "*?["):
            matches = sorted(p for p in page.parent.glob(entry + ".*") if p.suffix in SOURCE_SUFFIXES)
            assert matches, f"{_rel(page)}: toctree glob {entry!r} matches no page"
            for match in matches:
                _walk(match, seen)
            continue
        target = _page(page, entry)
        assert target is not None, f"{_rel(page)}: toctree entry {entry!r} has no page"
        _walk(target, seen)


def test_every_page_in_the_toctrees_exists_and_every_page_is_reachable() -> None:
    seen: set[Path] = set()
    _walk(DOCS / "index.md", seen)
    orphans = [_rel(p) for p in _sources() if p not in seen and p.name != "README.md"]
    assert not orphans, f"pages in no toctree (a Sphinx warning, so -W fails): {orphans}"


def test_every_doc_link_points_to_a_page() -> None:
    for page in _sources():
        for match in DOC_ROLE.finditer(page.read_text()):
            name = (match.group(1) or match.group(2)).strip()
            assert _page(page, name) is not None, f"{_rel(page)}: {{doc}} link to {name!r}"


def test_every_module_the_pages_name_exists() -> None:
    named = 0
    for page in _sources():
        text = page.read_text()
        modules = AUTOMODULE.findall(text) + [a or b for a, b in MOD_ROLE.findall(text)]
        for module in modules:
            named += 1
            assert _module_file(module) is not None, f"{_rel(page)} names module {module}"
    assert named > 20  # the models' pages document their modules


def test_the_api_reference_lists_every_root_package() -> None:
    tree = ast.parse((DOCS / "conf.py").read_text())
    roots = next(ast.literal_eval(node.value) for node in ast.walk(tree) if isinstance(node, ast.Assign)
                 and any(getattr(t, "id", None) == "API_ROOTS" for t in node.targets))
    entries = _toctree_entries(DOCS / "api" / "index.rst")
    config = _setuptools_config()
    for root in roots:
        assert f"generated/{root}" in entries, f"docs/api/index.rst does not list {root}"
        assert _module_file(root) is not None, root
    # every top-level package directory of the distribution is under one of the roots
    for package in config["packages"]:
        assert any(package == r or package.startswith(r + ".") for r in roots), package


def test_the_notebooks_are_reachable_from_docs() -> None:
    link = DOCS / "notebooks"
    assert link.is_dir(), "docs/notebooks must be the notebooks/ folder (a symlink to ../notebooks)"
    assert link.resolve() == (ROOT / "notebooks").resolve()
    notebooks = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks and sorted(p.name for p in link.glob("*.ipynb")) == notebooks
    assert any("notebooks/" in e for e in _toctree_entries(DOCS / "tutorials.md"))


@pytest.mark.parametrize("name", ["neuro.nn.neurons", "neuro.kernels.lif_math", "neuro.datasets"])
def test_module_file_mapping(name: str) -> None:
    assert _module_file(name) is not None
    assert _module_file(name + ".does_not_exist") is None
