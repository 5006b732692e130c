"""``python -m devtools.lapor``: the same as ``pengaduan devlapor``."""

from devtools.lapor import main

raise SystemExit(main())
