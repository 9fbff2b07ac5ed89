"""Bodies of the ``homodyne`` commands (imported lazily by :mod:`homodyne_cli.app`)."""
