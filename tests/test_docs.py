"""The documentation site's own code (docs/_ext): module discovery, the check that every public name is
in the API reference, the docstring fixes, the figure scraper, the benchmark chart, the check for links
to missing anchors and viewcode's back-links. The site itself is
built by tools/docs.sh, not here."""

from __future__ import annotations

import importlib
import re
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "docs" / "_ext"))

api = importlib.import_module("anynet_api")
autodoc = importlib.import_module("anynet_autodoc")
figures = importlib.import_module("anynet_figures")
links = importlib.import_module("anynet_links")


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_discovery_finds_every_module_assigning_all_at_top_level(tmp_path):
    pkg = tmp_path / "pkg"
    write(pkg, "__init__.py", "__all__ = ['a']\n")
    write(pkg, "plain.py", "x = 1\n")
    write(pkg, "annotated.py", "__all__: list[str] = ['f']\n")
    write(pkg, "extended.py", "__all__ = []\n__all__ += ['g']\n")
    write(pkg, "inner.py", "def f():\n    __all__ = ['no']\n")  # not at module level
    write(pkg, "sub/__init__.py", "")
    write(pkg, "sub/_private.py", "__all__ = ['h']\n")
    write(pkg, "sub/new_module.py", "__all__ = ['k']\n")
    found = api.discover_modules(pkg, "pkg")
    assert found == ["pkg", "pkg.annotated", "pkg.extended", "pkg.sub._private", "pkg.sub.new_module"]
    assert [m for m in found if api.is_public(m)] == ["pkg", "pkg.annotated", "pkg.extended", "pkg.sub.new_module"]
    assert api.top_level_modules(pkg, "pkg") == ["pkg", "pkg.annotated", "pkg.extended", "pkg.inner", "pkg.plain",
                                                 "pkg.sub"]


def test_discovery_on_anynet_matches_a_plain_text_search():
    """No hand list: whatever module under anynet/ assigns __all__ (anynet.dask, anynet.distributed, ...)."""
    pkg = ROOT / "anynet"
    by_text = sorted(api.module_name(p, pkg) for p in pkg.rglob("*.py")
                     if re.search(r"^__all__\s*(:[^=]*)?\+?=", p.read_text(encoding="utf-8"), re.M))
    assert api.discover_modules(pkg) == by_text
    assert "anynet" in by_text and "anynet.layers" in by_text


def test_missing_names_reports_each_missing_name_and_module():
    expected = {"pkg": ["a", "b"], "pkg.sub": ["c"]}
    documented = {"pkg", "pkg.a", "pkg.b", "pkg.sub.c"}
    assert api.missing_names(expected, documented) == ["pkg.sub"]
    assert api.missing_names(expected, documented - {"pkg.b"}) == ["pkg.b", "pkg.sub"]
    assert api.missing_names(expected, documented | {"pkg.sub"}) == []


def test_the_build_fails_naming_the_missing_names(caplog):
    pytest.importorskip("sphinx", reason="sphinx not installed (the [docs] extra)")
    objects = {"pkg": None, "pkg.a": None}
    env = types.SimpleNamespace(anynet_api_expected={"pkg": ["a", "gone", "lost"]}, anynet_api_aliases=[],
                                get_domain=lambda name: types.SimpleNamespace(objects=objects))
    app = types.SimpleNamespace(statuscode=0)
    api.check(app, env)
    assert app.statuscode == 1
    assert "2 public name(s) missing from the API reference: pkg.gone, pkg.lost" in caplog.text
    objects.update({"pkg.gone": None, "pkg.lost": None})
    app.statuscode = 0
    caplog.clear()
    api.check(app, env)  # complete: no warning, the build may pass
    assert app.statuscode == 0 and "missing" not in caplog.text


def fake_module(name: str, **attrs) -> types.ModuleType:
    mod = types.ModuleType(name)
    for key, value in attrs.items():
        setattr(mod, key, value)
    return mod


def test_plan_documents_each_object_once_and_points_re_exports_to_it():
    class Thing:
        pass

    class Other:
        pass

    def helper():
        pass

    Thing.__module__ = "pkg.things"      # defined in pkg.things, which exports it
    Other.__module__ = "pkg._private"    # defined privately, exported by pkg and pkg.sub
    helper.__module__ = "pkg.things"
    things = fake_module("pkg.things", Thing=Thing, helper=helper, __all__=["Thing", "helper"])
    sub = fake_module("pkg.sub", Other=Other, __all__=["Other"])
    pkg = fake_module("pkg", Thing=Thing, Other=Other, things=things, sub=sub, VERSION="1",
                      __all__=["Thing", "Other", "things", "sub", "VERSION"])
    pages = api.page_modules({"pkg": pkg, "pkg.things": things, "pkg._private": fake_module("pkg._private")})
    assert list(pages) == ["pkg", "pkg.sub", "pkg.things"]  # sub joins because pkg's __all__ names it
    plan = api.plan(pages)
    kinds = {(e.qualified, e.kind, e.target) for page in plan.values() for e in page}
    assert kinds == {
        ("pkg.Thing", "alias", "pkg.things.Thing"), ("pkg.things.Thing", "home", "pkg.things.Thing"),
        ("pkg.things.helper", "home", "pkg.things.helper"),
        ("pkg.Other", "alias", "pkg.sub.Other"), ("pkg.sub.Other", "home", "pkg.sub.Other"),
        ("pkg.VERSION", "home", "pkg.VERSION"),
        ("pkg.things", "module", "pkg.things"), ("pkg.sub", "module", "pkg.sub"),
    }
    page = api.render("pkg", pkg, plan["pkg"])
    assert ".. py:class:: Thing" in page and "The same object as :py:class:`pkg.things.Thing`" in page
    assert ".. autodata:: pkg.VERSION" in page and ".. autoclass:: pkg.Thing" not in page


def test_plan_of_anynet_covers_every_public_name_and_every_alias_has_a_home():
    modules = {name: importlib.import_module(name) for name in api.discover_modules(ROOT / "anynet")}
    pages = api.page_modules(modules)
    plan = api.plan(pages)
    planned = {e.qualified for page in plan.values() for e in page} | set(pages)
    expected = {name: mod.__all__ for name, mod in modules.items() if api.is_public(name)}
    assert api.missing_names(expected, planned) == []
    homes = {e.qualified for page in plan.values() for e in page if e.kind == "home"}
    aliases = [e for page in plan.values() for e in page if e.kind == "alias"]
    assert aliases and all(e.target in homes for e in aliases)
    assert len(homes) == len({e.target for page in plan.values() for e in page if e.kind == "home"})


def test_a_class_summary_spells_out_references_to_its_members():
    class Optimizer:
        """Base class: implements :meth:`update`; see :class:`Other` and :func:`~pkg.f`."""

        def update(self):
            pass

    text = api.summary(Optimizer)
    assert f":meth:`~{__name__}.{Optimizer.__qualname__}.update`" in text
    assert ":class:`Other`" in text and ":func:`~pkg.f`" in text


def test_docstring_bars_are_escaped_outside_literals():
    assert autodoc.escape_bars("the Huber loss is quadratic for |d| <= delta") == \
        "the Huber loss is quadratic for \\|d\\| <= delta"
    assert autodoc.escape_bars("``|x|`` and ``a || b`` stay") == "``|x|`` and ``a || b`` stay"


def test_google_sections_with_a_note_or_wrapped_names_become_plain_sections():
    lines = ["Summary.", "", "Attributes (after fit):", "    a, b,", "    c: the three of them.",
             "        More about them.", "", "Example:", "    >>> f(1,", "    ...   2)"]
    assert autodoc.google_sections(lines) == [
        "Summary.", "", "(after fit)", "", "Attributes:", "    a, b, c: the three of them.", "        More about them.",
        "", "Example:", "    >>> f(1,", "    ...   2)"]


def test_one_text_for_many_names_leaves_the_field_list():
    lines = ["Arguments:", "    a, b, c: as elsewhere,", "        with its defaults.", "    d: its own.", "",
             "Attributes:", "    x_, y_ (note), z_: as in scikit-learn.", "", "Example:", "    >>> 1"]
    assert autodoc.name_groups(lines) == [
        "Arguments:", "    d: its own.", "", "Arguments ``a``, ``b``, ``c``: as elsewhere,", "with its defaults.", "",
        "Attributes ``x_``, ``y_`` (note), ``z_``: as in scikit-learn.", "", "Example:", "    >>> 1"]
    # a pair of attributes becomes two fields (napoleon splits only arguments); "a / b" is a pair
    assert autodoc.name_groups(["Attributes:", "    test_size, seed: how the rows were split."]) == [
        "Attributes:", "    test_size: how the rows were split.", "    seed: how the rows were split."]
    assert autodoc.name_groups(["Arguments:", "    x / y: data."]) == ["Arguments:", "    x, y: data."]


def test_prose_in_an_attribute_list_joins_the_field_before_it():
    lines = ["Attributes:", "    saved: the paths written; best: the best value;", "    best_epoch: its epoch. Kept so",
             "    later saves only improve.", "", "Example:", "    >>> 1"]
    assert autodoc.google_sections(lines) == [
        "Attributes:", "    saved: the paths written; best: the best value;",
        "    best_epoch: its epoch. Kept so later saves only improve.", "", "Example:", "    >>> 1"]


def test_an_attributes_first_line_is_read_as_a_type_only_when_it_is_one():
    # napoleon's output for "Gradients by path: the arrays, which" / "the next pass overwrites."
    napoleon = ["the arrays, which", "the next pass overwrites.", "", ":type: Gradients by path"]
    assert autodoc.prose_types(napoleon) == ["Gradients by path: the arrays, which", "the next pass overwrites."]
    typed = ["the width.", "", ":type: int | None"]
    assert autodoc.prose_types(typed) == typed
    assert autodoc.prose_types(["", ":type: dict[str, Any]"]) == ["", ":type: dict[str, Any]"]


def test_wrapped_names_start_a_field_and_prose_joins_it():
    lines = ["Attributes:", "    model_: the model.", "    n_in_, names_in_ (on a DataFrame),",
             "    loss_: as elsewhere."]
    assert autodoc.google_sections(lines) == [
        "Attributes:", "    model_: the model.", "    n_in_, names_in_ (on a DataFrame), loss_: as elsewhere."]


def test_type_checking_imports_from_other_libraries_become_aliases(tmp_path):
    write(tmp_path, "pkg/__init__.py", "")
    write(tmp_path, "pkg/m.py", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                "    from onnx import ModelProto\n    from ._b import Backend\n")
    assert autodoc.type_checking_aliases(tmp_path / "pkg", "pkg") == {"ModelProto": "onnx.ModelProto"}


def test_private_bases_are_replaced_by_public_ones():
    class Public:
        pass

    class _Private(Public):
        pass

    bases = [_Private]
    autodoc.process_bases(None, "X", None, None, bases)
    assert bases == [Public]


def test_scraper_picks_figures_outside_pyplot_once():
    pytest.importorskip("matplotlib", reason="matplotlib not installed")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    import anynet

    saved = figures.weakref.WeakSet()
    own = anynet.plot.loss_curve([1.0, 0.5])
    managed = plt.figure()
    namespace = {"own": own, "again": own, "managed": managed, "other": Figure(), "n": 3}
    assert figures.unsaved_figures(namespace, saved) == [own, namespace["other"]]
    assert managed in saved  # pyplot's scraper saves it; after plt.close it is not taken for ours
    saved.add(own)
    plt.close(managed)
    assert figures.unsaved_figures(namespace, saved) == [namespace["other"]]


def test_benchmark_rates_pool_every_run():
    rows = [{"runner": "anynet", "spec": "numpy", "config": "c", "samples": 100, "times": [1.0, 3.0], "run": 0},
            {"runner": "anynet", "spec": "numpy", "config": "c", "samples": 100, "times": [2.0], "run": 1},
            {"runner": "torch", "spec": "cpu", "config": "c", "samples": 100, "times": [4.0], "run": 0}]
    configs, columns, rate = figures.pooled_rates(rows)
    assert configs == ["c"] and columns == ["anynet (numpy)", "torch"]
    assert rate == {("c", "anynet (numpy)"): 50.0, ("c", "torch"): 25.0}


def test_benchmark_chart_draws_the_committed_results():
    pytest.importorskip("matplotlib", reason="matplotlib not installed")
    import json

    results = json.loads((ROOT / "benchmarks" / "RESULTS.json").read_text())
    fig = figures.benchmark_figure(results)
    assert len(fig.axes) == 2 and fig.axes[0].get_yscale() == "log"


def test_the_front_page_example_runs(capsys):
    pytest.importorskip("sklearn", reason="scikit-learn not installed (the digits data set)")
    text = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    exec(compile(code, "docs/index.md", "exec"), {})
    assert float(re.search(r"'accuracy': ([0-9.]+)", capsys.readouterr().out).group(1)) > 0.9


def test_links_to_a_missing_anchor_or_page_are_each_reported(tmp_path):
    write(tmp_path, "index.html", '<a href="api/m.html#m.f">f</a> <a href="api/m.html#m.gone">gone</a> '
                                  '<a href="#top">top</a> <a href="#nowhere">x</a> <a href="https://example.org/#x">out</a>'
                                  '<a href="missing.html">m</a> <a href="_images/a.png">img</a> <span id="top"></span>')
    write(tmp_path, "api/m.html", '<dt id="m.f"></dt><a href="../index.html#top">back</a> <a name="old"></a>'
                                  '<a href="#old">old</a> <a href="./">dir</a>')
    write(tmp_path, "_images/a.png", "")
    assert links.broken_links(tmp_path) == [
        ("api/m.html", "./", "no such page"),
        ("index.html", "#nowhere", "no anchor nowhere on index.html"),
        ("index.html", "api/m.html#m.gone", "no anchor m.gone on api/m.html"),
        ("index.html", "missing.html", "no such page"),
    ]
    write(tmp_path, "api/index.html", "")
    assert len(links.broken_links(tmp_path)) == 3


def test_the_build_fails_naming_each_link_that_leads_nowhere(tmp_path, caplog):
    pytest.importorskip("sphinx", reason="sphinx not installed (the [docs] extra)")
    write(tmp_path, "index.html", '<a href="api.html#gone">x</a><a href="#here">y</a><p id="here"></p>')
    write(tmp_path, "api.html", "<dt id='kept'></dt>")
    app = types.SimpleNamespace(outdir=str(tmp_path), builder=types.SimpleNamespace(format="html"), statuscode=0)
    links._check_links(app, None)
    assert app.statuscode == 1
    assert "1 link(s) in the built site lead nowhere" in caplog.text
    assert "index.html: api.html#gone (no anchor gone on api.html)" in caplog.text
    write(tmp_path, "index.html", '<a href="api.html#kept">x</a>')
    app.statuscode = 0
    links._check_links(app, None)
    assert app.statuscode == 0


def test_the_site_styles_scroll_wide_tables_and_long_code_lines():
    """conf.py adds docs/_static/anynet.css to every page; it makes tables and code blocks scroll."""
    conf = (ROOT / "docs" / "conf.py").read_text(encoding="utf-8")
    assert re.search(r'html_static_path = \["_static"\]', conf) and '"anynet.css"' in conf
    css = (ROOT / "docs" / "_static" / "anynet.css").read_text(encoding="utf-8")
    rules = dict(re.findall(r"([^{}]+)\{([^}]*)\}", re.sub(r"/\*.*?\*/", "", css, flags=re.S)))
    scrolling = [selector for selector, body in rules.items() if "overflow-x: auto" in body]
    assert any(".table-wrapper" in s for s in scrolling) and any("table.docutils" in s for s in scrolling)
    assert any("div.highlight pre" in s for s in scrolling)


class Signature(dict):
    """A stand-in for Sphinx's desc_signature node: attributes by key, ids a list."""


def test_back_links_go_to_the_home_page_and_an_id_it_holds():
    """viewcode links the code of anynet.backends._backend.Backend back to "<page>#<refname>.Backend",
    refname being the module of the first signature it read for that source module (here "anynet", the
    alias's), and page the last page read (the alias on anynet's page): an anchor that does not exist.
    Rewritten: the home page, and an id its signature has."""
    alias = Signature(module="anynet", fullname="Backend", ids=["anynet.Backend"])
    home = Signature(module="anynet.backends", fullname="Backend", ids=["anynet.backends.Backend"])
    member = Signature(module="anynet.backends", fullname="Backend.dtype", ids=["anynet.backends.Backend.dtype"])
    homes: dict = {}
    links.add_source_ids([home, member], "api/generated/anynet.backends", {"anynet.Backend"}, homes)
    links.add_source_ids([alias], "api/generated/anynet", {"anynet.Backend"}, homes)
    source = "anynet.backends._backend"
    assert home["ids"] == ["anynet.backends.Backend", f"{source}.Backend"]
    assert alias["ids"] == ["anynet.Backend", f"{source}.Backend"]
    assert homes == {(source, "Backend"): "api/generated/anynet.backends",
                     (source, "Backend.dtype"): "api/generated/anynet.backends"}
    viewcode = {source: ("code", {}, {"Backend": "api/generated/anynet",
                                      "Backend.dtype": "api/generated/anynet.backends"}, "anynet"),
                "anynet._broken": False}
    links.point_back_links(viewcode, homes)
    _, _, used, refname = viewcode[source]
    assert used == {"Backend": "api/generated/anynet.backends", "Backend.dtype": "api/generated/anynet.backends"}
    assert f"{refname}.Backend" in home["ids"] and f"{refname}.Backend.dtype" in member["ids"]
    assert viewcode["anynet._broken"] is False


#: the pages a new user installs from: the README, the site's home page, the guides, the backend notes
INSTALL_PAGES = [ROOT / "README.md", ROOT / "docs" / "index.md", *sorted((ROOT / "docs" / "guides").glob("*.md")),
                 *sorted((ROOT / "backends").glob("*/README.md"))]
CPU_TORCH = "pip install torch --index-url https://download.pytorch.org/whl/cpu"


def _hints(path: Path) -> list[tuple[int, int, list[str]]]:
    """(line number, offset in the page, requirements) of every ``pip install`` on the page (a hint ends at a
    backtick or the line's end)."""
    from .test_install_hints import requirements

    text = path.read_text(encoding="utf-8")
    found, offset = [], 0
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        for match in re.finditer(r"pip install[^`\n]*", line):  # each hint on the line, where it starts
            found.append((number, offset + match.start(), requirements(match.group(0))))
        offset += len(line)
    return found


def test_install_lines_work_from_a_clone():
    """anynet-nn is not on the package index yet: a hint naming it (pip install "anynet-nn[examples]") fails
    for every reader; ".[examples]" in the clone works."""
    wrong = [f"{path.relative_to(ROOT)}:{number}: {req}" for path in INSTALL_PAGES
             for number, _, reqs in _hints(path) for req in reqs if req.lower().startswith("anynet-nn")]
    assert wrong == []


def test_the_cpu_build_of_torch_comes_before_every_torch_extra():
    """A plain pip install of the [torch] extra fetches a multi-GB CUDA build on Linux: each page that
    suggests an extra holding torch shows the CPU index line first."""
    late = []
    for path in INSTALL_PAGES:
        text = path.read_text(encoding="utf-8")
        first_cpu = text.find(CPU_TORCH)
        for number, offset, reqs in _hints(path):
            if any(re.search(r"\[[^]]*\btorch\b", req) for req in reqs) and not 0 <= first_cpu <= offset:
                late.append(f"{path.relative_to(ROOT)}:{number}")
    assert late == []
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = readme.index('backend="torch"')  # the first example loads on torch: the page says what it needs
    assert readme.find(CPU_TORCH) < example and readme.find('pip install ".[torch]"') < example


def test_no_two_pages_share_a_title():
    titles: dict[str, list[str]] = {}
    for path in sorted((ROOT / "docs").rglob("*.md")):
        if "_build" in path.parts:
            continue
        match = re.search(r"^# (.+)$", path.read_text(encoding="utf-8"), re.M)
        if match:
            titles.setdefault(match.group(1).strip(), []).append(str(path.relative_to(ROOT)))
    assert {title: pages for title, pages in titles.items() if len(pages) > 1} == {}
