"""Figures drawn while the site builds, so no image of the documentation is ever committed.

* :func:`figure_scraper` — a sphinx-gallery image scraper for figures that live outside pyplot.
  :mod:`anynet.plot` returns :class:`matplotlib.figure.Figure` objects on their own Agg canvas (it
  never touches pyplot's global state), so sphinx-gallery's matplotlib scraper cannot see them. After
  each code block this scraper saves every Figure bound to a variable of the example that it has not
  saved before.
* ``anynet-benchmark-chart`` — a directive that draws the training benchmark from
  ``benchmarks/RESULTS.json`` (the performance guide uses it)::

      ```{anynet-benchmark-chart}
      :source: benchmarks/RESULTS.json
      ```

  ``:source:`` is relative to the repository root and is the default.
"""

from __future__ import annotations

import json
import statistics
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]  # the repository (docs/_ext/ is two levels down)
CHART_DIR = "_generated"  # under the Sphinx source folder; git-ignored (docs/.gitignore)

_saved: weakref.WeakSet[Any] = weakref.WeakSet()


def unsaved_figures(namespace: Mapping[str, Any], saved: Any) -> list[Any]:
    """The matplotlib Figures among ``namespace``'s values that are not in ``saved``, in binding order,
    leaving out those pyplot manages: they are added to ``saved`` instead, as sphinx-gallery's own
    matplotlib scraper saves them (and closes them, after which pyplot no longer manages them)."""
    from matplotlib.figure import Figure

    found: list[Any] = []
    for value in namespace.values():
        if not isinstance(value, Figure) or value in saved or any(value is f for f in found):
            continue
        if getattr(value.canvas, "manager", None) is not None:
            saved.add(value)
        else:
            found.append(value)
    return found


def figure_scraper(block: Any, block_vars: dict[str, Any], gallery_conf: dict[str, Any]) -> str:
    """sphinx-gallery scraper: save the Figures a code block bound to variables (see the module docstring)."""
    from sphinx_gallery.scrapers import figure_rst

    paths = []
    for fig, path in zip(unsaved_figures(block_vars["example_globals"], _saved), block_vars["image_path_iterator"]):
        fig.savefig(path, dpi=100)
        _saved.add(fig)
        paths.append(path)
    return figure_rst(paths, gallery_conf["src_dir"]) if paths else ""


# --- the benchmark chart ---------------------------------------------------------------------------------------


def pooled_rates(rows: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[str], dict[tuple[str, str], float]]:
    """``(configs, columns, rate)`` from the rows of a RESULTS.json: ``rate[(config, column)]`` is the training
    samples per second at the median of every epoch of every run; a column is ``"anynet (numpy)"``,
    ``"torch"`` ...; configs and columns in the file's order."""
    times: dict[tuple[str, str], list[float]] = {}
    samples: dict[tuple[str, str], int] = {}
    for r in rows:
        column = f"{r['runner']} ({r['spec']})" if r["runner"] == "anynet" else str(r["runner"])
        times.setdefault((r["config"], column), []).extend(r["times"])
        samples[(r["config"], column)] = int(r["samples"])
    configs = list(dict.fromkeys(config for config, _ in times))
    columns = list(dict.fromkeys(column for _, column in times))
    rate = {key: samples[key] / statistics.median(t) for key, t in times.items()}
    return configs, columns, rate


def benchmark_figure(results: Mapping[str, Any]) -> Any:
    """The chart of a RESULTS.json: samples per second by configuration and runner (log scale), and
    anynet on NumPy relative to each other runner (above 1: anynet is faster); one colour per runner."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    configs, columns, rate = pooled_rates(results["rows"])
    colour = {column: f"C{i}" for i, column in enumerate(columns)}
    labels = [c.replace(" b", "\nbatch ") for c in configs]
    x = np.arange(len(configs))
    fig = Figure(figsize=(10, 7.5))
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1)
    width = 0.8 / len(columns)
    for i, column in enumerate(columns):
        top.bar(x + i * width, [rate.get((c, column), 0.0) for c in configs], width, label=column,
                color=colour[column])
    top.set_xticks(x + 0.4 - width / 2, labels, fontsize=8)
    top.set_yscale("log")
    top.set_ylabel("training samples / s")
    top.set_title("training speed (higher is better)")
    top.legend(fontsize=8, ncols=2)
    ours = "anynet (numpy)"
    others = [c for c in columns if c != ours]
    width = 0.8 / max(1, len(others))
    for i, column in enumerate(others):
        ratios = [rate[(c, ours)] / rate[(c, column)] if (c, ours) in rate and (c, column) in rate else np.nan
                  for c in configs]
        bottom.bar(x + i * width, ratios, width, label=f"vs {column}", color=colour[column])
    bottom.axhline(1.0, color="k", linewidth=0.8)
    bottom.set_xticks(x + 0.4 - width / 2, labels, fontsize=8)
    bottom.set_yscale("log")
    bottom.set_ylabel("anynet (numpy) speed ÷ other's")
    bottom.set_title("anynet on NumPy relative to each other runner (above the line: anynet is faster)")
    bottom.legend(fontsize=8, ncols=2)
    fig.suptitle(f"median of every timed epoch; {results.get('machine', '')}", fontsize=9)
    fig.tight_layout()
    return fig


def setup(app: Any) -> dict[str, Any]:
    from docutils import nodes
    from docutils.parsers.rst import directives
    from sphinx.util.docutils import SphinxDirective

    class BenchmarkChart(SphinxDirective):
        """Draw ``benchmarks/RESULTS.json`` as a bar chart (an image written at build time)."""

        has_content = False
        option_spec = {"source": directives.unchanged, "alt": directives.unchanged}

        def run(self) -> list[Any]:
            source = ROOT / self.options.get("source", "benchmarks/RESULTS.json")
            if not source.is_file():
                raise self.error(f"anynet-benchmark-chart: no benchmark results at {source.relative_to(ROOT)}; "
                                 "run python benchmarks/bench_train.py first")
            self.env.note_dependency(str(source))
            out = Path(self.env.srcdir) / CHART_DIR / f"{source.stem.lower()}.png"
            out.parent.mkdir(parents=True, exist_ok=True)
            benchmark_figure(json.loads(source.read_text(encoding="utf-8"))).savefig(out, dpi=100)
            alt = self.options.get("alt", "training samples per second of anynet and the other runners")
            return [nodes.image(uri=f"/{CHART_DIR}/{out.name}", alt=alt)]

    app.add_directive("anynet-benchmark-chart", BenchmarkChart)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
