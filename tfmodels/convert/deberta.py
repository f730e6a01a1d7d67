"""DeBERTa-v2/v3 weights in the HuggingFace layout.

HF names (``DebertaV2Model``): BERT's ``embeddings.*`` and ``encoder.layer.{i}.*``
with ``attention.self.{query,key,value}_proj`` (plus ``pos_key_proj`` /
``pos_query_proj`` without ``share_att_key``), ``encoder.rel_embeddings`` and its
``encoder.LayerNorm``; no pooler. Task models add the ``deberta.`` prefix and their
heads: the masked LM as ``cls.predictions.*`` (``legacy``, HF's default) or
``lm_predictions.lm_head.*`` (the original microsoft checkpoints), the classifier
as ``pooler.dense`` + ``classifier``. Our EMD pre-training model writes the
original layout: ``lm_predictions.lm_head.*`` and the decoder's absolute positions
as ``embeddings.position_embeddings`` (which HF's DebertaV2 models ignore).
"""

from tfmodels.convert import bert
from tfmodels.convert.weight_map import add_dense, add_layer_norm, add_per_token_heads

PREFIX = "deberta"
# Buffers, tied copies and the v3 discriminator's RTD head (ignored by HF as well).
IGNORED = (
    "embeddings.position_ids",
    "cls.predictions.decoder.weight",
    "cls.predictions.decoder.bias",
) + tuple(
    f"mask_predictions.{layer}.{kind}"
    for layer in ("dense", "LayerNorm", "classifier")
    for kind in ("weight", "bias")
)
_PROJECTIONS = {
    ".attention.self.query.": ".attention.self.query_proj.",
    ".attention.self.key.": ".attention.self.key_proj.",
    ".attention.self.value.": ".attention.self.value_proj.",
}


def _renamed(name):
    for old, new in _PROJECTIONS.items():
        name = name.replace(old, new)
    return name


def backbone_weights(encoder):
    """``{HF name without prefix: (variable, transpose)}`` for a :class:`DebertaV2Model`."""
    weights = {
        _renamed(name): value
        for name, value in bert.backbone_weights(encoder).items()
        if value[0] is not None
    }  # no absolute position table in v3
    for i, block in enumerate(encoder.transformer_layers):
        attention = block.attention
        if attention.position_key is not None:
            add_dense(
                weights, f"encoder.layer.{i}.attention.self.pos_key_proj", attention.position_key
            )
        if attention.position_query is not None:
            add_dense(
                weights,
                f"encoder.layer.{i}.attention.self.pos_query_proj",
                attention.position_query,
            )
    relative = encoder.relative_embeddings
    if relative is not None:
        weights["encoder.rel_embeddings.weight"] = (relative.embeddings, False)
        if relative.norm is not None:
            add_layer_norm(weights, "encoder.LayerNorm", relative.norm)
    if encoder.decoder_layer is not None:
        weights["embeddings.position_embeddings.weight"] = (
            encoder.decoder_layer.position_embeddings,
            False,
        )
    return weights


def head_weights(model):
    """HF names of the task heads that ``model`` has (empty for the backbone)."""
    weights = {}
    if hasattr(model, "mlm_head"):
        head = model.mlm_head
        if model.config.legacy and model.architecture == "DebertaV2ForMaskedLM":
            add_dense(weights, "cls.predictions.transform.dense", head.transform)
            add_layer_norm(weights, "cls.predictions.transform.LayerNorm", head.layer_norm)
            weights["cls.predictions.bias"] = (head.bias, False)
        else:
            add_dense(weights, "lm_predictions.lm_head.dense", head.transform)
            add_layer_norm(weights, "lm_predictions.lm_head.LayerNorm", head.layer_norm)
            weights["lm_predictions.lm_head.bias"] = (head.bias, False)
    if hasattr(model, "classifier_head"):
        add_dense(weights, "pooler.dense", model.classifier_head.inner)
        add_dense(weights, "classifier", model.classifier_head.out)
    add_per_token_heads(weights, model)
    return weights
