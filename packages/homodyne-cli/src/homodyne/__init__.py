"""homodyne: umbrella Python API over the homodyne-* packages."""

from homodyne_cli import __version__

__all__ = ["__version__"]
