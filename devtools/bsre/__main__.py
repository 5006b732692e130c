"""``python -m devtools.bsre``: the same as ``pengaduan devbsre``."""

from devtools.bsre import main

raise SystemExit(main())
