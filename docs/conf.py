"""Sphinx configuration of neuro's documentation site.

Build: ``sphinx-build -W --keep-going -b html docs docs/_build/html`` (``pip install -e ".[docs]"``).

The API reference is generated from the docstrings by ``sphinx.ext.autodoc`` (with ``napoleon`` for
the Google-style ``Args:`` / ``Returns:`` sections): at every build, :func:`_write_api_pages` walks the
public modules of ``neuro`` (``neuro.kernels`` and ``neuro.datasets`` included, which live in
``kernels/`` and ``datasets/``) and writes one ``.. automodule::`` page per module to
``docs/api/generated/`` (not committed). It does not use autosummary's recursive mode, which resolves
a submodule through its parent's attributes and so documents the function ``neuro.encoding.rate``
instead of the module of that name. The docstrings' reStructuredText roles (``:math:``, ``:func:``,
``:class:``, ...) are rendered as written. The tutorials are ``notebooks/*.ipynb`` (through the
``docs/notebooks`` link), rendered by MyST-NB without executing them (they are committed without
outputs and executed by ``tests/test_notebooks.py``). The build is nitpicky: with ``-W`` a reference
to a neuro object that does not exist fails it.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import pkgutil
import re
import sys
from pathlib import Path

from sphinx.errors import PycodeError
from sphinx.ext.napoleon import _process_docstring as _napoleon_process_docstring
from sphinx.pycode import ModuleAnalyzer

import neuro

project = "neuro"
author = "the neuro authors"
copyright = "the neuro authors, BSD-3-Clause"  # noqa: A001 (Sphinx's name)
release = version = getattr(neuro, "__version__", "0.1.0")

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_nb",  # Markdown pages (MyST) and notebooks
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"
exclude_patterns = ["_build", "**/.ipynb_checkpoints", "Thumbs.db", ".DS_Store"]

# --- API reference -------------------------------------------------------------------------------
# the packages whose public modules get a page (neuro.kernels and neuro.datasets are installed from
# kernels/ and datasets/, so they are not under neuro.__path__ in an editable install)
API_ROOTS = ("neuro", "neuro.kernels", "neuro.datasets")
API_DIR = Path(__file__).parent / "api" / "generated"
# Every object is documented once, on the page of the module that defines it (ignore-module-all:
# a package's ``__all__`` re-exports are listed on the package page as links, see
# _package_exports); undocumented members are listed too, so that references to them resolve.
autodoc_default_options = {"members": True, "undoc-members": True, "show-inheritance": True,
                           "ignore-module-all": True}
autodoc_inherit_docstrings = False  # torch's docstrings (forward, backward, ...) are not ours
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_class_signature = "mixed"
autoclass_content = "class"
autodoc_preserve_defaults = True  # show `dt=1e-3`, not the evaluated object reprs
# optional extras the API pages can be built without (mocked only when they are not installed)
_OPTIONAL = ["tonic", "nir", "nirtorch", "nest", "dm_control", "mujoco", "numba_cuda", "xylosim"]
autodoc_mock_imports = [name for name in _OPTIONAL if importlib.util.find_spec(name) is None]

napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_attr_annotations = True

# Broken references to neuro's own objects fail the build (-W); names of other libraries are not
# resolvable without network access (no intersphinx), so their references are ignored by pattern.
nitpicky = True
_EXTERNAL = (
    "torch", "numpy", "np", "numba", "h5py", "matplotlib", "tqdm", "sklearn", "scipy", "tonic", "nir",
    "nirtorch", "nest", "dm_control", "mujoco", "gymnasium", "typing", "typing_extensions",
    "collections", "dataclasses", "pathlib", "os", "enum", "abc", "types", "contextlib", "concurrent",
    "threading", "argparse", "io", "logging", "random", "numbers", "functools", "json", "csv",
    "builtins", "subprocess", "signal", "multiprocessing", "queue",
)
nitpick_ignore_regex = [
    ("py:.*", rf"({'|'.join(_EXTERNAL)})(\..*)?"),
    # private modules and names are left out of the reference on purpose; type variables
    ("py:.*", r"(.*\.)?_[A-Za-z].*"),
    ("py:.*", r"(neuro\.[\w.]+\.)?[A-Z]"),
    # pieces of subscripted annotations as napoleon splits them: ``tuple[int, ...]``
    ("py:.*", r".*[\[\]].*|\.\.\."),
    # prose that napoleon reads as a type ("w_min / w_max: bounds", "Other keyword arguments: ..."):
    # a target with spaces, "/", "=", backquotes or only digits is never a Python name
    ("py:.*", r".*[\s/=`*].*|\d+|"),
    # methods that torch.nn.Module gives every module
    ("py:meth", r"(named_)?(parameters|buffers|modules|children)|state_dict|load_state_dict"),
    # builtins and typing names as they appear in annotations and napoleon's type fields
    ("py:.*", r"(int|float|bool|str|bytes|object|None|type|tuple|list|dict|set|frozenset|slice|"
              r"complex|callable|Callable|Any|Optional|Union|Sequence|Mapping|Iterable|Iterator|"
              r"Generator|Literal|NamedTuple|Path|Tensor|ndarray|array_like|optional|Ellipsis|"
              r"Self|TypeVar|Protocol|ClassVar|Number|Module|Parameter|Device|dtype|device|PathLike)"),
]

# --- Markdown and notebooks --------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
nb_execution_mode = "off"  # committed without outputs; tests/test_notebooks.py executes them
nb_merge_streams = True

# --- HTML ------------------------------------------------------------------------------------------
html_theme = "furo"
html_title = "neuro"
html_static_path: list[str] = []


# --- neuro's docstring conventions -----------------------------------------------------------------
def _package_exports(app, what, name, obj, options, lines):
    """Append to a package's docstring links to its ``__all__`` names, where they are documented (on
    the page of the module that defines them, or on this page for names defined in private modules,
    see :func:`_private_exports`)."""
    if what != "module" or not hasattr(obj, "__path__") or not getattr(obj, "__all__", None):
        return
    here = dict(_private_exports(obj))
    links = []
    for export in obj.__all__:
        member = getattr(obj, export, None)
        if inspect.ismodule(member):
            links.append(f":mod:`~{member.__name__}`")
            continue
        role = "class" if inspect.isclass(member) else "func" if callable(member) else "data"
        if export in here:
            links.append(f":{role}:`{export} <{obj.__name__}.{export}>`")
            continue
        module = getattr(member, "__module__", None)
        qualname = getattr(member, "__qualname__", None)
        if role != "data" and module and qualname and module.split(".")[0] == "neuro":
            links.append(f":{role}:`{export} <{module}.{qualname}>`")
        else:  # data: the resolver finds the module that defines it (_canonical)
            links.append(f":{role}:`{export} <{obj.__name__}.{export}>`")
    lines.extend(["", ".. rubric:: Exported names", "", ", ".join(links), ""])


def _napoleon_except_data(app, what, name, obj, options, lines):
    """napoleon, except on attribute, property and data docstrings: there it would read the text
    before the first colon ("Tsodyks-Markram parameters of Maass et al. (2002): U, D, F", "Backward
    transfer: ...") as a type."""
    if what not in ("attribute", "data", "property"):
        _napoleon_process_docstring(app, what, name, obj, options, lines)
    elif what == "data" and lines and name.rsplit(".", 1)[-1] not in _attr_docs(name.rsplit(".", 1)[0]):
        # a constant without a ``#:`` comment or docstring would show its type's docstring
        # ("dict() -> new empty dictionary", numpy's ndarray): it has none of its own
        lines[:] = []


def _canonical(name: str, role: str = "obj") -> str | None:
    """Where a neuro object is documented: ``neuro.nn.LIF`` (a re-export) is ``neuro.nn.neurons.LIF``,
    ``neuro.nn.LIF.forward`` is ``neuro.nn.neurons.LIF.forward``; a module is itself; data is found
    in the module whose globals define it. None when ``name`` is not a neuro object. Unless ``role`` is
    ``"mod"``, an attribute wins over a submodule of the same name (``:func:`neuro.encoding.rate```
    is the function the package exports, not the module)."""
    parts = name.split(".")
    if parts[0] != "neuro":
        return None
    cuts = list(range(len(parts), 0, -1))  # the longest importable module prefix
    if role != "mod" and len(parts) > 1:
        cuts = cuts[1:] + cuts[:1]
    for cut in cuts:
        module_name = ".".join(parts[:cut])
        try:
            obj = importlib.import_module(module_name)
        except Exception:  # noqa: BLE001 (not a module, or a module that needs a missing extra)
            continue
        break
    else:
        return None
    rest = parts[cut:]
    home = module_name
    for i, attr in enumerate(rest):
        if not hasattr(obj, attr):
            return None
        obj = getattr(obj, attr)
        if inspect.ismodule(obj):
            home = obj.__name__
        elif inspect.isclass(obj) or inspect.isfunction(obj):
            module = getattr(obj, "__module__", None) or home
            return ".".join([module, obj.__qualname__, *rest[i + 1:]])
        elif i == len(rest) - 1:  # data: the module among neuro's that assigns it (re-exports bind it too)
            owners = [m for m, mod in list(sys.modules.items())
                      if m.startswith("neuro.") and vars(mod).get(attr, None) is obj
                      and attr in _assigned_names(mod)]
            owners.sort(key=lambda m: (m != home, len(m)))
            return f"{owners[0]}.{attr}" if owners else f"{home}.{attr}"
        else:
            return None
    return home


def _resolve_relative(app, env, node, contnode):
    """Resolve a Python reference that the domain did not find: relative to the referring module and
    its parent packages (``:mod:`aeif_math``` written in ``neuro.kernels.adex_math`` is
    ``neuro.kernels.aeif_math``), through a name the referring module imports, and through re-exports
    (``:class:`neuro.nn.LIF``` is documented as ``neuro.nn.neurons.LIF``). A target found nowhere
    stays unresolved, and fails the nitpicky build."""
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "").lstrip(".~")
    module = node.get("py:module") or ""
    klass = node.get("py:class") or ""
    domain = env.get_domain("py")
    candidates = [target]
    parts = module.split(".") if module else []
    if klass and parts:
        candidates.append(f"{module}.{klass}.{target}")
    while parts:
        candidates.append(".".join(parts) + "." + target)
        parts.pop()
    # a name imported into the referring module, or defined there
    source = sys.modules.get(module)
    head = target.split(".")[0]
    if source is not None and hasattr(source, head):
        obj = getattr(source, head)
        home = getattr(obj, "__name__", None) if inspect.ismodule(obj) else getattr(obj, "__module__", None)
        if home and inspect.ismodule(obj):
            candidates.append(home + target[len(head):])
        elif home and hasattr(obj, "__qualname__"):
            candidates.append(f"{home}.{obj.__qualname__}{target[len(head):]}")
    for candidate in list(candidates):
        canonical = _canonical(candidate, node["reftype"])
        if canonical:
            candidates.append(canonical)
    for candidate in candidates:
        if candidate in domain.objects or candidate in domain.modules:
            return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], candidate,
                                       node.copy(), contnode)
    # a name given without its module or class (``:meth:`begin_task``` in a module docstring,
    # ``:class:`NeuronParameters``` in neuro.nn): the documented object whose full name ends with it,
    # searched in the referring module, its package, then all of neuro (unique matches only there)
    match = _suffix_match(domain, target, module)
    if match:
        return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], match,
                                   node.copy(), contnode)
    # an annotated field without a class-level value (``:attr:`GeneratedModel.key```, a dataclass
    # field): the page of its class
    if "." in target:
        owner, attr = target.rsplit(".", 1)
        for candidate in [c[: -len(attr) - 1] for c in candidates if c.endswith("." + target)] + [
                _suffix_match(domain, owner, module)]:
            klass_obj = _object(candidate) if candidate else None
            if inspect.isclass(klass_obj) and attr in _fields(klass_obj) and candidate in domain.objects:
                return domain.resolve_xref(env, node["refdoc"], app.builder, "class", candidate,
                                           node.copy(), contnode)
    return None


def _suffix_match(domain, target: str, module: str) -> str | None:
    target = target.rstrip("()")
    if not module or not target:
        return None
    scopes = [module + ".", module.rsplit(".", 1)[0] + "." if "." in module else None, "neuro."]
    for i, scope in enumerate(scopes):
        if scope is None:
            continue
        matches = sorted((o for o in domain.objects if o.startswith(scope) and o.endswith("." + target)),
                         key=lambda o: (o.count("."), o))
        if matches and (i == 0 or len(matches) == 1):
            return matches[0]
    return None


def _object(name: str):
    """The object of a dotted neuro name, or None."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except Exception:  # noqa: BLE001
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr, None)
        return obj
    return None


def _fields(klass) -> set[str]:
    """The annotated fields of a class and its bases (dataclass and NamedTuple fields included)."""
    names: set[str] = set()
    for base in inspect.getmro(klass):
        names.update(getattr(base, "__annotations__", {}))
    return names


# --- the API pages --------------------------------------------------------------------------------
def public_modules(root: str) -> list[str]:
    """``root`` and its public submodules, recursively, sorted (names with a part starting with ``_``,
    ``__main__`` included, are private and left out)."""
    package = importlib.import_module(root)
    names = [root]
    for info in pkgutil.walk_packages(getattr(package, "__path__", []), prefix=root + "."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


def _summary(module_name: str) -> str:
    """The first line of a module's docstring, its roles turned into literals (the line is shown on the
    parent's page, where relative references would not resolve)."""
    doc = inspect.getdoc(importlib.import_module(module_name)) or ""
    line = doc.strip().split("\n")[0] if doc.strip() else ""
    line = re.sub(r":[\w:]+:`~?([^`<]*?)(?:\s*<[^>]*>)?`", r"``\1``", line)
    return line.replace("|", "\\|")


def _title(name: str) -> str:
    text = re.sub(r"([_*`|\\])", r"\\\1", name)
    return f"{text}\n{'=' * len(text)}\n"


def _is_private_module(module_name: str | None) -> bool:
    return not module_name or any(part.startswith("_") for part in module_name.split("."))


def _private_exports(module) -> list[tuple[str, str]]:
    """``(name, directive)`` for the ``__all__`` names of ``module`` that are neuro classes or functions
    defined in a private module (``neuro.ops.NonFiniteError`` is ``neuro.ops._launch``'s): documented
    on this module's page, since no page documents the private module."""
    out = []
    for export in getattr(module, "__all__", ()):
        member = getattr(module, export, None)
        home = getattr(member, "__module__", None)
        if not (inspect.isclass(member) or inspect.isfunction(member)) or not home:
            continue
        if home.split(".")[0] == "neuro" and _is_private_module(home):
            if inspect.isclass(member):
                directive = "autoexception" if issubclass(member, BaseException) else "autoclass"
            else:
                directive = "autofunction"
            out.append((export, directive))
    return out


_MODULE_DATA: dict[str, list[tuple[str, bool]]] = {}
_ATTR_DOCS: dict[str, set[str]] = {}


def _attr_docs(module_name: str) -> set[str]:
    """The module-level names documented in the source (``#:`` comments, docstrings after them)."""
    if module_name not in _ATTR_DOCS:
        try:
            docs = ModuleAnalyzer.for_module(module_name).find_attr_docs()
            _ATTR_DOCS[module_name] = {attr for (scope, attr) in docs if scope == ""}
        except PycodeError:
            _ATTR_DOCS[module_name] = set()
    return _ATTR_DOCS[module_name]
_ASSIGNED: dict[str, list[str]] = {}


def _assigned_names(module) -> list[str]:
    """The public names a module assigns at its top level (``NAME = ...``, ``NAME: T = ...``)."""
    if module.__name__ not in _ASSIGNED:
        names: list[str] = []
        try:
            path = inspect.getsourcefile(module)
            tree = ast.parse(Path(path).read_text()) if path else None
        except (OSError, TypeError, SyntaxError):
            tree = None
        for node in tree.body if tree else []:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] \
                if isinstance(node, ast.AnnAssign) and node.value is not None else []
            for target in targets:
                if isinstance(target, ast.Name) and not target.id.startswith("_") and target.id not in names:
                    names.append(target.id)
        _ASSIGNED[module.__name__] = names
    return _ASSIGNED[module.__name__]


def _module_data(module) -> list[tuple[str, bool]]:
    """:func:`_find_module_data`, cached per module."""
    if module.__name__ not in _MODULE_DATA:
        _MODULE_DATA[module.__name__] = _find_module_data(module)
    return _MODULE_DATA[module.__name__]


def _find_module_data(module) -> list[tuple[str, bool]]:
    """``(name, show_value)`` for the public globals a module assigns at its top level and does not
    document with a ``#:`` comment (autodoc leaves undocumented data out even with ``undoc-members``;
    documenting them makes ``:data:`` references to them resolve)."""
    documented = _attr_docs(module.__name__)
    names = _assigned_names(module)
    out = []
    for attr in names:
        if attr in documented or not hasattr(module, attr):
            continue
        value = getattr(module, attr)
        if (inspect.ismodule(value) or inspect.isclass(value) or inspect.isroutine(value)
                or hasattr(value, "py_func") or type(value).__module__ in ("typing", "types")):
            continue  # aliases of documented objects, jitted kernels (autodoc lists those), type aliases
        text = repr(value)
        out.append((attr, len(text) <= 60 and "\n" not in text and " at 0x" not in text))
    return out


def _module_page(name: str, modules: list[str]) -> str:
    """One module's page: its docstring and members (autodoc), then its direct submodules."""
    children = [m for m in modules if m.rsplit(".", 1)[0] == name and m != name]
    lines = [_title(name), f".. automodule:: {name}", ""]
    module = importlib.import_module(name)
    for export, directive in _private_exports(module):
        lines += [f".. {directive}:: {name}.{export}", ""]
    for attr, show_value in _module_data(module):
        lines += [f".. autodata:: {name}.{attr}"] + ([] if show_value else ["   :no-value:"]) + [""]
    if children:
        lines += [".. rubric:: Modules", "", ".. list-table::", "   :widths: 30 70", ""]
        for child in children:
            lines += [f"   * - :mod:`{child}`", f"     - {_summary(child)}"]
        lines += ["", ".. toctree::", "   :hidden:", ""] + [f"   {child}" for child in children]
    return "\n".join(lines) + "\n"


def _write_api_pages(app=None) -> None:
    """Write ``docs/api/generated/<module>.rst`` for every public module of :data:`API_ROOTS`; a file
    is rewritten only when its text changes (incremental builds stay incremental) and pages of
    modules that no longer exist are removed (they would be orphans, a warning)."""
    modules = sorted({m for root in API_ROOTS for m in public_modules(root)})
    API_DIR.mkdir(parents=True, exist_ok=True)
    wanted = {}
    for name in modules:
        wanted[API_DIR / f"{name}.rst"] = _module_page(name, modules)
    for path in API_DIR.glob("*.rst"):
        if path not in wanted:
            path.unlink()
    for path, text in wanted.items():
        if not path.exists() or path.read_text() != text:
            path.write_text(text)


def setup(app):
    for listener in list(app.events.listeners.get("autodoc-process-docstring", [])):
        if listener.handler is _napoleon_process_docstring:
            app.disconnect(listener.id)
    app.connect("autodoc-process-docstring", _napoleon_except_data)
    app.connect("autodoc-process-docstring", _package_exports)
    app.connect("missing-reference", _resolve_relative)
    app.connect("builder-inited", _write_api_pages)
