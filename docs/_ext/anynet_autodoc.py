"""autodoc, fitted to anynet's docstrings and re-exports, so the reference builds with warnings as errors.

* Docstrings write ``|x|`` for an absolute value; reStructuredText would read a substitution. Bars
  outside inline literals are escaped (anynet's docstrings use no substitutions).
* A constant's docstring is its type's (``dict``'s, ``int``'s): dropped. A dataclass's
  ``<factory>`` defaults show as ``...``, so the signature still parses.
* Google-style sections napoleon does not read are rewritten so it does: a qualified header
  (``Attributes (after fit):``), names wrapped over lines, and one text for many names (see
  :func:`google_sections` and :func:`name_groups`).
* Members a class inherits its code from outside anynet (scikit-learn's ``set_fit_request`` ...)
  are left out, and private base classes (``_BaseMLP``) are replaced by their public bases.
* A reference through a re-export path (``anynet.Backend.dtype``, ``anynet.layers.base.Layer``)
  resolves to where the object is documented (``anynet.backends.Backend.dtype``): the object is
  imported from the path and matched by identity against the documented names; a short name
  (``:class:`ActivationFn``` in :mod:`anynet.onnx`) is looked up in the module whose docstring holds
  it. A reference to a module without a page of its own (``anynet.layers.base``) goes to its
  package's page. A path that does not import, or an object documented nowhere, stays a broken
  reference.
* Names imported from other libraries only for type checking (``if TYPE_CHECKING: from onnx import
  ModelProto``) become ``autodoc_type_aliases``, so the signatures that use them still evaluate and
  their other annotations resolve (see :func:`type_checking_aliases`, called from ``conf.py``).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path
from typing import Any, TypeVar

_LITERAL = re.compile(r"(``.+?``)")
_BARS = re.compile(r"(?<![\\|])\|([^|\s][^|]*?)\|(?!\|)")


def escape_bars(line: str) -> str:
    """``|x|`` → ``\\|x\\|`` outside inline literals (``...``), so docutils reads no substitution."""
    parts = _LITERAL.split(line)
    return "".join(p if i % 2 else _BARS.sub(r"\\|\1\\|", p) for i, p in enumerate(parts))


def type_checking_aliases(package_dir: Path, package: str = "anynet") -> dict[str, str]:
    """``{name: "module.name"}`` for every name the package imports from another library under
    ``if TYPE_CHECKING:`` (``ModelProto``); a name imported from two different places is left out.

    The package's own names are left out: Sphinx renders an alias inside a union as
    ``TypeAliasForwardRef(...)``, and a signature that does not evaluate shows its annotations as
    written, which resolve as short references anyway."""
    found: dict[str, set[str]] = {}
    for path in sorted(Path(package_dir).rglob("*.py")):
        parts = list(path.relative_to(package_dir).with_suffix("").parts)
        here = [package, *parts[:-1]] if parts[-1] == "__init__" else [package, *parts][:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            test = getattr(node, "test", None)
            if not (isinstance(node, ast.If) and isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"):
                continue
            for imp in node.body:
                if isinstance(imp, ast.ImportFrom):
                    base = here[:len(here) - imp.level + 1] if imp.level else []
                    module = ".".join([*base, *([imp.module] if imp.module else [])])
                    for alias in imp.names:
                        found.setdefault(alias.asname or alias.name, set()).add(f"{module}.{alias.name}")
    return {name: next(iter(where)) for name, where in sorted(found.items())
            if len(where) == 1 and not next(iter(where)).startswith(package + ".")}


_TYPE = r"[\w.]+(?:\[[\w., |\[\]]*\])?"  # int, np.ndarray, dict[str, Any] ...
_SECTIONS = "Arguments|Args|Attributes|Returns|Raises|Shapes|Example|Examples|Note|Notes|Shared options"
_QUALIFIED = re.compile(rf"^(\s*)({_SECTIONS}) \((.+)\):\s*$")
_FIELDS = re.compile(r"^(\s*)(Arguments|Args|Attributes|Shared options)(?: \(.+\))?:\s*$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _field_start(text: str) -> bool:
    """Whether a line of an argument or attribute list starts a field: names (``a``, ``a, b``, ``a / b``,
    ``a (note)``) then a colon, not prose that happens to hold one."""
    names, sep, _ = text.partition(": ")
    if not sep and text.endswith(":"):
        names, sep = text[:-1], ":"
    names = re.sub(r"\s*\([^)]*\)", "", names)
    if not sep:  # the first line of names wrapped over several: "a, b (note),"
        return re.fullmatch(r"[\w*…]+(?:\s*[,/]\s*[\w*…]+)*,", names) is not None
    return re.fullmatch(r"[\w*…]+(?:\s*[,/]\s*[\w*…]+)*,?", names) is not None


def google_sections(lines: list[str]) -> list[str]:
    """Spellings of Google-style sections that napoleon does not read, rewritten so it does:

    * a qualified header, ``Attributes (after fit):``, becomes the note ``(after fit)`` and ``Attributes:``;
    * in an argument or attribute list, a line at the fields' indentation that does not start a field
      (names wrapped over lines, ``a, b,`` / ``c: text``, or prose going on) joins the line before it.
    """
    out: list[str] = []
    field_indent = None
    for line in lines:
        header = _FIELDS.match(line)
        if header:
            field_indent = len(header.group(1)) + 4
        elif line.strip() and _indent(line) < (field_indent or 0):
            field_indent = None
        qualified = _QUALIFIED.match(line)
        if qualified:
            pad, title, note = qualified.groups()
            out += [f"{pad}({note})", "", f"{pad}{title}:"]
            continue
        if (field_indent is not None and out and _indent(line) == field_indent and line.strip()
                and _indent(out[-1]) == field_indent and out[-1].strip()
                and (out[-1].rstrip().endswith(",") or not _field_start(line.strip()))):
            out[-1] = out[-1].rstrip() + " " + line.strip()
            continue
        out.append(line)
    return out


def prose_types(lines: list[str]) -> list[str]:
    """After napoleon: it reads an attribute's first line as ``type: text``; where that "type" is prose
    (``Gradients of the last pass: ...``), its ``:type:`` field goes back to being the text's start."""
    for i, line in enumerate(lines):
        match = re.fullmatch(r":type: (.+)", line)
        if match and not re.fullmatch(rf"{_TYPE}(?: \| {_TYPE})*", match.group(1)):
            rest = lines[:i] + lines[i + 1:]
            first = next((j for j, text in enumerate(rest) if text.strip()), None)
            if first is None:
                return [match.group(1)]
            rest[first] = f"{match.group(1)}: {rest[first].lstrip()}"
            while rest and not rest[-1].strip():
                rest.pop()
            return rest
    return lines


def _is_group(names: str) -> bool:
    """Whether a field's name part lists many names at once (napoleon would repeat the text for each)."""
    return names.count(",") >= 2 or "(" in names or "…" in names or not _field_start(names + ":")


def _literal_names(names: str) -> str:
    return ", ".join(re.sub(r"^(\w+)", r"``\1``", item.strip()) for item in names.split(","))


def name_groups(lines: list[str]) -> list[str]:
    """A field that describes many names at once (``a, b, …, z: as in scikit-learn.``, wrapped lines already
    joined by :func:`google_sections`) leaves its argument or attribute list and follows it as a paragraph
    (``Attributes a, b, …, z: as in scikit-learn.``): napoleon would give each name its own entry repeating
    the text, and read ``name (note)`` as a type. A list left empty loses its header."""
    out: list[str] = []
    pending: list[str] = []
    header_at = pad = field_indent = None
    title = ""
    moving = False

    def close() -> None:
        nonlocal field_indent
        if pending:
            while out and not out[-1].strip():
                out.pop()
            if header_at == len(out) - 1:
                out.pop()  # every field moved out: no empty section
                while out and not out[-1].strip():
                    out.pop()
            if out:
                out.append("")
            out.extend([*pending, ""])
            pending.clear()
        field_indent = None

    for line in lines:
        if field_indent is not None and line.strip() and _indent(line) < field_indent:
            close()
        header = _FIELDS.match(line)
        if header:
            close()
            pad, title, field_indent, header_at = header.group(1), header.group(2), len(header.group(1)) + 4, len(out)
        elif field_indent is not None and line.strip():
            if _indent(line) == field_indent:
                names, sep, text = line.strip().partition(": ")
                names = names.replace(" / ", ", ")  # "a / b: text" reads as two names
                moving = bool(sep) and _is_group(names)
                if moving:
                    pending.append(f"{pad}{title} {_literal_names(names)}: {text}")
                    continue
                if sep and "," in names and title == "Attributes":  # napoleon splits only arguments
                    out.extend(f"{line[:field_indent]}{name.strip()}: {text}" for name in names.split(","))
                    continue
                if sep:
                    line = f"{line[:field_indent]}{names}: {text}"
            elif moving:
                pending.append(f"{pad}{line.strip()}")
                continue
        out.append(line)
    close()
    return out


def process_docstring(app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    """Runs before napoleon (see ``setup``): napoleon then reads the sections as Google style."""
    if what in ("data", "attribute") and lines and obj.__doc__ is not None and obj.__doc__ == type(obj).__doc__:
        lines[:] = []  # a constant shows its own comment, not its type's docstring
        return
    lines[:] = [escape_bars(line) for line in name_groups(google_sections(lines))]


def process_docstring_after(app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    """Runs after napoleon (see ``setup``)."""
    if what in ("data", "attribute", "property"):
        lines[:] = prose_types(lines)


def process_signature(app: Any, what: str, name: str, obj: Any, options: Any, signature: str | None,
                      return_annotation: str | None) -> tuple[str | None, str | None] | None:
    """A dataclass field's default factory shows as ``<factory>``, which is not Python: Sphinx would then
    split the signature on every comma (``dict[str`` / ``int]``). ``...`` parses and says the same."""
    if signature and "<factory>" in signature:
        return signature.replace("<factory>", "..."), return_annotation
    return None


def _code_module(obj: Any) -> str | None:
    for attr in ("fget", "__func__"):
        obj = getattr(obj, attr, obj)
    return getattr(obj, "__module__", None)


def skip_member(app: Any, what: str, name: str, obj: Any, skip: bool, options: Any) -> bool | None:
    module = _code_module(obj)
    if what == "class" and isinstance(module, str) and module.split(".")[0] != "anynet":
        return True
    return None


def process_bases(app: Any, name: str, obj: Any, options: Any, bases: list[Any]) -> None:
    """Private bases (``_Described``) are replaced by their own public bases, recursively."""
    def public(cls: Any) -> list[Any]:
        if not getattr(cls, "__name__", "").startswith("_"):
            return [cls]
        return [b for base in cls.__bases__ for b in public(base)]

    new = list(dict.fromkeys(b for base in bases for b in public(base)))
    bases[:] = [b for b in new if b is not object] or [object]


def locate(path: str) -> Any:
    """The object at a dotted path: the longest importable module, then attributes. Raises LookupError."""
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except Exception:
            continue
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            raise LookupError(path) from None
        return obj
    raise LookupError(path)


def _documented(obj: Any, last: str, domain: Any, besides: str) -> Any:
    """The Python domain's entry (name, entry) documenting ``obj`` under a name ending in ``last``, or None."""
    for name, entry in domain.objects.items():
        if name != besides and name.startswith("anynet.") and name.rsplit(".", 1)[-1] == last:
            try:
                if locate(name) is obj:
                    return name, entry
            except LookupError:
                continue
    return None


def missing_reference(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    """Resolve references written through a re-export path, or by a short name the current module
    imports (see the module docstring)."""
    target = str(node.get("reftarget", ""))
    if node.get("refdomain") != "py" or not target or target.startswith("."):
        return None
    if target.startswith("anynet."):
        candidates = [target]
    else:  # a short name: what it means in the module (and class) whose docstring holds it
        module, cls = node.get("py:module"), node.get("py:class")
        if not module or not str(module).startswith("anynet"):
            return None
        candidates = [f"{module}.{cls}.{target}"] if cls else []
        candidates.append(f"{module}.{target}")
    from sphinx.util.nodes import make_refnode

    domain = env.get_domain("py")
    for path in candidates:
        try:
            obj = locate(path)
        except LookupError:
            continue
        if isinstance(obj, TypeVar):
            return contnode  # a type variable in a signature (``T``) has nothing to link to
        if inspect.ismodule(obj):
            # a module without a page of its own (anynet.layers.base): the page of the package holding it
            parts = obj.__name__.split(".")
            for i in range(len(parts) - 1, 0, -1):
                entry = domain.modules.get(".".join(parts[:i]))
                if entry is not None:
                    return make_refnode(app.builder, node["refdoc"], entry.docname, entry.node_id, contnode, path)
            return None
        found = _documented(obj, path.rsplit(".", 1)[-1], domain, besides=path)
        if found is not None:
            name, entry = found
            return make_refnode(app.builder, node["refdoc"], entry.docname, entry.node_id, contnode, name)
    return None


def setup(app: Any) -> dict[str, Any]:
    app.connect("autodoc-process-docstring", process_docstring, priority=400)  # before napoleon (500)
    app.connect("autodoc-process-docstring", process_docstring_after, priority=600)  # after napoleon
    app.connect("autodoc-process-signature", process_signature)
    app.connect("autodoc-skip-member", skip_member)
    app.connect("autodoc-process-bases", process_bases)
    app.connect("missing-reference", missing_reference)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
