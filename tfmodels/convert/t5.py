"""T5 weights in the HuggingFace layout.

HF names (``T5Model`` and ``T5ForConditionalGeneration`` alike, no prefix):
``shared.weight``; ``{encoder,decoder}.block.{i}.layer.0.SelfAttention.{q,k,v,o}.weight``
and ``.layer.0.layer_norm.weight``; the first block's
``layer.0.SelfAttention.relative_attention_bias.weight`` [buckets, heads]; in the
decoder ``layer.1.EncDecAttention.{q,k,v,o}`` + ``layer.1.layer_norm``; the
feed-forward ``layer.{1 enc, 2 dec}.DenseReluDense.{wi,wo}.weight`` + ``layer_norm``;
``{encoder,decoder}.final_layer_norm.weight``; ``lm_head.weight`` only when untied
(``tie_word_embeddings=False``). ``encoder.embed_tokens``/``decoder.embed_tokens`` are
``shared`` itself: ignored on load, not written on save. Nothing has a bias;
PyTorch ``Linear`` weights are [out, in], hence transposed.

HF's task model has no name prefix, so every weight of ``T5ForConditionalGeneration``
is listed by :func:`head_weights` (``save_pretrained`` prefixes backbone names of a
task model) and :func:`backbone_weights` lists them only for ``T5Model``.
"""

from tfmodels.convert.weight_map import add_dense

PREFIX = ""
IGNORED = frozenset({"encoder.embed_tokens.weight", "decoder.embed_tokens.weight"})


def _attention(weights, name, attention):
    for hf, dense in (
        ("q", attention.query),
        ("k", attention.key),
        ("v", attention.value),
        ("o", attention.output_dense),
    ):
        weights[f"{name}.{hf}.weight"] = (dense.kernel, True)


def _stack(weights, side, stack):
    for i, block in enumerate(stack.blocks):
        p = f"{side}.block.{i}.layer."
        _attention(weights, p + "0.SelfAttention", block.attention)
        weights[p + "0.layer_norm.weight"] = (block.attention_layer_norm.scale, False)
        ff = 1
        if side == "decoder":
            _attention(weights, p + "1.EncDecAttention", block.cross_attention)
            weights[p + "1.layer_norm.weight"] = (block.cross_attention_layer_norm.scale, False)
            ff = 2
        weights[f"{p}{ff}.DenseReluDense.wi.weight"] = (block.intermediate.kernel, True)
        weights[f"{p}{ff}.DenseReluDense.wo.weight"] = (block.output_dense.kernel, True)
        weights[f"{p}{ff}.layer_norm.weight"] = (block.output_layer_norm.scale, False)
    bias = f"{side}.block.0.layer.0.SelfAttention.relative_attention_bias.weight"
    weights[bias] = (stack.position_bias.embeddings, False)
    weights[f"{side}.final_layer_norm.weight"] = (stack.final_norm.scale, False)


def all_weights(model):
    """``{HF name: (variable, transpose)}`` for a :class:`T5Model` or its LM."""
    weights = {"shared.weight": (model.tokens.embeddings, False)}
    _stack(weights, "encoder", model.encoder_stack)
    _stack(weights, "decoder", model.decoder_stack)
    if model.lm_head is not None and not model.config.tie_word_embeddings:
        add_dense(weights, "lm_head", model.lm_head)
        del weights["lm_head.bias"]
    return weights


def backbone_weights(model):
    return {} if model.with_lm_head else all_weights(model)


def head_weights(model):
    return all_weights(model) if model.with_lm_head else {}
