"""RoBERTa weights in the HuggingFace layout.

The backbone has BERT's names (``embeddings.*``, ``encoder.layer.{i}.*``, ``pooler.*``),
so :func:`tfmodels.convert.bert.backbone_weights` maps it; task models add the
``roberta.`` prefix. Heads: ``lm_head.{dense, layer_norm, bias}`` (its ``decoder`` is
tied to the word embeddings) and ``classifier.{dense, out_proj}``.
"""

from tfmodels.convert.bert import backbone_weights  # noqa: F401  (same names as BERT)
from tfmodels.convert.weight_map import add_dense, add_layer_norm, add_per_token_heads

PREFIX = "roberta"
# Buffers and tied copies that checkpoints may carry; they hold no free parameter.
IGNORED = (
    "embeddings.position_ids",
    "embeddings.token_type_ids",
    "lm_head.decoder.weight",
    "lm_head.decoder.bias",
)


def head_weights(model):
    """HF names of the task heads that ``model`` has (empty for the backbone)."""
    weights = {}
    if hasattr(model, "mlm_head"):
        head = model.mlm_head
        add_dense(weights, "lm_head.dense", head.transform)
        add_layer_norm(weights, "lm_head.layer_norm", head.layer_norm)
        weights["lm_head.bias"] = (head.bias, False)
    if hasattr(model, "classifier_head"):
        add_dense(weights, "classifier.dense", model.classifier_head.inner)
        add_dense(weights, "classifier.out_proj", model.classifier_head.out)
    add_per_token_heads(weights, model)
    return weights
