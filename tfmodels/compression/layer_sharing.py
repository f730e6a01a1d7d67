"""Cross-layer parameter sharing applied to a fine-tuned BERT classifier (ALBERT, section 3.1).

ALBERT trains one block that every layer reuses; here a trained BERT-style
classifier is turned into that shape after the fact: an ALBERT classifier of the
same widths and depth whose single shared block starts from the element-wise mean
of the teacher's blocks, and whose embeddings, pooler and classifier are the
teacher's own. The E -> H projection ALBERT keeps even when E == H starts as the
identity, so nothing but the blocks changes. The encoder's parameters shrink by
(L - 1) blocks; the compute per token does not (every layer still runs), so the
gain is in file size, not latency. A recovery fine-tune follows, as for every
compression method.
"""

import numpy as np

from tfmodels.compression.distill import encoder_of
from tfmodels.errors import ConfigError
from tfmodels.models import albert

_SHARED_FIELDS = (
    "vocab_size",
    "hidden_size",
    "num_layers",
    "num_heads",
    "intermediate_size",
    "max_position_embeddings",
    "type_vocab_size",
    "layer_norm_eps",
    "initializer_range",
)


def shared_config(config):
    """The ALBERT config with one shared block and the teacher's widths (E = H)."""
    fields = {name: getattr(config, name) for name in _SHARED_FIELDS}
    return albert.Config(
        embedding_size=config.hidden_size,
        num_hidden_groups=1,
        hidden_act=config.hidden_act,
        hidden_dropout=config.hidden_dropout,
        attention_dropout=config.attention_dropout,
        classifier_dropout=config.hidden_dropout,
        **fields,
    )


def share_layers(classifier):
    """An :class:`albert.AlbertForSequenceClassification` whose one block is the mean of
    ``classifier``'s."""
    encoder = encoder_of(classifier)
    config = encoder.config
    if getattr(config, "family", None) != "bert" or encoder.pooler_layer is None:
        raise ConfigError(
            f"layer sharing needs a BERT classifier with a pooler, got {classifier.architecture}"
        )
    if config.pruned_heads or config.embedding_size not in (None, config.hidden_size):
        raise ConfigError(
            "layer sharing needs equal blocks and E = H: this model has pruned heads "
            "or a factorized embedding"
        )
    num_labels = classifier.head_args.get("num_labels", 2)
    student = albert.AlbertForSequenceClassification(shared_config(config), num_labels=num_labels)
    shared = student.encoder
    shared.embedding_layer.set_weights(encoder.embedding_layer.get_weights())
    kernel, bias = shared.embedding_projection.get_weights()
    shared.embedding_projection.set_weights(
        [np.eye(*kernel.shape, dtype=kernel.dtype), np.zeros_like(bias)]
    )
    blocks = [block.get_weights() for block in encoder.transformer_layers]
    shared.transformer_layers[0].set_weights([np.mean(ws, axis=0) for ws in zip(*blocks)])
    shared.pooler_layer.set_weights(encoder.pooler_layer.get_weights())
    student.classifier_head.set_weights(classifier.classifier_head.get_weights())
    student.label_names = getattr(classifier, "label_names", None)
    return student
