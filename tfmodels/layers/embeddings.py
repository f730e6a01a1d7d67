"""Input embeddings: word + learned position + token type, LayerNorm, dropout.

BERT (Devlin et al. 2019, section 3, "Input/Output Representations") sums the three
tables. ALBERT's factorized embedding (Lan et al. 2020, section 3.1) keeps the
tables at width E and projects E -> H after the LayerNorm; ELECTRA does the same
for its small generator. RoBERTa numbers positions from ``padding_idx + 1``,
which ``position_offset`` expresses. GPT-2 (Radford et al. 2019, section 2.3) has no
LayerNorm here (``layer_norm=False``): its pre-LN blocks normalize their inputs.
``perturbation`` (None unless adversarial fine-tuning sets it,
:mod:`tfmodels.training.sift`) rewrites the sum before the LayerNorm.
"""

import tensorflow as tf
import tf_keras as keras

from tfmodels.layers.dropout import Dropout
from tfmodels.layers.initializer import weight_initializer
from tfmodels.layers.layer_norm import LayerNormalization


def lookup(table, ids):
    """Rows ``ids`` of an embedding ``table`` (variable or tensor), read densely first.

    A gather straight from a resource variable puts TensorFlow's variable into
    copy-on-read mode, after which every dense read copies it: a tied LM head then
    copies the whole table at each call (GPT-2's 154 MB: 170 ms instead of 20 ms per
    decoding step on CPU). Reading the variable as a tensor and gathering from that
    keeps reads free; the gradient is the same.

    Under mixed precision the rows are gathered from the float32 table and then cast:
    reading the table through its autocast would cast all of it (MiniLM's 11.7M word
    embeddings: 8 ms of every bf16 step) to use a few hundred rows.
    """
    variable = getattr(table, "_variable", None)  # an AutoCastVariable's own variable
    if variable is not None and variable.dtype != table.dtype:
        return tf.cast(tf.gather(tf.convert_to_tensor(variable), ids), table.dtype)
    return tf.gather(tf.convert_to_tensor(table), ids)


class TransformerEmbeddings(keras.layers.Layer):
    """Call: ``layer(input_ids, segment_ids=None, training=None, positions=None)`` ->
    [B, S, H]. ``positions`` [B, S] replace ``0..S-1`` (before ``position_offset``):
    incremental decoding embeds one token at its place in the sequence."""

    def __init__(
        self,
        vocab_size,
        embedding_size,
        max_positions=512,
        type_vocab_size=2,
        hidden_size=None,
        layer_norm_eps=1e-12,
        dropout_rate=0.1,
        initializer_range=0.02,
        position_offset=0,
        layer_norm=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.embedding_size = embedding_size
        self.max_positions = max_positions
        self.type_vocab_size = type_vocab_size
        self.hidden_size = hidden_size or embedding_size
        self.layer_norm_eps = layer_norm_eps
        self.dropout_rate = dropout_rate
        self.initializer_range = initializer_range
        self.position_offset = position_offset
        self.use_layer_norm = layer_norm
        self.perturbation = None  # a callable on the summed embeddings, set by SiFT

    def build(self, input_shape):
        self.word_embeddings = self.add_weight(
            "word_embeddings",
            [self.vocab_size, self.embedding_size],
            initializer=weight_initializer(self.initializer_range),
        )
        self.position_embeddings = None
        if self.max_positions:
            self.position_embeddings = self.add_weight(
                "position_embeddings",
                [self.max_positions, self.embedding_size],
                initializer=weight_initializer(self.initializer_range),
            )
        self.token_type_embeddings = None
        if self.type_vocab_size:
            self.token_type_embeddings = self.add_weight(
                "token_type_embeddings",
                [self.type_vocab_size, self.embedding_size],
                initializer=weight_initializer(self.initializer_range),
            )
        self.layer_norm = None
        if self.use_layer_norm:
            self.layer_norm = LayerNormalization(
                epsilon=self.layer_norm_eps, name="layer_norm", dtype=tf.float32
            )
        self.dropout = Dropout(self.dropout_rate)
        self.projection = None
        if self.hidden_size != self.embedding_size:
            self.projection = keras.layers.Dense(
                self.hidden_size,
                kernel_initializer=weight_initializer(self.initializer_range),
                name="projection",
            )
        super().build(input_shape)

    def call(self, input_ids, segment_ids=None, training=None, positions=None):
        x = lookup(self.word_embeddings, input_ids)
        if self.position_embeddings is not None:
            if positions is None:
                positions = tf.range(tf.shape(input_ids)[1])[tf.newaxis]
            x += tf.gather(self.position_embeddings, positions + self.position_offset)
        if self.token_type_embeddings is not None:
            if segment_ids is None:
                segment_ids = tf.zeros_like(input_ids)
            x += tf.gather(self.token_type_embeddings, segment_ids)
        if self.perturbation is not None:
            x = self.perturbation(x)
        if self.layer_norm is not None:
            x = self.layer_norm(x)
        x = tf.cast(self.dropout(x, training=training), self.compute_dtype)
        if self.projection is not None:
            x = self.projection(x)
        return x

    def get_config(self):
        config = super().get_config()
        config.update(
            vocab_size=self.vocab_size,
            embedding_size=self.embedding_size,
            max_positions=self.max_positions,
            type_vocab_size=self.type_vocab_size,
            hidden_size=self.hidden_size,
            layer_norm_eps=self.layer_norm_eps,
            dropout_rate=self.dropout_rate,
            initializer_range=self.initializer_range,
            position_offset=self.position_offset,
        )
        if not self.use_layer_norm:  # only when set: older saved configs stay as they were
            config["layer_norm"] = False
        return config
