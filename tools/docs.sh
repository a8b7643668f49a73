#!/usr/bin/env bash
# Build the documentation site into docs/_build/html: the one command, also run by CI (.ci/run).
# Needs: pip install -e ".[docs]" (the reference imports every module: [docs] holds scikit-learn and Dask too)
#
# Warnings are errors (-W): a broken cross-reference, a page missing from a toctree, a public name
# missing from the API reference, a gallery script that fails or a link in the built HTML to a page or
# anchor that does not exist (the source pages' [docs] links included; docs/_ext/anynet_links.py) all
# fail the build; --keep-going
# reports every problem before failing. Each build starts clean, so the gallery runs every time.
#
#   tools/docs.sh              clean build of the site
#   tools/docs.sh --no-clean   reuse the previous build (faster while writing)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" != "--no-clean" ]; then
  rm -rf docs/_build docs/_generated docs/api/generated docs/documents
fi
export MPLBACKEND=Agg PYTHONHASHSEED=0
start=$(date +%s)
status=0
python -m sphinx -W --keep-going -q -b html docs docs/_build/html || status=$?
seconds=$(( $(date +%s) - start ))
if [ "$status" -eq 0 ]; then
  echo "docs: built docs/_build/html/index.html in $seconds s"
else
  echo "docs: FAILED after $seconds s (the warnings above are errors)" >&2
fi
exit "$status"
