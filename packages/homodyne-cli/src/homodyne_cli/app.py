"""Entry point of the ``homodyne`` command (placeholder until the CLI issue lands)."""

import sys


def main() -> None:
    """Print what exists so far."""
    print("homodyne: the command line is not built yet; run `uv run pytest` for the tests.")
    sys.exit(0)
