"""Links inside the built site that lead nowhere, and viewcode's "[docs]" back-links made to resolve.

* :func:`broken_links` reads every HTML page of a built site and returns each link to another page of
  the site (or to the page itself) whose ``#anchor`` that page does not hold, or whose page does not
  exist. At ``build-finished`` the build fails naming each one: a broken link is a warning, and with
  ``-W`` (``tools/docs.sh``) an error.
* ``sphinx.ext.viewcode`` links each highlighted source object back to its documentation as
  ``<page>#<refname>.<name>``, with one ``refname`` per source module: the ``module`` of the first
  signature it read for that module. anynet documents an object at its *home* page
  (``anynet.layers.Dense``) while defining it in another module (``anynet.layers.dense``), and shows it
  again as an alias on other pages (``anynet.Dense``), so that first ``refname`` rarely fits, and the
  page named is whichever page was read last. :func:`add_source_ids` gives every signature a second
  id, ``<defining module>.<name>``, and remembers the page documenting each object in full (not an
  alias); :func:`point_back_links` then makes every back-link use that page and that id.

The functions above ``setup`` need no Sphinx, so ``tests/test_docs.py`` runs them on small inputs.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

# --- links to missing anchors ----------------------------------------------------------------------------------


class _Page(HTMLParser):
    """The ids (and old-style ``<a name>``) a page defines, and the hrefs it links to."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if value is None:
                continue
            if key == "id" or (tag == "a" and key == "name"):
                self.ids.add(value)
            elif tag == "a" and key == "href":
                self.hrefs.append(value)


def read_pages(root: Path) -> dict[str, _Page]:
    """Every ``*.html`` under ``root``, parsed, by its path relative to ``root`` (``/``-separated)."""
    pages = {}
    for path in sorted(Path(root).rglob("*.html")):
        page = _Page()
        page.feed(path.read_text(encoding="utf-8", errors="replace"))
        pages[path.relative_to(root).as_posix()] = page
    return pages


def broken_links(root: Path) -> list[tuple[str, str, str]]:
    """``(page, href, why)`` for each link inside the site at ``root`` that leads nowhere, sorted.

    A link is inside the site when it has no scheme and no host (``../api/x.html#name``, ``#name``).
    ``why`` is ``"no such page"`` or ``"no anchor NAME on PAGE"``. Links to files other than HTML pages
    (``_downloads/...``, images) are checked only for existing."""
    root = Path(root)
    pages = read_pages(root)
    found = []
    for name, page in pages.items():
        for href in page.hrefs:
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or href.startswith("//"):
                continue
            target = name if not parts.path else posixpath.normpath(
                posixpath.join(posixpath.dirname(name), unquote(parts.path)))
            if target.endswith("/"):
                target += "index.html"
            if target not in pages:
                if not (root / target).is_file() and not (root / target / "index.html").is_file():
                    found.append((name, href, "no such page"))
                continue
            anchor = unquote(parts.fragment)
            if anchor and anchor not in pages[target].ids:
                found.append((name, href, f"no anchor {anchor} on {target}"))
    return sorted(set(found))


# --- viewcode's back-links -------------------------------------------------------------------------------------


def source_id(modname: str, fullname: str) -> str:
    """The id a signature gets beside its own: where the object's code is (``anynet.layers.dense.Dense``)."""
    return f"{modname}.{fullname}"


def point_back_links(modules: dict[str, Any], homes: Mapping[tuple[str, str], str]) -> None:
    """Rewrite viewcode's record (``env._viewcode_modules``: source module -> ``(code, tags, used, refname)``
    or ``False``) in place so each back-link reads ``<home page>#<source module>.<name>``.

    ``homes`` maps ``(source module, name)`` to the page documenting that object in full. A name
    viewcode saw only on alias pages keeps the page viewcode chose; its id exists there too."""
    for modname, entry in modules.items():
        if not entry:
            continue
        code, tags, used, _refname = entry
        for fullname in used:
            home = homes.get((modname, fullname))
            if home is not None:
                used[fullname] = home
        modules[modname] = (code, tags, used, modname)


def _full_modname(modname: str, fullname: str) -> str | None:
    from sphinx.ext.viewcode import _get_full_modname

    return _get_full_modname(modname, fullname)


def add_source_ids(signatures: Iterable[Any], docname: str, aliases: set[str],
                   homes: dict[tuple[str, str], str]) -> None:
    """doctree-read: each Python signature (``desc_signature`` node) gets the id :func:`source_id` of
    the module defining its object, and ``homes`` learns ``docname`` for every object documented here in
    full (a name in ``aliases`` is only a pointer to its home)."""
    for sig in signatures:
        modname, fullname = sig.get("module"), sig.get("fullname")
        if not modname or not fullname:
            continue
        source = _full_modname(modname, fullname)
        if not source:
            continue
        extra = source_id(source, fullname)
        if extra not in sig["ids"]:
            sig["ids"].append(extra)
        if f"{modname}.{fullname.split('.')[0]}" not in aliases:
            homes[(source, fullname)] = docname


# --- Sphinx ----------------------------------------------------------------------------------------------------


def _doctree_read(app: Any, doctree: Any) -> None:
    from sphinx import addnodes

    env = app.env
    if not hasattr(env, "anynet_source_homes"):
        env.anynet_source_homes = {}
    signatures = [sig for desc in doctree.findall(addnodes.desc) if desc.get("domain") == "py"
                  for sig in desc if isinstance(sig, addnodes.desc_signature)]
    add_source_ids(signatures, env.docname, set(getattr(env, "anynet_api_aliases", ())), env.anynet_source_homes)


def _purge(app: Any, env: Any, docname: str) -> None:
    homes = getattr(env, "anynet_source_homes", {})
    for key in [k for k, page in homes.items() if page == docname]:
        del homes[key]


def _merge(app: Any, env: Any, docnames: Any, other: Any) -> None:
    env.anynet_source_homes = {**getattr(env, "anynet_source_homes", {}),
                               **getattr(other, "anynet_source_homes", {})}


def _collect_pages(app: Any) -> list[Any]:
    """html-collect-pages, before viewcode's: its back-links point at the homes."""
    point_back_links(getattr(app.env, "_viewcode_modules", {}), getattr(app.env, "anynet_source_homes", {}))
    return []


def _check_links(app: Any, exception: BaseException | None) -> None:
    """build-finished: every link inside the HTML site must reach its page and its anchor."""
    if exception is not None or app.builder.format != "html":
        return
    from sphinx.util import logging

    broken = broken_links(Path(app.outdir))
    if broken:
        shown = "\n".join(f"  {page}: {href} ({why})" for page, href, why in broken[:100])
        more = f"\n  ... and {len(broken) - 100} more" if len(broken) > 100 else ""
        logging.getLogger(__name__).warning(
            "%d link(s) in the built site lead nowhere (fix the page or the generator in docs/_ext):\n%s%s",
            len(broken), shown, more, type="anynet", subtype="links")
        app.statuscode = 1


def setup(app: Any) -> dict[str, Any]:
    app.connect("doctree-read", _doctree_read, priority=600)  # after viewcode's (500)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("html-collect-pages", _collect_pages, priority=400)  # before viewcode's (500)
    app.connect("build-finished", _check_links)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
