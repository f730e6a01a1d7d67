"""tfmodels: Transformer-family models for TensorFlow 2 / tf_keras.

TF-MOT (quantization-aware training, pruning, clustering) only works with Keras 2,
so the legacy-Keras switch is set here, before anything imports TensorFlow.
All model code imports ``tf_keras`` directly, so it is Keras 2 even if TensorFlow
was imported earlier by the caller.

The public names load on first use (PEP 562): ``import tfmodels`` alone does not load
TensorFlow, so the command-line entry points (:mod:`tfmodels.cli`) can load it with
its C++ start-up lines filtered out.
"""

import importlib
import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tfmodels.errors import TfmodelsError  # noqa: E402  (no TensorFlow)

__version__ = "0.1.0"
_LAZY = {
    "export": "tfmodels.export",
    "build": "tfmodels.api",
    "from_pretrained": "tfmodels.api",
    "preprocessor_from_pretrained": "tfmodels.api",
    "save_pretrained": "tfmodels.api",
}
__all__ = ["TfmodelsError", *_LAZY]


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'tfmodels' has no attribute {name!r}")
    module = importlib.import_module(_LAZY[name])
    value = module if name == "export" else getattr(module, name)
    globals()[name] = value
    return value
