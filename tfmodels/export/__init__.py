"""Export: SavedModel for TF Serving (raw text in) and TFLite (ids in: a dynamic batch,
one or several sequence lengths, a runner that picks the length, a per-op profiler)."""

from tfmodels.export.saved_model import saved_model
from tfmodels.export.tflite import op_names, representative_dataset, signature_name, tflite
from tfmodels.export.tflite_lengths import LengthRunner, tflite_runner

__all__ = [
    "LengthRunner",
    "op_names",
    "representative_dataset",
    "saved_model",
    "signature_name",
    "tflite",
    "tflite_runner",
]
