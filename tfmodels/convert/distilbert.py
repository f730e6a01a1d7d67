"""DistilBERT weights in the HuggingFace layout.

HF names (``DistilBertModel``): ``embeddings.{word_embeddings, position_embeddings,
LayerNorm}`` as BERT's (no token types), ``transformer.layer.{i}.*`` with
``attention.{q,k,v,out}_lin``, ``sa_layer_norm``, ``ffn.lin{1,2}`` and
``output_layer_norm``; no pooler. Task models add the ``distilbert.`` prefix and
their heads: ``vocab_transform``, ``vocab_layer_norm``, ``vocab_projector.bias``
(its weight is the tied word table); ``pre_classifier``, ``classifier``. BERT's
map, renamed.
"""

import re

from tfmodels.convert import bert
from tfmodels.convert.weight_map import add_dense

PREFIX = "distilbert"
# Buffers and tied copies that checkpoints may carry; they hold no free parameter.
IGNORED = ("embeddings.position_ids", "vocab_projector.weight")

_BLOCK = {
    "attention.self.query": "attention.q_lin",
    "attention.self.key": "attention.k_lin",
    "attention.self.value": "attention.v_lin",
    "attention.output.dense": "attention.out_lin",
    "attention.output.LayerNorm": "sa_layer_norm",
    "intermediate.dense": "ffn.lin1",
    "output.dense": "ffn.lin2",
    "output.LayerNorm": "output_layer_norm",
}
_HEADS = {
    "cls.predictions.transform.dense": "vocab_transform",
    "cls.predictions.transform.LayerNorm": "vocab_layer_norm",
    "cls.predictions.bias": "vocab_projector.bias",
}
_BERT_BLOCK_NAME = re.compile(r"encoder\.layer\.(\d+)\.(.+)\.(weight|bias)$")


def _renamed(name):
    match = _BERT_BLOCK_NAME.match(name)
    if match:
        index, sublayer, kind = match.groups()
        return f"transformer.layer.{index}.{_BLOCK[sublayer]}.{kind}"
    for old, new in _HEADS.items():
        if name == old or name.startswith(old + "."):
            return new + name[len(old) :]
    return name


def backbone_weights(encoder):
    """``{HF name without prefix: (variable, transpose)}`` for a DistilBERT encoder."""
    return {_renamed(name): value for name, value in bert.backbone_weights(encoder).items()}


def head_weights(model):
    """HF names of the task heads that ``model`` has (empty for the backbone)."""
    weights = {_renamed(name): value for name, value in bert.head_weights(model).items()}
    if hasattr(model, "classifier_head"):
        add_dense(weights, "pre_classifier", model.classifier_head.inner)
    return weights
