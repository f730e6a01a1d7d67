"""ELECTRA weights in the HuggingFace layout.

HF names (``ElectraModel``): BERT's ``embeddings.*`` and ``encoder.layer.{i}.*``, no
pooler, and ``embeddings_project`` (E -> H) where E != H. Task models add the
``electra.`` prefix and their heads: ``discriminator_predictions.{dense,
dense_prediction}`` (RTD), ``generator_predictions.{dense, LayerNorm}`` and
``generator_lm_head.bias`` (the generator; its weight is the tied word table),
``classifier.{dense, out_proj}``. BERT's map, renamed.
"""

from tfmodels.convert import bert
from tfmodels.convert.weight_map import add_dense

PREFIX = "electra"
# Buffers and tied copies that checkpoints may carry; they hold no free parameter.
IGNORED = ("embeddings.position_ids", "embeddings.token_type_ids", "generator_lm_head.weight")

_HEADS = {
    "cls.predictions.transform.dense": "generator_predictions.dense",
    "cls.predictions.transform.LayerNorm": "generator_predictions.LayerNorm",
    "cls.predictions.bias": "generator_lm_head.bias",
    "classifier": "classifier.out_proj",
}


def _renamed(name):
    for old, new in _HEADS.items():
        if name == old or name.startswith(old + "."):
            return new + name[len(old) :]
    return name


def backbone_weights(encoder):
    """``{HF name without prefix: (variable, transpose)}`` for an ELECTRA encoder."""
    weights = bert.backbone_weights(encoder)
    if encoder.embedding_layer.projection is not None:
        add_dense(weights, "embeddings_project", encoder.embedding_layer.projection)
    return weights


def head_weights(model):
    """HF names of the task heads that ``model`` has (empty for the backbone)."""
    if hasattr(model, "token_head"):  # a plain ``classifier`` Dense, not the sequence head's
        return bert.head_weights(model)
    weights = {_renamed(name): value for name, value in bert.head_weights(model).items()}
    if hasattr(model, "classifier_head"):
        add_dense(weights, "classifier.dense", model.classifier_head.inner)
    if hasattr(model, "rtd_head"):
        add_dense(weights, "discriminator_predictions.dense", model.rtd_head.inner)
        add_dense(weights, "discriminator_predictions.dense_prediction", model.rtd_head.out)
    return weights
