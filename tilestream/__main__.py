"""``python -m tilestream`` runs the command-line interface."""

from tilestream.cli import main

raise SystemExit(main())
