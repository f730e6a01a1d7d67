"""Export: SavedModel for TF Serving (raw text in)."""
from tfmodels.export.saved_model import saved_model

__all__ = ["saved_model"]
