"""``python -m anynet`` runs the ``anynet`` command."""

from .cli import main

raise SystemExit(main())
