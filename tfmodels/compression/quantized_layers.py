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

Converted (measured on MiniLM-L6): FULLY_CONNECTED, BATCH_MATMUL, GELU, TANH,
the embedding GATHERs (int8 tables), the query scaling MUL and the layout ops run
in int8; the sum of the three embeddings, the residual additions, the LayerNorm
arithmetic and the masked softmax's exp/sum/division stay float (their outputs
get no range: they feed LayerNorm or softmax, which have no int8 path here),
behind QUANTIZE/DEQUANTIZE ops.
"""

import math

import tensorflow as tf
import tf_keras as keras
from tensorflow_model_optimization.python.core.keras import utils as tfmot_utils

from tfmodels.compression.quantize_configs import ActivationQuantizer
from tfmodels.layers import (
    ClassificationHead,
    MaskedLMHead,
    MultiHeadAttention,
    Pooler,
    TransformerEmbeddings,
    TransformerEncoderBlock,
)
from tfmodels.layers.attention import attention_allowed, masked_softmax


class FakeQuant(keras.layers.Layer):
    """One activation quantization point (an :class:`ActivationQuantizer` with its
    own min/max variables). Identity shape; ``training`` comes from the caller."""

    def __init__(self, ema_decay=0.99, **kwargs):
        super().__init__(**kwargs)
        self.ema_decay = ema_decay
        self.quantizer = ActivationQuantizer(ema_decay)

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
        return config


_FUSED = {keras.activations.linear, keras.activations.relu, tf.identity, tf.nn.relu}


class QuantizedActivation(keras.layers.Layer):
    """Takes a Dense layer's ``activation`` slot: FC output point, activation,
    activation output point.

    TFLite fuses only ReLU-type activations into FULLY_CONNECTED; before any other
    (GELU, tanh) the FC output is an int8 tensor of its own and needs a range, as
    TF-MOT's ``QuantizeAwareActivation`` does for gelu/softmax.
    """

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activation
        self.fc_output = None if activation in _FUSED else FakeQuant(name="fc_output")
        self.output_quantize = FakeQuant(name="output")

    def call(self, x):
        if self.fc_output is not None:
            x = self.fc_output(x)
        return self.output_quantize(self.activation(x))


def quantize_dense(dense):
    """Puts a :class:`QuantizedActivation` in ``dense``'s activation slot."""
    dense.activation = QuantizedActivation(dense.activation, name="quantized_activation")
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


def _quantized_layer_norm(layer_norm):
    return QuantizedLayerNormalization.from_config(layer_norm.get_config())


class QuantizedMultiHeadAttention(MultiHeadAttention):
    """Points on both operands and the result of each attention matmul
    (Q K^T and probs V become int8 BATCH_MATMULs) and on every projection output.
    The masked softmax between them stays float."""

    def build(self, input_shape):
        super().build(input_shape)
        for dense in (self.query, self.key, self.value, self.output_dense):
            quantize_dense(dense)
        self.scaled_query = FakeQuant(name="scaled_query")
        self.scores = FakeQuant(name="scores")
        self.probs = FakeQuant(name="probs")
        self.context = FakeQuant(name="context")

    # Same computation as MultiHeadAttention.call, with the four points (the base
    # class has no hook for a point between its ops).
    def call(
        self,
        query,
        key_value=None,
        attention_mask=None,
        training=None,
        return_attention_scores=False,
    ):
        key_value = query if key_value is None else key_value
        q = self.scaled_query(
            self._split_heads(self.query(query)) * (1.0 / math.sqrt(self.head_size))
        )
        k = self._split_heads(self.key(key_value))
        v = self._split_heads(self.value(key_value))
        scores = self.scores(tf.einsum("bhqd,bhkd->bhqk", q, k))
        allowed = attention_allowed(attention_mask, tf.shape(query)[1], self.causal)
        probs = masked_softmax(tf.cast(scores, tf.float32), allowed)
        probs = self.probs(tf.cast(probs, self.compute_dtype))
        context = self.gate(tf.einsum("bhqk,bhkd->bhqd", self.dropout(probs, training=training), v))
        context = tf.transpose(self.context(context), [0, 2, 1, 3])
        batch, length = tf.shape(context)[0], tf.shape(context)[1]
        context = tf.reshape(context, [batch, length, self.num_heads * self.head_size])
        output = self.output_dense(context)
        if return_attention_scores:
            return output, probs
        return output


class QuantizedTransformerEncoderBlock(TransformerEncoderBlock):
    """The block with quantized attention, LayerNorm outputs and FFN Dense outputs.

    The sublayers are swapped in ``build`` before they have weights, so the
    variables keep the names of :class:`TransformerEncoderBlock`'s.
    """

    def build(self, input_shape):
        super().build(input_shape)
        self.attention = QuantizedMultiHeadAttention.from_config(self.attention.get_config())
        self.attention_layer_norm = _quantized_layer_norm(self.attention_layer_norm)
        self.output_layer_norm = _quantized_layer_norm(self.output_layer_norm)
        quantize_dense(self.intermediate)
        quantize_dense(self.output_dense)


class QuantizedTransformerEmbeddings(TransformerEmbeddings):
    """Embeddings whose LayerNorm output (and projection output, if factorized) is
    quantized. The gathers and their sum stay float; the tables are int8 weights."""

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
