"""CSV helpers shared by the command-line tests (UTF-8, as anynet reads CSV files, whatever the locale)."""

from __future__ import annotations

import csv


def write_csv(path, header, rows):
    """Write ``header`` and ``rows`` to ``path`` as CSV; returns ``path``."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def read_csv(path):
    """``(header, rows)`` of a CSV file."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]
