"""TF-MOT quantizers and QuantizeConfigs for our layers (8-bit, TFLite int8 layout).

Quantization-aware training (Jacob et al. 2018, section 3) runs the float model
with "fake quantization" (quantize, then dequantize) wherever the integer model
will hold a tensor in 8 bits, so training learns weights that survive rounding.
TFLite's int8 kernels (TFLite quantization spec) want weights symmetric (zero
point 0, range [-127, 127]) and activations asymmetric (any [min, max] holding 0).

A :class:`WeightsQuantizeConfig` hands TF-MOT's ``QuantizeWrapperV2`` the weights
of a layer *and of its nested sublayers* by attribute path (e.g.
``attention.query.kernel``) and puts the fake-quantized tensors back where the
sublayers' ``call`` reads them. Activations are quantized inside the layers
(``quantized_layers.FakeQuant``), because most of the points TFLite needs
(attention matmul inputs, LayerNorm outputs) are not a layer's output.
"""

import tensorflow as tf
import tf_keras as keras
from tensorflow_model_optimization.python.core.quantization.keras import quantize_config, quantizers

from tfmodels.errors import ConfigError

NUM_BITS = 8


class WeightQuantizer(quantizers.Quantizer):
    """Symmetric per-tensor int8 (narrow range, zero point 0), range = max |w|.

    The range is computed from the weight at every call instead of being kept in
    variables (TF-MOT's ``LastValueQuantizer``): it cannot go stale after
    ``set_weights`` or a checkpoint restore, a freshly quantized model is right
    before its first training step, and the converter folds it to a constant.
    Per-channel ranges would be finer, but the TFLite converter rejects a
    per-channel fake-quantized Dense kernel ("tfl.transpose op has mismatched
    quantized axes"), so the scale is per tensor.
    """

    def build(self, tensor_shape, name, layer):
        return {}

    def __call__(self, inputs, training, weights, **kwargs):
        bound = tf.stop_gradient(tf.maximum(tf.reduce_max(tf.abs(inputs)), 1e-8))
        return tf.quantization.fake_quant_with_min_max_vars(
            inputs, -bound, bound, num_bits=NUM_BITS, narrow_range=True
        )

    def get_config(self):
        return {}


class ActivationQuantizer(quantizers.Quantizer):
    """Asymmetric int8 over an exponential moving average of the batch [min, max].

    Unlike TF-MOT's ``MovingAverageQuantizer`` (range starts at [-6, 6], decay
    0.999), the first training batch sets the range: with the slow default a short
    fine-tune (a few hundred steps) would keep clipping attention scores and
    LayerNorm outliers at +-6. Until a training step has run, the range is the
    initial [-6, 6].

    ``fixed_range`` (min, max) is a range that training does not change: the output
    of an op whose int8 TFLite kernel has a fixed output scale (TANH: [-1, 127/128],
    scale 1/128; LOGISTIC: [0, 255/256]). A learned range there would not be the
    file's: TFLite rounds to its own grid first, which for small outputs (a tanh of
    values near 0) can be all zeros where the learned grid is fine.
    """

    def __init__(self, ema_decay=0.99, fixed_range=None, symmetric=False):
        self.ema_decay = ema_decay
        self.fixed_range = None if fixed_range is None else tuple(fixed_range)
        self.symmetric = symmetric

    def build(self, tensor_shape, name, layer):
        def weight(suffix, value):
            # ON_READ + MEAN, as BatchNormalization's moving statistics: each replica
            # updates its copy, reads average them.
            return layer.add_weight(
                f"{name}_{suffix}",
                shape=(),
                trainable=False,
                initializer=keras.initializers.Constant(value),
                synchronization=tf.VariableSynchronization.ON_READ,
                aggregation=tf.VariableAggregation.MEAN,
            )

        low, high = self.fixed_range or (-6.0, 6.0)
        return {
            "min_var": weight("min", low),
            "max_var": weight("max", high),
            "seen_var": weight("seen", 0.0),
        }

    def __call__(self, inputs, training, weights, **kwargs):
        x = tf.cast(inputs, tf.float32)
        low, high = weights["min_var"], weights["max_var"]
        updates = []
        if self.fixed_range is not None:  # the variables hold it too, for checkpoints
            low, high = self.fixed_range
            if training:
                updates = [weights["seen_var"].assign(1.0)]
        elif training:
            batch_low = tf.minimum(tf.reduce_min(x), 0.0)  # 0 must be representable
            batch_high = tf.maximum(tf.reduce_max(x), 0.0)
            decay = self.ema_decay * weights["seen_var"]  # 0 on the first batch
            low = tf.stop_gradient(decay * low + (1.0 - decay) * batch_low)
            high = tf.stop_gradient(decay * high + (1.0 - decay) * batch_high)
            updates = [
                weights["min_var"].assign(low),
                weights["max_var"].assign(high),
                weights["seen_var"].assign(1.0),
            ]
        if self.symmetric:
            # [-m, m * 127/128]: scale m/128 and int8 zero point 0.
            m = tf.maximum(-low, high)
            low, high = -m, m * (127.0 / 128.0)
        with tf.control_dependencies(updates):
            x = tf.quantization.fake_quant_with_min_max_vars(x, low, high, num_bits=NUM_BITS)
        return tf.cast(x, inputs.dtype)

    def get_config(self):
        config = {"ema_decay": self.ema_decay}
        if self.fixed_range is not None:
            config["fixed_range"] = list(self.fixed_range)
        if self.symmetric:
            config["symmetric"] = True
        return config


_MISSING = object()


def _child(owner, name, default=_MISSING):
    """``owner.name``, or item ``int(name)`` of a list of sublayers (``ffns.0``)."""
    if name.isdigit() and isinstance(owner, (list, tuple)):
        index = int(name)
        return owner[index] if index < len(owner) else default
    return getattr(owner, name, default)


def _resolve(layer, path):
    """(owner, attribute) for a dotted path such as ``attention.query.kernel``."""
    owner = layer
    *parents, attribute = path.split(".")
    for name in parents:
        owner = _child(owner, name)
    return owner, attribute


class WeightsQuantizeConfig(quantize_config.QuantizeConfig):
    """Fake-quantizes the weights at ``paths`` (dotted attribute paths from the
    wrapped layer); ``output`` also quantizes the layer's (single) output.

    Paths whose sublayer is absent (None, e.g. a head without inner Dense) are
    skipped.
    """

    def __init__(self, paths, output=False):
        self.paths = list(paths)
        self.output = output

    def _present(self, layer):
        present = []
        for path in self.paths:
            owner = layer
            for name in path.split("."):
                owner = _child(owner, name)
                if owner is None:  # an optional sublayer or weight this layer has not
                    break
                if owner is _MISSING:
                    raise ConfigError(
                        f"layer {layer.name!r} has no weight {path!r} (is the layer built?)"
                    )
            if owner is not None:
                present.append(path)
        return present

    def get_weights_and_quantizers(self, layer):
        self._used = self._present(layer)
        return [(getattr(*_resolve(layer, p)), WeightQuantizer()) for p in self._used]

    def set_quantize_weights(self, layer, quantize_weights):
        # Dense/our layers read e.g. ``self.kernel`` in ``call``: replacing the
        # attribute makes the sublayer compute with the fake-quantized tensor (the
        # variable itself is kept, and trained, by the wrapper).
        for path, weight in zip(self._used, quantize_weights):
            owner, attribute = _resolve(layer, path)
            setattr(owner, attribute, tf.cast(weight, owner.compute_dtype))

    def get_activations_and_quantizers(self, layer):
        return []

    def set_quantize_activations(self, layer, quantize_activations):
        pass

    def get_output_quantizers(self, layer):
        return [ActivationQuantizer()] if self.output else []

    def get_config(self):
        return {"paths": self.paths, "output": self.output}
