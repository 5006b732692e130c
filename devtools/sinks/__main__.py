"""``python -m devtools.sinks``: the same as ``pengaduan devsinks``."""

from devtools.sinks import main

raise SystemExit(main())
