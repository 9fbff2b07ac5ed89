"""homodyne-data: read, select, validate and simulate XPCS two-time correlation data."""

from .dataset import Provenance, XPCSData

__version__ = "0.1.0"

__all__ = ["Provenance", "XPCSData", "__version__"]
