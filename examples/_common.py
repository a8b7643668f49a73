"""Shared command-line options of the example scripts."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from typing import Any


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--backend", default=None, help="numpy (default), cupy, torch, jax, array_api_strict ...")
    p.add_argument("--fast", action="store_true", help="a smaller run, for the tests")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="folder for plots (default: no plots)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    return p


def run(main: Callable[[argparse.Namespace], dict[str, Any]], p: argparse.ArgumentParser,
        argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = p.parse_args(argv)
    start = time.perf_counter()
    results = main(args)
    results["seconds_total"] = round(time.perf_counter() - start, 3)
    if args.json:
        print(json.dumps(results, indent=2))
    return results
