"""tfmodels: Transformer-family models for TensorFlow 2 / tf_keras.

TF-MOT (quantization-aware training, pruning, clustering) only works with Keras 2,
so the legacy-Keras switch is set here, before anything imports TensorFlow.
All model code imports ``tf_keras`` directly, so it is Keras 2 even if TensorFlow
was imported earlier by the caller.
"""
import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tfmodels import export  # noqa: E402
from tfmodels.errors import TfmodelsError  # noqa: E402
from tfmodels.api import (  # noqa: E402
    build,
    from_pretrained,
    preprocessor_from_pretrained,
    save_pretrained,
)

__version__ = "0.1.0"
__all__ = [
    "TfmodelsError",
    "export",
    "build",
    "from_pretrained",
    "preprocessor_from_pretrained",
    "save_pretrained",
]
