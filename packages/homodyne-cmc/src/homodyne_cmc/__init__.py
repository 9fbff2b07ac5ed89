"""homodyne-cmc (skeleton; built in a later issue)."""

__version__ = "0.1.0"
