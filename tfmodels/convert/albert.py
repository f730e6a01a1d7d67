"""ALBERT weights in the HuggingFace layout.

HF names (``AlbertModel``): ``embeddings.*`` as BERT's,
``encoder.embedding_hidden_mapping_in`` (the E -> H projection),
``encoder.albert_layer_groups.{g}.albert_layers.{j}.*`` once per distinct block,
``pooler``; task models add the ``albert.`` prefix and their heads
(``predictions.*``, ``sop_classifier.classifier``, ``classifier``). The blocks and
heads are BERT's with other names, so the map is BERT's map renamed.
"""

import re

from tfmodels.convert import bert
from tfmodels.convert.weight_map import add_dense

PREFIX = "albert"
# Buffers and tied copies that checkpoints may carry; they hold no free parameter.
IGNORED = (
    "embeddings.position_ids",
    "embeddings.token_type_ids",
    "predictions.decoder.weight",
    "predictions.decoder.bias",
)

_BLOCK = {
    "attention.self.query": "attention.query",
    "attention.self.key": "attention.key",
    "attention.self.value": "attention.value",
    "attention.output.dense": "attention.dense",
    "attention.output.LayerNorm": "attention.LayerNorm",
    "intermediate.dense": "ffn",
    "output.dense": "ffn_output",
    "output.LayerNorm": "full_layer_layer_norm",
}
_PREFIXES = {
    "cls.predictions.transform.dense": "predictions.dense",
    "cls.predictions.transform.LayerNorm": "predictions.LayerNorm",
    "cls.predictions.bias": "predictions.bias",
    "cls.seq_relationship": "sop_classifier.classifier",
    "classifier": "classifier",
    "pooler.dense": "pooler",
}
_BERT_BLOCK_NAME = re.compile(r"encoder\.layer\.(\d+)\.(.+)\.(weight|bias)$")


def _renamed(name, inner_group_num):
    match = _BERT_BLOCK_NAME.match(name)
    if match:
        index, sublayer, kind = match.groups()
        group, block = divmod(int(index), inner_group_num)
        return (
            f"encoder.albert_layer_groups.{group}.albert_layers.{block}.{_BLOCK[sublayer]}.{kind}"
        )
    for old, new in _PREFIXES.items():
        if name == old or name.startswith(old + "."):
            return new + name[len(old) :]
    return name


def backbone_weights(encoder):
    """``{HF name without prefix: (variable, transpose)}`` for an :class:`AlbertModel`.

    BERT's map lists ``encoder.transformer_layers`` (the distinct blocks, group by
    group) as ``encoder.layer.{i}``; block i is block ``i % inner`` of group ``i // inner``.
    """
    inner = encoder.config.inner_group_num
    weights = {
        _renamed(name, inner): value for name, value in bert.backbone_weights(encoder).items()
    }
    projection = encoder.embedding_projection or encoder.embedding_layer.projection
    add_dense(weights, "encoder.embedding_hidden_mapping_in", projection)
    return weights


def head_weights(model):
    """HF names of the task heads that ``model`` has (empty for the backbone)."""
    return {_renamed(name, 1): value for name, value in bert.head_weights(model).items()}
