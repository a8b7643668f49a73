"""Every ```python block of the README, the docs' home page and the guides runs alone, as a reader who
pastes it into a fresh interpreter would run it: in a new namespace, in an empty working directory, with
nothing registered by another block.

A block that cannot run alone says so in an HTML comment on the line right before its fence (GitHub and
the docs site both hide it), with a reason:

* ``<!-- continues: REASON -->``: the block goes on from the blocks above it on the same page (a
  walk-through); it runs after every block above it that runs, in one namespace.
* ``<!-- not-run: REASON -->``: the block is not run at all (it needs hardware or a service CI lacks).

A marker without a reason, with another word, or not followed by a ```python block fails
:func:`test_every_marker_has_a_reason_and_a_block`. The README's blocks are also run by
``tests/test_readme.py``, which checks what they print and write.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

import anynet
import anynet.registry

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", ROOT / "docs" / "index.md", *sorted((ROOT / "docs" / "guides").glob("*.md"))]
MARKS = ("continues", "not-run")
_FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)
_MARK = re.compile(r"^[ \t]*<!--\s*([\w-]+)\s*(?::(.*?))?-->", re.S | re.M)  # a comment that starts a line


@dataclass(frozen=True)
class Block:
    """One ```python block: its page (relative to the checkout), the line of its first code line, its code,
    and the marker before it (``mark`` is "" for a block that runs alone)."""

    page: str
    line: int
    code: str
    mark: str = ""
    reason: str = ""

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


#: near misses of the markers: a misspelt marker must not silently leave its block to run alone
_LOOKALIKES = {"not_run", "notrun", "no-run", "skip", "continue", "continued"}


def _marks(text: str) -> list[tuple[int, str, str]]:
    """(offset, word, reason) of every ``<!-- word: reason -->`` starting a line whose word is a marker or a near
    miss (one quoted in a sentence, inside backticks, is not a marker)."""
    return [(m.start(), m.group(1), (m.group(2) or "").strip()) for m in _MARK.finditer(text)
            if m.group(1).lower() in (*MARKS, *_LOOKALIKES)]


def parse(path: Path) -> tuple[list[Block], list[str]]:
    """The ```python blocks of one page, and the problems with its markers (each a sentence naming the line)."""
    text = path.read_text(encoding="utf-8")
    page = path.relative_to(ROOT).as_posix()
    blocks, problems, used = [], [], set()
    marks = _marks(text)
    for fence in _FENCE.finditer(text):
        line = text.count("\n", 0, fence.start(1)) + 1
        before = text[:fence.start()].rstrip()
        mark = reason = ""
        for offset, word, why in marks:
            end = text.index("-->", offset) + 3  # the marker's own end
            if end == len(before):  # the comment is the last thing before the fence
                used.add(offset)
                mark, reason = word, why
        blocks.append(Block(page, line, fence.group(1), mark, reason))
    for offset, word, why in marks:
        where = f"{page}:{text.count(chr(10), 0, offset) + 1}"
        if word not in MARKS:
            problems.append(f"{where}: unknown marker {word!r}; write one of {', '.join(MARKS)}")
        elif not why:
            problems.append(f"{where}: the {word} marker needs a reason: <!-- {word}: why this block cannot run "
                            "alone -->")
        elif offset not in used:
            problems.append(f"{where}: the {word} marker is not on the line right before a ```python block")
    return blocks, problems


def all_blocks() -> list[Block]:
    return [block for path in PAGES for block in parse(path)[0]]


def chain(block: Block, blocks: list[Block]) -> list[Block]:
    """What runs for ``block``: itself; after every block above it on its page that runs, when it continues."""
    if block.mark != "continues":
        return [block]
    above = [b for b in blocks if b.page == block.page and b.line < block.line and b.mark != "not-run"]
    return [*above, block]


@pytest.fixture
def registry_as_before():
    """Parts a block registers (a layer, a loss, an ONNX exporter) are gone after it: the next block finds
    only what it registers itself, as in a fresh interpreter."""
    try:
        import anynet.onnx as onnx_module
    except Exception:  # onnx not installed: a block that needs it fails on its own import
        onnx_module = None
    tables = [anynet.registry._ENTRIES, anynet.registry._CANONICAL]
    if onnx_module is not None:
        tables += [onnx_module._LAYER_EXPORTERS, onnx_module._ACTIVATION_EXPORTERS]
    saved = [{k: (dict(v) if isinstance(v, dict) else v) for k, v in table.items()} for table in tables]
    yield
    for table, before in zip(tables, saved):
        table.clear()
        table.update(before)
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


def test_every_marker_has_a_reason_and_a_block():
    problems = [problem for path in PAGES for problem in parse(path)[1]]
    assert problems == []
    assert len(all_blocks()) > 20  # the pages hold their blocks: a broken fence pattern would find none


def test_markers_are_read_and_checked(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    page = tmp_path / "page.md"
    page.write_text("x\n\n```python\na = 1\n```\n\n<!-- continues: uses a -->\n```python\nb = a\n```\n"
                    "<!-- not-run -->\n\n```python\nc\n```\n<!-- not_run: typo -->\ntext\n<!-- continues: stray -->\n"
                    "<!-- other comments are left alone -->\n```python\nd = 4\n```\n"
                    "quoted in a sentence, `<!-- continues: x -->` is no marker\n")
    blocks, problems = parse(page)
    assert [(b.line, b.mark, b.reason) for b in blocks] == [(4, "", ""), (9, "continues", "uses a"),
                                                            (14, "not-run", ""), (21, "", "")]
    assert problems == ["page.md:11: the not-run marker needs a reason: <!-- not-run: why this block cannot run "
                        "alone -->",
                        "page.md:16: unknown marker 'not_run'; write one of continues, not-run",
                        "page.md:18: the continues marker is not on the line right before a ```python block"]
    assert [b.line for b in chain(blocks[1], blocks)] == [4, 9]
    assert chain(blocks[3], blocks) == [blocks[3]]


BLOCKS = all_blocks()


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_block_runs_alone(block, tmp_path, monkeypatch, registry_as_before):
    if block.mark == "not-run":
        pytest.skip(f"marked not-run: {block.reason}")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__main__"}  # `if __name__ == "__main__":` runs, as in a script
    start = time.perf_counter()
    for part in chain(block, BLOCKS):
        # the blank lines put a traceback's line numbers on the page's own lines
        code = compile("\n" * (part.line - 1) + part.code, part.page, "exec")
        try:
            exec(code, namespace)  # noqa: S102
        except ModuleNotFoundError as exc:  # an optional library the page names (torch, dask, onnxruntime)
            top = (exc.name or "").split(".")[0]
            if not top or top == "anynet" or importlib.util.find_spec(top) is not None:
                raise  # a misspelt or missing module of anynet, or of an installed library: the page is wrong
            pytest.skip(f"{part.id} imports {top}, which is not installed here (CI installs it)")
    print(f"{block.id}: {time.perf_counter() - start:.1f} s")


def test_a_block_needing_an_absent_library_skips_and_a_wrong_import_fails(tmp_path, monkeypatch):
    absent = Block("page.md", 3, "import a_library_that_is_not_installed_here\n")
    with pytest.raises(pytest.skip.Exception, match="a_library_that_is_not_installed_here"):
        test_block_runs_alone(absent, tmp_path, monkeypatch, None)
    for wrong in ("import anynet.no_such_module\n", "import numpy.no_such_module\n"):
        with pytest.raises(ModuleNotFoundError):
            test_block_runs_alone(Block("page.md", 3, wrong), tmp_path, monkeypatch, None)
    with pytest.raises(NameError):  # the README's Graph block before it imported anynet
        test_block_runs_alone(Block("page.md", 3, "g = anynet.Graph({}, inputs={}, output='x')\n"), tmp_path,
                              monkeypatch, None)
