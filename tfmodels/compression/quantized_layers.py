"""Our layers with fake-quant points where TFLite's int8 model holds a tensor.

The TFLite converter gives an op an int8 kernel only when every input and the
output of the op carry a quantization range; in a QAT model those ranges come
from fake-quant ops. A Dense output is a layer's output, but most tensors that
need a range sit *inside* our layers: the inputs and outputs of the two attention
matmuls (Vaswani et al. 2017, eq. 1), the LayerNorm outputs that feed the next
Dense, the FC output in front of a GELU/tanh that TFLite does not fuse. Each
class here is a subclass with the same weights (same variable names) and the
same math; :class:`FakeQuant` marks the points. Weights are quantized from the
outside by TF-MOT's wrapper (see ``quantize_configs``).

The other families' layers follow the same rules: MobileBERT's bottleneck Dense
layers, NoNorms (their output, as a LayerNorm's) and trigram projection; DeBERTa's
content->position and position->content matmuls and the projections of its relative
table (its embeddings' padding rows are zeroed by an int8 selection, no new point).

Converted (measured on MiniLM-L6): FULLY_CONNECTED, BATCH_MATMUL, GELU, TANH,
the embedding GATHERs (int8 tables), the query scaling MUL and the layout ops run
in int8; the sum of the three embeddings, the residual additions, the LayerNorm
arithmetic and the masked softmax's exp/sum/division stay float (their outputs
get no range: they feed LayerNorm or softmax, which have no int8 path here),
behind QUANTIZE/DEQUANTIZE ops.
"""

import tensorflow as tf
import tf_keras as keras
from tensorflow_model_optimization.python.core.keras import utils as tfmot_utils

from tfmodels.compression.quantize_configs import ActivationQuantizer
from tfmodels.layers import (
    BottleneckEncoderBlock,
    ClassificationHead,
    DisentangledAttention,
    DisentangledEncoderBlock,
    FeedForward,
    MaskedLMHead,
    MultiHeadAttention,
    NoNorm,
    Pooler,
    RelativeEmbeddings,
    SplitValueAttention,
    TransformerEmbeddings,
    TransformerEncoderBlock,
    TrigramEmbeddings,
)
from tfmodels.layers.attention import INT8_MASK_PENALTY
from tfmodels.layers.padding import ZeroPaddingPositions


class FakeQuant(keras.layers.Layer):
    """One activation quantization point (an :class:`ActivationQuantizer` with its
    own min/max variables). Identity shape; ``training`` comes from the caller."""

    def __init__(self, ema_decay=0.99, fixed_range=None, symmetric=False, **kwargs):
        super().__init__(**kwargs)
        self.ema_decay = ema_decay
        self.fixed_range = None if fixed_range is None else tuple(fixed_range)
        self.symmetric = symmetric
        self.quantizer = ActivationQuantizer(ema_decay, self.fixed_range, symmetric)

    def build(self, input_shape):
        self.range = self.quantizer.build(input_shape, "range", self)
        super().build(input_shape)

    def call(self, x, training=None):
        if training is None:
            training = keras.backend.learning_phase()
        return tfmot_utils.smart_cond(
            training,
            lambda: self.quantizer(x, True, self.range),
            lambda: self.quantizer(x, False, self.range),
        )

    def get_config(self):
        config = super().get_config()
        config.update(ema_decay=self.ema_decay)
        if self.fixed_range is not None:
            config["fixed_range"] = list(self.fixed_range)
        if self.symmetric:
            config["symmetric"] = True
        return config


# TFLite's int8 SOFTMAX has a fixed output scale (1/256) and zero point (-128).
SOFTMAX_OUTPUT_RANGE = (0.0, 255 / 256)
_FUSED = {keras.activations.linear, keras.activations.relu, tf.identity, tf.nn.relu}
# TFLite's int8 TANH and LOGISTIC kernels have a fixed output scale and zero point.
_FIXED_OUTPUT_RANGE = {
    keras.activations.tanh: (-1.0, 127 / 128),
    tf.math.tanh: (-1.0, 127 / 128),
    keras.activations.sigmoid: (0.0, 255 / 256),
    tf.math.sigmoid: (0.0, 255 / 256),
}


class QuantizedActivation(keras.layers.Layer):
    """Takes a Dense layer's ``activation`` slot: FC output point, activation,
    activation output point.

    TFLite fuses only ReLU-type activations into FULLY_CONNECTED; before any other
    (GELU, tanh) the FC output is an int8 tensor of its own and needs a range, as
    TF-MOT's ``QuantizeAwareActivation`` does for gelu/softmax. After tanh and
    sigmoid the range is TFLite's fixed one (``ActivationQuantizer.fixed_range``).
    """

    def __init__(self, activation, symmetric=False, **kwargs):
        super().__init__(**kwargs)
        self.activation = activation
        self.fc_output = None if activation in _FUSED else FakeQuant(name="fc_output")
        self.output_quantize = FakeQuant(
            name="output", fixed_range=_FIXED_OUTPUT_RANGE.get(activation), symmetric=symmetric
        )

    def call(self, x):
        if self.fc_output is not None:
            x = self.fc_output(x)
        return self.output_quantize(self.activation(x))


def quantize_dense(dense, symmetric=False):
    """Puts a :class:`QuantizedActivation` in ``dense``'s activation slot; ``symmetric``:
    an output range of int8 zero point 0 (see :class:`QuantizedMultiHeadAttention`)."""
    dense.activation = QuantizedActivation(
        dense.activation, symmetric=symmetric, name="quantized_activation"
    )
    return dense


class QuantizedDense(keras.layers.Dense):
    """A Dense whose output (and pre-activation output, if not fused) is quantized."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        quantize_dense(self)

    def get_config(self):
        # Serialize the float activation (bypassing Keras attribute tracking).
        quantized = self.activation
        object.__setattr__(self, "activation", quantized.activation)
        try:
            return super().get_config()
        finally:
            object.__setattr__(self, "activation", quantized)


class QuantizedLayerNormalization(keras.layers.LayerNormalization):
    """LayerNorm whose output is quantized: it feeds the next block's Dense layers,
    whose int8 inputs need a range. The normalization itself stays float."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.output_quantize = FakeQuant(name="output")

    def call(self, inputs):
        return self.output_quantize(super().call(inputs))


class QuantizedNoNorm(NoNorm):
    """MobileBERT's NoNorm (``x * gamma + beta``) with its output quantized, for the
    same reason as :class:`QuantizedLayerNormalization`; the affine map stays float."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.output_quantize = FakeQuant(name="output")

    def call(self, x):
        return self.output_quantize(super().call(x))


def _quantized_layer_norm(layer_norm):
    """The quantized version of a LayerNorm or NoNorm (same config, same weights).

    A norm the float layer has already built (one its ``build`` builds although its
    ``call`` never runs it) is built here too, so that its weights have a place."""
    if isinstance(layer_norm, NoNorm):  # no get_config (its dtype argument is a DType)
        quantized = QuantizedNoNorm(name=layer_norm.name, dtype=layer_norm.dtype_policy)
    else:
        quantized = QuantizedLayerNormalization.from_config(layer_norm.get_config())
    if layer_norm.built:
        quantized.build(tf.TensorShape([None, layer_norm.gamma.shape[-1]]))
    return quantized


class QuantizedMultiHeadAttention(MultiHeadAttention):
    """Points on both operands and the result of each attention matmul
    (Q K^T and probs V become int8 BATCH_MATMULs) and on every projection output.

    The keys and values, the right operands of the two matmuls, get symmetric ranges
    (zero point 0): XNNPACK runs an int8 BATCH_MATMUL only then, else LiteRT's far
    slower builtin kernel does (as :mod:`tfmodels.export.calibration` does for
    calibrated files). The probabilities take the fixed output range of TFLite's int8
    SOFTMAX, [0, 255/256], so training rounds them as the file does.

    The masked scores get a point of their own, and disallowed keys score
    ``-INT8_MASK_PENALTY`` in training too: that is what the exported file computes
    (its int8 SELECT clips the penalty to the scores' range otherwise: -8.9 instead of
    -16 in the demo classifier's last layer, which gave padded keys weight)."""

    mask_penalty = INT8_MASK_PENALTY

    def build(self, input_shape):
        super().build(input_shape)
        for dense in (self.query, self.output_dense):
            quantize_dense(dense)
        for dense in (self.key, self.value):
            quantize_dense(dense, symmetric=True)
        self.scaled_query = FakeQuant(name="scaled_query")
        self.scores = FakeQuant(name="scores")
        self.masked_scores = FakeQuant(name="masked_scores")
        self.probs = FakeQuant(name="probs", fixed_range=SOFTMAX_OUTPUT_RANGE)
        self.context = FakeQuant(name="context")

    def _point(self, name, x):
        """The fake-quant point called ``name`` on ``x``, where this layer has one (the
        float layer's computation calls this between its ops)."""
        point = getattr(self, name, None)
        return x if point is None else point(x)


class QuantizedSplitValueAttention(QuantizedMultiHeadAttention, SplitValueAttention):
    """MobileBERT's attention (values from another tensor than keys) with the points
    of :class:`QuantizedMultiHeadAttention`."""


class QuantizedDisentangledAttention(QuantizedMultiHeadAttention, DisentangledAttention):
    """DeBERTa's attention with points on the operands and results of its matmuls.

    Content->content, content->position and position->content scores are three int8
    BATCH_MATMULs (each result quantized); their sum, the scaling and the masked
    softmax stay float, as in :class:`QuantizedMultiHeadAttention`. Where the
    position projections are the content key/query Dense layers
    (``share_att_key``), their output on the relative table gets a point of its own
    (``position_key_output``, ``position_query_output``): its range is not the
    content keys'.
    """

    def build(self, input_shape):
        super().build(input_shape)  # DisentangledAttention's, then the points above
        # The queries are not scaled before the matmul here: the query Dense's output
        # point covers them.
        del self.scaled_query
        for dense in (self.position_key, self.position_query):
            if dense is not None:
                quantize_dense(dense)
        self.c2p = FakeQuant(name="c2p") if "c2p" in self.pos_att_type else None
        self.p2c = FakeQuant(name="p2c") if "p2c" in self.pos_att_type else None
        shared = self.share_att_key
        self.position_key_output = FakeQuant(name="position_key_output") if shared else None
        self.position_query_output = FakeQuant(name="position_query_output") if shared else None

    def _project(self, table, shared, own, name):
        if not self.share_att_key:
            return super()._project(table, shared, own, name)
        # The shared Dense computed by hand (its quantized kernel, not its content
        # output point): x W + b, then the point of its own.
        projected = tf.matmul(table, tf.cast(shared.kernel, self.compute_dtype))
        if shared.use_bias:
            projected = tf.nn.bias_add(projected, tf.cast(shared.bias, self.compute_dtype))
        return self._split_heads(self._point(name, projected[tf.newaxis]))[0]


class QuantizedTransformerEncoderBlock(TransformerEncoderBlock):
    """The block with quantized attention, LayerNorm outputs and FFN Dense outputs.

    The sublayers are swapped in ``build`` before they have weights, so the
    variables keep the names of :class:`TransformerEncoderBlock`'s.
    """

    attention_class = QuantizedMultiHeadAttention

    def build(self, input_shape):
        super().build(input_shape)
        self.attention = self.attention_class.from_config(self.attention.get_config())
        self.attention_layer_norm = _quantized_layer_norm(self.attention_layer_norm)
        self.output_layer_norm = _quantized_layer_norm(self.output_layer_norm)
        quantize_dense(self.intermediate)
        quantize_dense(self.output_dense)


class QuantizedDisentangledEncoderBlock(QuantizedTransformerEncoderBlock, DisentangledEncoderBlock):
    """DeBERTa's block: :class:`QuantizedTransformerEncoderBlock` with
    :class:`QuantizedDisentangledAttention`."""

    attention_class = QuantizedDisentangledAttention


class QuantizedRelativeEmbeddings(RelativeEmbeddings):
    """DeBERTa's relative table (an int8 weight) with its output -- after the
    LayerNorm, if any -- quantized: it feeds the position projections."""

    def build(self, input_shape):
        super().build(input_shape)
        self.output_quantize = FakeQuant(name="output")

    def call(self, x):
        return self.output_quantize(super().call(x))


class QuantizedZeroPaddingPositions(ZeroPaddingPositions):
    """DeBERTa's zeroing of the padding rows as a selection instead of a product by
    the mask (the same values): an int8 SELECT_V2 that keeps its input's range (already
    quantized, with 0 on its grid), where a float product would need a range of its
    own and requantize."""

    def call(self, x, input_mask):
        keep = tf.cast(input_mask, tf.bool)[:, :, tf.newaxis]
        return tf.where(keep, x, tf.zeros_like(x))


class QuantizedFeedForward(FeedForward):
    """One of MobileBERT's stacked FFNs: both Dense outputs and the norm output quantized."""

    def build(self, input_shape):
        super().build(input_shape)
        quantize_dense(self.intermediate)
        quantize_dense(self.output_dense)
        self.layer_norm = _quantized_layer_norm(self.layer_norm)


class QuantizedBottleneckEncoderBlock(BottleneckEncoderBlock):
    """MobileBERT's block: every Dense output and every norm output quantized (the
    bottleneck norms feed the attention, the attention norm the FFNs, the output norm
    the next block); :class:`QuantizedSplitValueAttention`; the residual sums and the
    norms' arithmetic stay float."""

    def build(self, input_shape):
        super().build(input_shape)
        for dense in (
            self.input_bottleneck,
            self.attention_bottleneck,
            self.output_bottleneck,
        ):
            if dense is not None:
                quantize_dense(dense)
        for name in (
            "input_bottleneck_norm",
            "attention_bottleneck_norm",
            "attention_norm",
            "output_norm",
        ):
            norm = getattr(self, name)
            if norm is not None:
                setattr(self, name, _quantized_layer_norm(norm))
        self.attention = QuantizedSplitValueAttention.from_config(self.attention.get_config())
        self.ffns = [QuantizedFeedForward.from_config(ffn.get_config()) for ffn in self.ffns]


class QuantizedTransformerEmbeddings(TransformerEmbeddings):
    """Embeddings whose LayerNorm output (and projection output, if factorized) is
    quantized. The gathers and their sum stay float; the tables are int8 weights."""

    def build(self, input_shape):
        super().build(input_shape)
        self.layer_norm = _quantized_layer_norm(self.layer_norm)
        if self.projection is not None:
            quantize_dense(self.projection)


class QuantizedTrigramEmbeddings(TrigramEmbeddings):
    """MobileBERT's embeddings: the trigram projection's output and the norm output
    quantized. The gathers (int8 table), their shifted copies and their concatenation
    are int8 layout ops; the sum with the position and token-type rows stays float."""

    def build(self, input_shape):
        super().build(input_shape)
        self.layer_norm = _quantized_layer_norm(self.layer_norm)
        if self.projection is not None:
            quantize_dense(self.projection)


class QuantizedPooler(Pooler):
    """Pooler with its Dense (FC output, tanh output) quantized."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        quantize_dense(self.dense)


class QuantizedClassificationHead(ClassificationHead):
    """Classification head with its Dense layers' outputs quantized."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for dense in (self.inner, self.out):
            if dense is not None:
                quantize_dense(dense)


class QuantizedMaskedLMHead(MaskedLMHead):
    """MLM head with its transform Dense and LayerNorm outputs quantized; the logits
    (a layer output) get the wrapper's output quantizer.

    The tied word table is also held as ``word_table`` and fake-quantized by this
    layer's own wrapper: the embedding layer's quantized table is a tensor of that
    layer's call, which Keras traces separately when saving (SavedModel, TFLite).
    """

    def build(self, input_shape):
        super().build(input_shape)
        quantize_dense(self.transform)
        self.layer_norm = _quantized_layer_norm(self.layer_norm)
        self.word_table = self.embedding_layer.word_embeddings

    def call(self, sequence_output):
        x = tf.cast(self.layer_norm(self.transform(sequence_output)), self.compute_dtype)
        logits = tf.einsum("bse,ve->bsv", x, tf.cast(self.word_table, self.compute_dtype))
        return logits + tf.cast(self.bias, self.compute_dtype)
