"""The QAT scheme for our Transformer layers (a TF-MOT ``QuantizeScheme``).

TF-MOT's default 8-bit scheme knows Keras Dense/Conv, not attention, LayerNorm or
embeddings. Ours has the two parts TF-MOT's schemes have:

* the **registry** maps each supported layer class to its quantized subclass
  (``quantized_layers``: fake-quant points inside the layer) and a
  ``WeightsQuantizeConfig`` naming the weights to quantize, nested ones included;
* the **layout transform** replaces the layers of a flat functional model by
  their quantized subclasses, with the same weights.

Classes match exactly: a subclass of a supported layer (e.g. a MobileBERT head
derived from MaskedLMHead) may compute differently and must be registered itself.

Raw TF ops written on Keras tensors in a model become ``TFOpLambda`` layers. Those
that only move values (slicing such as ``sequence_output[:, 0]``, reshapes,
transposes) *pass through*: they are kept, unwrapped and unquantized, since their
output holds the input's values (already on the input's int8 grid) and TFLite runs
them in int8 with the input's scale. Any other op layer is refused.
"""

import re

import tf_keras as keras
from tensorflow_model_optimization.python.core.quantization.keras import (
    quantize_layout_transform,
    quantize_registry,
    quantize_scheme,
)
from tf_keras.src.layers.core.tf_op_layer import SlicingOpLambda, TFOpLambda

from tfmodels.compression import quantized_layers as ql
from tfmodels.compression.quantize_configs import WeightsQuantizeConfig
from tfmodels.errors import ConfigError
from tfmodels.layers import (
    BottleneckEncoderBlock,
    ClassificationHead,
    DisentangledEncoderBlock,
    MaskedLMHead,
    Pooler,
    RelativeEmbeddings,
    TransformerEmbeddings,
    TransformerEncoderBlock,
    TrigramEmbeddings,
)
from tfmodels.layers.padding import ZeroPaddingPositions

_ATTENTION = ("query", "key", "value", "output_dense")
_ENCODER_BLOCK = tuple(f"attention.{d}.kernel" for d in _ATTENTION) + (
    "intermediate.kernel",
    "output_dense.kernel",
)
_EMBEDDING_TABLES = ("word_embeddings", "position_embeddings", "token_type_embeddings")
# TF ops that only move values (``TFOpLambda.symbol``); slicing is a SlicingOpLambda.
LAYOUT_OPS = (
    "__operators__.getitem",
    "compat.v1.squeeze",
    "compat.v1.transpose",
    "expand_dims",
    "identity",
    "reshape",
    "squeeze",
    "strided_slice",
    "transpose",
)


def _bottleneck_block_weights(block):
    """The weights of a MobileBERT block: its number of stacked FFNs varies."""
    bottlenecks = ("input_bottleneck", "attention_bottleneck", "output_bottleneck")
    return (
        tuple(f"{name}.kernel" for name in bottlenecks)
        + tuple(f"attention.{d}.kernel" for d in _ATTENTION)
        + tuple(
            f"ffns.{i}.{dense}.kernel"
            for i in range(block.num_ffn)
            for dense in ("intermediate", "output_dense")
        )
    )


# layer class -> (quantized subclass, weight paths, quantize the layer output?)
_DEFAULT_LAYERS = {
    TransformerEmbeddings: (
        ql.QuantizedTransformerEmbeddings,
        _EMBEDDING_TABLES + ("projection.kernel",),
        False,
    ),
    TransformerEncoderBlock: (ql.QuantizedTransformerEncoderBlock, _ENCODER_BLOCK, False),
    # MobileBERT
    TrigramEmbeddings: (
        ql.QuantizedTrigramEmbeddings,
        _EMBEDDING_TABLES + ("projection.kernel",),
        False,
    ),
    BottleneckEncoderBlock: (ql.QuantizedBottleneckEncoderBlock, _bottleneck_block_weights, False),
    # DeBERTa
    DisentangledEncoderBlock: (
        ql.QuantizedDisentangledEncoderBlock,
        _ENCODER_BLOCK + ("attention.position_key.kernel", "attention.position_query.kernel"),
        False,
    ),
    RelativeEmbeddings: (ql.QuantizedRelativeEmbeddings, ("embeddings",), False),
    ZeroPaddingPositions: (ql.QuantizedZeroPaddingPositions, (), False),
    Pooler: (ql.QuantizedPooler, ("dense.kernel",), False),
    ClassificationHead: (ql.QuantizedClassificationHead, ("inner.kernel", "out.kernel"), False),
    MaskedLMHead: (ql.QuantizedMaskedLMHead, ("transform.kernel", "word_table"), True),
    keras.layers.Dense: (ql.QuantizedDense, ("kernel",), False),
}


class TransformerQuantizeRegistry(quantize_registry.QuantizeRegistry):
    """Supported layer classes -> (quantized subclass, QuantizeConfig)."""

    def __init__(self):
        self._layers = {}
        for layer_class, entry in _DEFAULT_LAYERS.items():
            self.register(layer_class, *entry)

    def register(self, layer_class, quantized_class, weight_paths, quantize_output=False):
        """Adds a layer class: ``quantized_class`` (a subclass with the same
        ``get_config`` and weights, fake-quant points inside; may be
        ``layer_class`` itself) and the dotted paths of the weights to quantize
        (``ffns.0.intermediate.kernel`` indexes a list of sublayers), or a function
        of the layer that returns them."""
        paths = weight_paths if callable(weight_paths) else tuple(weight_paths)
        entry = (quantized_class, paths, quantize_output)
        self._layers[layer_class] = entry
        self._layers[quantized_class] = entry

    def supports(self, layer):
        return type(layer) in self._layers or self.passes_through(layer)

    def passes_through(self, layer):
        """Whether ``layer`` is a TF op layer that only moves values (kept unquantized)."""
        return isinstance(layer, SlicingOpLambda) or (
            type(layer) is TFOpLambda and layer.symbol in LAYOUT_OPS
        )

    def quantized_class(self, layer):
        if self.passes_through(layer):
            return type(layer)
        return self._entry(layer)[0]

    def get_quantize_config(self, layer):
        _, paths, output = self._entry(layer)
        if callable(paths):
            paths = paths(layer)
        return WeightsQuantizeConfig(paths, output=output)

    def supported_names(self):
        return sorted({cls.__name__ for cls in self._layers})

    def _entry(self, layer):
        if type(layer) not in self._layers:
            op = f" (op {layer.symbol})" if isinstance(layer, TFOpLambda) else ""
            raise ConfigError(
                f"layer {layer.name!r} ({type(layer).__name__}) is not supported by QAT{op}; "
                f"supported: {', '.join(self.supported_names())}, and TF op layers that "
                f"only move values ({', '.join(LAYOUT_OPS)}). Register a quantized "
                "version with TransformerQuantizeRegistry.register(...) and pass the "
                "scheme to quantize_model, or remove the layer before quantizing"
            )
        return self._layers[type(layer)]


def _relative_name(variable, layer):
    """``attention/query/kernel`` for ``encoder/layer_0_1/attention/query/kernel:0``
    in ``layer_0``: the variable's path inside its layer (a name scope may have
    been made unique with a suffix)."""
    parts = variable.name.split(":")[0].split("/")
    own = re.compile(re.escape(layer.name) + r"(_\d+)?$")
    for i, part in enumerate(parts):
        if own.match(part):
            return "/".join(parts[i + 1 :])
    return "/".join(parts)


def copy_weights(source, target):
    """Assigns ``source``'s weights to the same-path weights of ``target`` (its
    quantized subclass); the fake-quant ranges are the only extra variables."""
    values = {_relative_name(v, source): v for v in source.weights}
    ranges = {
        id(v)
        for layer in target._flatten_layers()
        if isinstance(layer, ql.FakeQuant)
        for v in layer.weights
    }
    used = set()
    for variable in target.weights:
        if id(variable) in ranges:
            continue
        name = _relative_name(variable, target)
        value = values.get(name)
        if value is None or value.shape != variable.shape:
            raise ConfigError(
                f"layer {target.name!r}: no weight {name!r} "
                f"{variable.shape} in {source.name!r} to copy"
            )
        variable.assign(value)
        used.add(name)
    missing = sorted(set(values) - used)
    if missing:
        raise ConfigError(
            f"layer {target.name!r}: weights {missing} of {source.name!r} "
            "have no place in its quantized version"
        )


class TransformerLayoutTransform(quantize_layout_transform.QuantizeLayoutTransform):
    """Replaces each layer of a functional model by its quantized subclass."""

    def __init__(self, registry):
        self.registry = registry

    def apply(self, model, layer_quantize_map):
        copies = {}

        def quantized_copy(layer):
            copy = self.registry.quantized_class(layer).from_config(layer.get_config())
            if isinstance(layer, MaskedLMHead):
                # Keep the weight tie: the head reads the *copied* embedding table.
                if id(layer.embedding_layer) not in copies:
                    raise ConfigError(
                        f"layer {layer.name!r}: its tied embedding layer "
                        f"{layer.embedding_layer.name!r} is not in the model"
                    )
                copy.embedding_layer = copies[id(layer.embedding_layer)]
            copies[id(layer)] = copy
            return copy

        transformed = keras.models.clone_model(model, clone_function=quantized_copy)
        for layer in model.layers:
            if id(layer) in copies:
                copy_weights(layer, copies[id(layer)])
        return transformed, layer_quantize_map


class TransformerQuantizeScheme(quantize_scheme.QuantizeScheme):
    """8-bit QAT for our layers, laid out for TFLite's builtin int8 kernels."""

    def __init__(self, registry=None):
        self.registry = registry or TransformerQuantizeRegistry()

    def get_layout_transformer(self):
        return TransformerLayoutTransform(self.registry)

    def get_quantize_registry(self):
        return self.registry
