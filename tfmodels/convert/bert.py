"""BERT weights in the HuggingFace and the original Google TF checkpoint layouts.

HF names (``BertModel``): ``embeddings.*``, ``encoder.layer.{i}.*``, ``pooler.*``;
task models add the ``bert.`` prefix and their heads (``cls.*``, ``classifier.*``).
Google names are derived from the HF ones (``bert/encoder/layer_0/...``, kernels
already [in, out], LayerNorm ``gamma``/``beta``).
"""

import re

from tfmodels.convert.weight_map import add_dense, add_layer_norm, add_per_token_heads

PREFIX = "bert"
# Buffers and tied copies that checkpoints may carry; they hold no free parameter.
IGNORED = (
    "embeddings.position_ids",
    "cls.predictions.decoder.weight",
    "cls.predictions.decoder.bias",
)


def backbone_weights(encoder):
    """``{HF name without prefix: (variable, transpose)}`` for a :class:`BertModel`."""
    weights = {}
    emb = encoder.embedding_layer
    weights["embeddings.word_embeddings.weight"] = (emb.word_embeddings, False)
    weights["embeddings.position_embeddings.weight"] = (emb.position_embeddings, False)
    if emb.token_type_embeddings is not None:
        weights["embeddings.token_type_embeddings.weight"] = (emb.token_type_embeddings, False)
    add_layer_norm(weights, "embeddings.LayerNorm", emb.layer_norm)
    for i, block in enumerate(encoder.transformer_layers):
        p = f"encoder.layer.{i}."
        attention = block.attention
        add_dense(weights, p + "attention.self.query", attention.query)
        add_dense(weights, p + "attention.self.key", attention.key)
        add_dense(weights, p + "attention.self.value", attention.value)
        add_dense(weights, p + "attention.output.dense", attention.output_dense)
        add_layer_norm(weights, p + "attention.output.LayerNorm", block.attention_layer_norm)
        add_dense(weights, p + "intermediate.dense", block.intermediate)
        add_dense(weights, p + "output.dense", block.output_dense)
        add_layer_norm(weights, p + "output.LayerNorm", block.output_layer_norm)
    if encoder.pooler_layer is not None:
        add_dense(weights, "pooler.dense", encoder.pooler_layer.dense)
    return weights


def head_weights(model):
    """HF names of the task heads that ``model`` has (empty for the backbone)."""
    weights = {}
    if hasattr(model, "mlm_head"):
        head = model.mlm_head
        add_dense(weights, "cls.predictions.transform.dense", head.transform)
        add_layer_norm(weights, "cls.predictions.transform.LayerNorm", head.layer_norm)
        weights["cls.predictions.bias"] = (head.bias, False)
    if hasattr(model, "sentence_head"):
        add_dense(weights, "cls.seq_relationship", model.sentence_head)
    if hasattr(model, "classifier_head"):
        add_dense(weights, "classifier", model.classifier_head.out)
    add_per_token_heads(weights, model)
    return weights


_GOOGLE_SPECIAL = {
    "cls.predictions.bias": "cls/predictions/output_bias",
    "cls.seq_relationship.weight": "cls/seq_relationship/output_weights",
    "cls.seq_relationship.bias": "cls/seq_relationship/output_bias",
    "classifier.weight": "output_weights",
    "classifier.bias": "output_bias",
}


def google_name(hf_name, is_backbone):
    """HF name -> name in an original Google BERT checkpoint."""
    if hf_name in _GOOGLE_SPECIAL:
        return _GOOGLE_SPECIAL[hf_name]
    name = re.sub(r"layer\.(\d+)", r"layer_\1", hf_name).replace(".", "/")
    name = re.sub(r"LayerNorm/weight$", "LayerNorm/gamma", name)
    name = re.sub(r"LayerNorm/bias$", "LayerNorm/beta", name)
    name = re.sub(r"_embeddings/weight$", "_embeddings", name)
    name = re.sub(r"/weight$", "/kernel", name)
    return f"bert/{name}" if is_backbone else name


def google_weights(backbone, heads):
    """Our weight map renamed to the Google layout; ``output_weights`` stay [out, in]."""
    weights = {}
    for names, is_backbone in ((backbone, True), (heads, False)):
        for hf_name, (variable, transpose) in names.items():
            name = google_name(hf_name, is_backbone)
            weights[name] = (variable, name.endswith("output_weights"))
    return weights
