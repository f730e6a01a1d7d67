"""MobileBERT weights in the HuggingFace layout.

HF names (``MobileBertModel``): ``embeddings.*`` (``embedding_transformation`` is
the trigram projection), ``encoder.layer.{i}.*`` with ``bottleneck.input`` /
``bottleneck.attention`` (the shared query-key bottleneck), ``attention.*``,
``ffn.{j}.*`` for the stacked FFNs but the last, ``intermediate``/``output`` for
the last FFN and ``output.bottleneck`` back to the block width; ``pooler.*``.
Task models add the ``mobilebert.`` prefix and their heads; the MLM head's
``cls.predictions.dense.weight`` is the extra output table, stored [H - E, V].
NoNorm weights are named ``LayerNorm.weight``/``bias`` as LayerNorm's are.
"""

from tfmodels.convert.weight_map import add_dense, add_layer_norm, add_per_token_heads

PREFIX = "mobilebert"
# Buffers and tied copies that checkpoints may carry; they hold no free parameter.
IGNORED = (
    "embeddings.position_ids",
    "cls.predictions.decoder.weight",
    "cls.predictions.decoder.bias",
)


def _add_ffn(weights, intermediate, output, ffn):
    add_dense(weights, f"{intermediate}.dense", ffn.intermediate)
    add_dense(weights, f"{output}.dense", ffn.output_dense)
    add_layer_norm(weights, f"{output}.LayerNorm", ffn.layer_norm)


def backbone_weights(encoder):
    """``{HF name without prefix: (variable, transpose)}`` for a :class:`MobileBertModel`."""
    weights = {}
    emb = encoder.embedding_layer
    weights["embeddings.word_embeddings.weight"] = (emb.word_embeddings, False)
    weights["embeddings.position_embeddings.weight"] = (emb.position_embeddings, False)
    if emb.token_type_embeddings is not None:
        weights["embeddings.token_type_embeddings.weight"] = (emb.token_type_embeddings, False)
    if emb.projection is not None:
        add_dense(weights, "embeddings.embedding_transformation", emb.projection)
    add_layer_norm(weights, "embeddings.LayerNorm", emb.layer_norm)
    for i, block in enumerate(encoder.transformer_layers):
        p = f"encoder.layer.{i}."
        if block.input_bottleneck is not None:
            add_dense(weights, p + "bottleneck.input.dense", block.input_bottleneck)
            add_layer_norm(weights, p + "bottleneck.input.LayerNorm", block.input_bottleneck_norm)
        if block.attention_bottleneck is not None:
            add_dense(weights, p + "bottleneck.attention.dense", block.attention_bottleneck)
            add_layer_norm(
                weights, p + "bottleneck.attention.LayerNorm", block.attention_bottleneck_norm
            )
        attention = block.attention
        add_dense(weights, p + "attention.self.query", attention.query)
        add_dense(weights, p + "attention.self.key", attention.key)
        add_dense(weights, p + "attention.self.value", attention.value)
        add_dense(weights, p + "attention.output.dense", attention.output_dense)
        add_layer_norm(weights, p + "attention.output.LayerNorm", block.attention_norm)
        *stacked, last = block.ffns
        for j, ffn in enumerate(stacked):
            _add_ffn(weights, f"{p}ffn.{j}.intermediate", f"{p}ffn.{j}.output", ffn)
        _add_ffn(weights, p + "intermediate", p + "output", last)
        if block.output_bottleneck is not None:
            add_dense(weights, p + "output.bottleneck.dense", block.output_bottleneck)
            add_layer_norm(weights, p + "output.bottleneck.LayerNorm", block.output_norm)
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
        if head.extra_output_weights is not None:
            weights["cls.predictions.dense.weight"] = (head.extra_output_weights, True)
    if hasattr(model, "sentence_head"):
        add_dense(weights, "cls.seq_relationship", model.sentence_head)
    if hasattr(model, "classifier_head"):
        add_dense(weights, "classifier", model.classifier_head.out)
    add_per_token_heads(weights, model)
    return weights
