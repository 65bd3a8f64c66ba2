"""`python -m waste_sorting.cli`: the same as the `waste-sorting` command."""

from waste_sorting.cli import main

raise SystemExit(main())
