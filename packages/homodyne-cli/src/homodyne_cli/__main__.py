"""``python -m homodyne_cli`` = the ``homodyne`` command."""

from .app import console

console()
