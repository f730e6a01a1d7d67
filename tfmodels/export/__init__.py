"""Export: SavedModel for TF Serving (raw text in) and TFLite (fixed-length ids in)."""

from tfmodels.export.saved_model import saved_model
from tfmodels.export.tflite import op_names, representative_dataset, tflite

__all__ = ["op_names", "representative_dataset", "saved_model", "tflite"]
