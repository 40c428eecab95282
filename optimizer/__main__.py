"""`python -m optimizer` is the same as the `optimizer` console script."""

from optimizer.cli import main

raise SystemExit(main())
