#!/usr/bin/env bash
# Lint and type-check anynet: the one command CI (.ci/run) and pre-commit (.pre-commit-config.yaml) run.
# Configuration: [tool.ruff] and [tool.mypy] in pyproject.toml. Tools: pip install -e ".[lint]".
#
#   tools/lint.sh          both checks (each runs even if the other fails; the exit status says if either did)
#   tools/lint.sh ruff     only `ruff check`
#   tools/lint.sh mypy     only `mypy`
set -uo pipefail
cd "$(dirname "$0")/.."

what=${1:-all}
case "$what" in
  all | ruff | mypy) ;;
  *) echo "usage: tools/lint.sh [ruff|mypy]" >&2; exit 2 ;;
esac

status=0
if [ "$what" != mypy ]; then
  echo "lint: ruff check anynet tests examples benchmarks docs"
  python -m ruff check anynet tests examples benchmarks docs || status=1
fi
if [ "$what" != ruff ]; then
  echo "lint: mypy anynet"
  python -m mypy anynet || status=1
fi
exit "$status"
