"""Every install hint anynet prints or documents names a distribution it means.

The name ``anynet`` on the package index belongs to an unrelated project, so a hint such as
``pip install "anynet[plot]"`` would fetch someone else's code. This scans the package, the docs,
the README, the examples and the backend notes for ``pip install ...`` and checks each requirement
it names: this project (``anynet-nn``, or a path to the clone such as ``.`` or ``".[examples]"``), a
distribution the project declares (pyproject.toml), or one of the few third-party packages that a
hint deliberately names (listed below, each with its reason).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11's tomllib")

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ["anynet", "docs", "examples", "backends", "benchmarks", "tools", "README.md"]
SUFFIXES = {".py", ".md", ".rst", ".txt", ".toml", ".sh"}
#: third-party distributions a hint names on purpose, beyond those pyproject.toml declares
NAMED_ON_PURPOSE = {
    "nvidia-nccl-cu12": "NCCL for CuPy's data-parallel all-reduce (anynet.distributed)",
}
#: options whose next word is a value, not a requirement
TAKES_VALUE = {"-r", "--requirement", "-c", "--constraint", "--index-url", "-i", "--extra-index-url", "-f",
               "--find-links", "--target", "-t"}
HINT = re.compile(r"pip install\s+(?=(.+))")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs.extend(extra)
    return {_normal(re.match(r"[A-Za-z0-9._-]+", r).group(0)) for r in reqs} | {_normal(project["name"])}


def _files() -> list[Path]:
    out: list[Path] = []
    for entry in SCANNED:
        path = ROOT / entry
        if path.is_file():
            out.append(path)
        elif path.is_dir():
            out.extend(p for p in sorted(path.rglob("*")) if p.is_file() and p.suffix in SUFFIXES
                       and "_build" not in p.parts and "auto_examples" not in p.parts)
    return out


def _words(tail: str) -> list[str]:
    """The words of one hint: up to where the command ends in its text (a backtick, a closing
    parenthesis, a shell separator, or the end of a quoted Python string that holds the hint)."""
    # ... or where the prose around it resumes: "pip install .[x] in a clone", "..., then ..."
    tail = re.split(r"`|\)|&&|;|\||,|\\n|\s(?:or|in|from|after|then|and|for|to|with|once|so)\s", tail)[0]
    try:
        words = shlex.split(tail)
    except ValueError:  # the hint sits inside a Python string whose quote ends on this line
        words = shlex.split(tail.rsplit("'", 1)[0] if tail.count("'") % 2 else tail.rsplit('"', 1)[0])
    return words


def requirements(line: str) -> list[str]:
    """The requirements named by every ``pip install`` on ``line`` (options and their values left out)."""
    found: list[str] = []
    for match in HINT.finditer(line):
        skip = False
        for word in _words(match.group(1)):
            if skip:
                skip = False
                continue
            if word in TAKES_VALUE:
                skip = True
                continue
            if word.startswith("-"):
                continue
            if not re.match(r"[A-Za-z0-9.]", word):  # prose such as "pip install line", or a placeholder
                break
            found.append(word)
    return found


def _acceptable(req: str, allowed: set[str]) -> bool:
    if req.startswith(".") or req.startswith("/"):  # this clone (".", ".[examples]", "-e .[test]")
        return True
    name = re.match(r"[A-Za-z0-9._-]+", req)
    return name is not None and _normal(name.group(0)) in allowed


def _hints() -> list[tuple[str, str]]:
    hints = []
    for path in _files():
        for n, line in enumerate(path.read_text("utf-8", errors="replace").splitlines(), 1):
            for req in requirements(line):
                hints.append((f"{path.relative_to(ROOT)}:{n}", req))
    return hints


def test_every_install_hint_names_this_project_or_a_declared_dependency():
    allowed = _declared() | set(NAMED_ON_PURPOSE)
    hints = _hints()
    assert len(hints) > 20, "the scan found almost no install hints: the pattern no longer matches them"
    wrong = [f"{where}: {req}" for where, req in hints if not _acceptable(req, allowed)]
    assert not wrong, ("install hints naming a distribution anynet does not mean (the project is 'anynet-nn'; "
                       "'anynet' on the index is another project):\n" + "\n".join(wrong))


@pytest.mark.parametrize(("line", "named"), [
    ('raise X(\'install it with pip install "anynet[plot]"\') from None', ["anynet[plot]"]),
    ("run ``pip install 'anynet-nn[onnx]'`` (or pip install onnx)", ["anynet-nn[onnx]", "onnx"]),
    ("pip install -e \".[test]\" -r backends/requirements-ci.txt && python -m pytest", [".[test]"]),
    ("pip install torch --index-url https://download.pytorch.org/whl/cpu", ["torch"]),
    ("raises an error with the `pip install` line to run", []),
    ('pip install ".[cuda13]" in a clone, then pip install anynet[x]', [".[cuda13]", "anynet[x]"]),
])
def test_the_scan_reads_hints_as_written(line, named):
    assert requirements(line) == named


def test_the_scan_refuses_the_other_projects_name():
    allowed = _declared() | set(NAMED_ON_PURPOSE)
    assert not _acceptable("anynet[plot]", allowed) and not _acceptable("anynet", allowed)
    assert _acceptable("anynet-nn[plot]", allowed) and _acceptable(".[examples]", allowed)
