"""``python -m devtools.tsa``: the same as ``pengaduan devtsa``."""

from devtools.tsa import main

raise SystemExit(main())
