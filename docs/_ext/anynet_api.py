"""The API reference: one page per public module of anynet, generated from each module's ``__all__``.

The set of modules is found, not listed: every module under ``anynet/`` whose source assigns
``__all__`` at top level (read with :mod:`ast`, so a new module joins the reference by existing),
every module directly inside ``anynet/`` (the rows of docs/ARCHITECTURE.md) and every submodule an
``__all__`` names. A module without ``__all__`` shows the classes and functions it defines. A module
is public when no part of its dotted name starts with ``_``; private modules
(``anynet.backends._arrays``) hold the parts their package re-exports and get no page.

Each page lists its names in a table, then documents each name once: in full at its *home* (the
module that defines it, when that module exports it; otherwise the most specific module exporting
it), and as a short cross-referenced alias everywhere else (``anynet.load`` points to
``anynet.checkpoint.load``). After all pages are read, :func:`missing_names` compares every public
module's ``__all__`` with what the Python domain holds; a missing name fails the build with a
message naming it.

The functions above ``setup`` need neither Sphinx nor anynet, so ``tests/test_docs.py`` runs them
without building the site.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

PACKAGE = "anynet"
OUTPUT = "api/generated"  # under the Sphinx source folder; git-ignored (docs/.gitignore)


# --- which modules ---------------------------------------------------------------------------------------------


def module_name(path: Path, package_dir: Path, package: str = PACKAGE) -> str:
    """The dotted name of the module at ``path`` inside ``package_dir`` (``__init__.py``: the package)."""
    parts = list(path.relative_to(package_dir).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([package, *parts])


def defines_all(source: str) -> bool:
    """Whether Python source assigns ``__all__`` at module level (``=``, ``: list[str] =`` or ``+=``)."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            return True
    return False


def discover_modules(package_dir: Path, package: str = PACKAGE) -> list[str]:
    """Every module under ``package_dir`` that defines ``__all__``, private ones included, sorted."""
    found = []
    for path in sorted(Path(package_dir).rglob("*.py")):
        if defines_all(path.read_text(encoding="utf-8")):
            found.append(module_name(path, Path(package_dir), package))
    return sorted(found)


def top_level_modules(package_dir: Path, package: str = PACKAGE) -> list[str]:
    """The package and every public module or subpackage directly inside it (the architecture's rows),
    sorted; never ``__main__``, whose import would run the command line."""
    package_dir = Path(package_dir)
    files = [*package_dir.glob("*.py"), *package_dir.glob("*/__init__.py")]
    names = {module_name(p, package_dir, package) for p in files}
    return sorted({package} | {name for name in names if is_public(name)})


def is_public(modname: str) -> bool:
    """A module is public when no part of its dotted name starts with an underscore."""
    return not any(part.startswith("_") for part in modname.split("."))


def missing_names(expected: Mapping[str, Iterable[str]], documented: Container[str]) -> list[str]:
    """The fully qualified names that ``expected`` (module -> its ``__all__``) asks for and ``documented``
    (e.g. the Python domain's objects) lacks; each module must be documented itself too. Sorted."""
    missing = []
    for modname, names in expected.items():
        for qualified in (modname, *(f"{modname}.{name}" for name in names)):
            if qualified not in documented:
                missing.append(qualified)
    return sorted(set(missing))


# --- what goes on each page ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One name on one module's page.

    ``kind`` is ``"module"`` (a submodule, documented on its own page), ``"home"`` (documented here in
    full) or ``"alias"`` (documented in full at ``target``, the home's qualified name).
    """

    module: str
    name: str
    kind: str
    target: str

    @property
    def qualified(self) -> str:
        return f"{self.module}.{self.name}"


def own_names(module: ModuleType) -> list[str]:
    """A module's public names: its ``__all__``, or, without one, the classes and functions it defines."""
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return [name for name, obj in vars(module).items()
            if not name.startswith("_") and (inspect.isclass(obj) or inspect.isfunction(obj))
            and getattr(obj, "__module__", None) == module.__name__]


def page_modules(modules: Mapping[str, ModuleType]) -> dict[str, ModuleType]:
    """The modules that get a page: the public ones given, plus every public submodule their
    ``__all__`` names (``anynet.training`` is named by ``anynet.__all__``), sorted by name."""
    pages = {name: mod for name, mod in modules.items() if is_public(name)}
    todo = list(pages.values())
    while todo:
        mod = todo.pop()
        for name in getattr(mod, "__all__", ()):
            obj = getattr(mod, name, None)
            if inspect.ismodule(obj) and is_public(obj.__name__) and obj.__name__ not in pages:
                pages[obj.__name__] = obj
                todo.append(obj)
    return dict(sorted(pages.items()))


def plan(modules: Mapping[str, ModuleType]) -> dict[str, list[Entry]]:
    """The entries of each page (``modules``: the page modules, see :func:`page_modules`), in name order,
    submodules last.

    A name's home is the module defining it when that module lists it; otherwise the module with the
    longest dotted name among those listing it (the most specific), the first in name order on a tie.
    A name that is missing from its module is left out here; :func:`missing_names` reports it.
    """
    sentinel = object()
    places: dict[tuple[int, str], list[str]] = {}
    objects: dict[tuple[int, str], Any] = {}
    for modname, mod in modules.items():
        for name in own_names(mod):
            obj = getattr(mod, name, sentinel)
            if obj is not sentinel and not inspect.ismodule(obj):
                key = (id(obj), name)  # the name too: equal small ints or strings are one object
                places.setdefault(key, []).append(modname)
                objects[key] = obj
    home: dict[tuple[int, str], str] = {}
    for key, where in places.items():
        defining = getattr(objects[key], "__module__", None)
        home[key] = defining if defining in where else sorted(where, key=lambda m: (-m.count("."), m))[0]
    pages: dict[str, list[Entry]] = {}
    for modname, mod in modules.items():
        entries = []
        for name in sorted(own_names(mod), key=lambda n: (inspect.ismodule(getattr(mod, n, None)), n.lower())):
            obj = getattr(mod, name, sentinel)
            if obj is sentinel:
                continue
            if inspect.ismodule(obj):
                entries.append(Entry(modname, name, "module", obj.__name__))
                continue
            where = home[(id(obj), name)]
            entries.append(Entry(modname, name, "home", f"{where}.{name}") if where == modname
                           else Entry(modname, name, "alias", f"{where}.{name}"))
        pages[modname] = entries
    return pages


# --- the pages, in reStructuredText ----------------------------------------------------------------------------


_SHORT_ROLE = re.compile(r":(py:)?(\w+):`(~?)(\w+)`")


def summary(obj: Any) -> str:
    """The first paragraph of an object's own docstring on one line ("" when it has none).

    A class's docstring may name its own members briefly (``:meth:`update```); out of the class, in the
    page's table, such a reference is spelled out (``:meth:`~anynet.optim.Optimizer.update```)."""
    doc = obj.__doc__ if (inspect.isclass(obj) or inspect.isroutine(obj) or inspect.ismodule(obj)) else None
    if not doc or (not inspect.ismodule(obj) and doc == type(obj).__doc__):
        return ""
    from anynet_autodoc import escape_bars

    paragraph = inspect.cleandoc(doc).split("\n\n")[0]
    text = escape_bars(" ".join(line.strip() for line in paragraph.splitlines()))
    if inspect.isclass(obj):
        def spell_out(m: re.Match[str]) -> str:
            prefix, role, _, name = m.groups()
            if not hasattr(obj, name):
                return m.group(0)
            return f":{prefix or ''}{role}:`~{obj.__module__}.{obj.__qualname__}.{name}`"

        text = _SHORT_ROLE.sub(spell_out, text)
    return text


def _role(obj: Any) -> tuple[str, str]:
    """(cross-reference role, description directive) of a documented object."""
    if inspect.ismodule(obj):
        return "mod", "module"
    if inspect.isclass(obj):
        return ("exc", "exception") if issubclass(obj, BaseException) else ("class", "class")
    if inspect.isroutine(obj):
        return "func", "function"
    return "data", "data"


def _simple(value: Any) -> bool:
    """Whether a module constant's value is short enough to show beside its name."""
    if isinstance(value, (bool, int, float, str)):
        return len(repr(value)) <= 60
    if isinstance(value, (tuple, frozenset)):
        return len(repr(value)) <= 60 and all(_simple(v) for v in value)
    return False


def render(modname: str, module: ModuleType, entries: list[Entry]) -> str:
    """The reStructuredText page of one module."""
    title = f"``{modname}``"
    lines = [f".. _api-{modname}:", "", title, "=" * len(title), "",
             f".. automodule:: {modname}", "   :no-members:", ""]
    if entries:
        lines += [".. list-table::", "   :widths: 30 70", ""]
        for e in entries:
            obj = getattr(module, e.name)
            role, _ = _role(obj)
            target = e.target if e.kind == "module" else e.qualified
            text = summary(obj) or ("the same object as " + f":py:{role}:`{e.target}`" if e.kind == "alias" else "")
            lines += [f"   * - :py:{role}:`~{target}`", f"     - {text}" if text else "     -"]
        lines.append("")
    for e in entries:
        obj = getattr(module, e.name)
        role, directive = _role(obj)
        if e.kind == "module":
            continue  # documented on its own page; the table links to it
        if e.kind == "alias":
            lines += [f".. py:{directive}:: {e.name}", f"   :module: {modname}", "   :no-index-entry:", "",
                      f"   The same object as :py:{role}:`{e.target}`, documented there.", ""]
        elif directive in ("class", "exception"):
            lines += [f".. auto{directive}:: {e.qualified}", "   :members:", "   :show-inheritance:", ""]
        elif directive == "function":
            lines += [f".. autofunction:: {e.qualified}", ""]
        else:
            lines += [f".. autodata:: {e.qualified}"]
            if not _simple(obj):
                lines.append("   :no-value:")
            lines.append("")
    return "\n".join(lines)


def write_if_changed(path: Path, text: str) -> None:
    """Write ``text`` unless the file already holds it (an unchanged file keeps Sphinx's cache valid)."""
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


# --- Sphinx ----------------------------------------------------------------------------------------------------


def _import(package: str) -> dict[str, ModuleType]:
    """Every module defining ``__all__`` and every top-level module, imported."""
    package_dir = Path(importlib.import_module(package).__file__).parent  # type: ignore[arg-type]
    names = set(discover_modules(package_dir, package)) | set(top_level_modules(package_dir, package))
    return {name: importlib.import_module(name) for name in sorted(names)}


def generate(app: Any) -> None:
    """builder-inited: write one page per module into ``<srcdir>/api/generated`` and drop stale pages."""
    modules = _import(PACKAGE)
    pages = page_modules(modules)
    entries = plan(pages)
    out = Path(app.srcdir) / OUTPUT
    wanted = {f"{name}.rst" for name in pages}
    for name, mod in pages.items():
        write_if_changed(out / f"{name}.rst", render(name, mod, entries[name]))
    for old in out.glob("*.rst"):
        if old.name not in wanted:
            old.unlink()
    app.env.anynet_api_expected = {name: list(mod.__all__) for name, mod in modules.items()
                                   if is_public(name) and hasattr(mod, "__all__")}
    app.env.anynet_api_aliases = sorted(e.qualified for page in entries.values() for e in page if e.kind == "alias")


def check(app: Any, env: Any) -> None:
    """env-check-consistency: every name of every public ``__all__`` must be in the Python domain.

    A missing name is reported as a warning naming it, and fails the build even without ``-W`` (the
    exit status is 1); with ``--keep-going`` the build still reports every other problem first.
    Alias entries are marked as aliases in the domain first, like ``:canonical:`` names: a short
    reference (``:exc:`ConfigError```) then finds the one full entry instead of several.
    """
    from sphinx.util import logging

    objects = env.get_domain("py").objects
    for name in getattr(env, "anynet_api_aliases", ()):
        if name in objects:
            objects[name] = objects[name]._replace(aliased=True)
    missing = missing_names(getattr(env, "anynet_api_expected", None) or {}, objects)
    if missing:
        logging.getLogger(__name__).warning(
            "%d public name(s) missing from the API reference: %s (each must be importable from its module, "
            "and every name in a module's __all__ must exist)", len(missing), ", ".join(missing),
            type="anynet", subtype="api")
        app.statuscode = 1


def setup(app: Any) -> dict[str, Any]:
    app.connect("builder-inited", generate)
    app.connect("env-check-consistency", check)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
