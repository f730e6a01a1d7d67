"""Quantization-aware training (Jacob et al. 2018) of our Transformer models with TF-MOT.

``quantize_model(model)`` returns a Keras model with the same inputs and outputs
that computes with fake-quantized weights and activations: fine-tune it with the
usual loss, then ``tfmodels.export.tflite(qat_model, path, seq_length,
quantize="qat")`` writes an int8 TFLite model with builtin ops only, whose
ranges are the ones learned in training (no calibration data).

Steps: the task model (which nests the encoder model) becomes one flat
functional graph (``functional.flat_model``); the scheme's layout transform
replaces each layer by its quantized subclass (same weights, fake-quant points
inside); TF-MOT's ``QuantizeWrapperV2`` wraps each of them with a QuantizeConfig
that fake-quantizes its weights, nested sublayers' weights included. TF op layers
that only slice or reshape (``sequence_output[:, 0]``) are kept as they are. The
input model is not changed and shares no weights with the result.
"""

import tf_keras as keras
from tensorflow_model_optimization.python.core.quantization.keras import quantize_wrapper
from tf_keras.src.engine.functional import Functional

from tfmodels.compression.functional import flat_model
from tfmodels.compression.quantize_scheme import TransformerQuantizeScheme
from tfmodels.errors import ConfigError


def quantize_model(model, scheme=None):
    """``model`` (a functional task model) with every layer wrapped for QAT.

    Raises ConfigError naming the first layer the scheme does not support.
    """
    if not isinstance(model, Functional):
        raise ConfigError(
            f"quantize_model: {model.name} is a {type(model).__name__}, "
            "not a functional Keras model (use a tfmodels task model)"
        )
    scheme = scheme or TransformerQuantizeScheme()
    registry = scheme.get_quantize_registry()
    flat = flat_model(model)
    for layer in flat.layers:
        if not isinstance(layer, keras.layers.InputLayer):
            registry.quantized_class(layer)  # ConfigError for an unsupported layer
    transformed, _ = scheme.get_layout_transformer().apply(flat, {})

    def wrap(layer):
        if registry.passes_through(layer):  # a slice or reshape: no weights, no new range
            return type(layer).from_config(layer.get_config())
        return quantize_wrapper.QuantizeWrapperV2(layer, registry.get_quantize_config(layer))

    wrapped = keras.models.clone_model(transformed, clone_function=wrap)
    qat = keras.Model(wrapped.input, wrapped.output, name=f"{model.name}_qat")
    qat.config = getattr(model, "config", None)
    return qat


tfmodels_quantize = quantize_model


def is_quantized(model):
    """Whether ``model`` has QAT wrappers (it came from :func:`quantize_model`)."""
    return any(isinstance(layer, quantize_wrapper.QuantizeWrapper) for layer in model.layers)
