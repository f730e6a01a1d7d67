"""RoBERTa family: the common checks (tests/models/harness.py) and what is RoBERTa's own:
config defaults, positions numbered after the padding index, the heads of the reference."""

import numpy as np
import pytest
import tensorflow as tf

from tests.models import harness
from tests.models.harness import Role
from tfmodels.errors import ConfigError
from tfmodels.models import roberta

TINY = roberta.Config(
    vocab_size=60,
    hidden_size=32,
    num_layers=1,
    num_heads=4,
    intermediate_size=48,
    max_position_embeddings=18,
)


def features(batch=2, length=6):
    ids = tf.random.uniform([batch, length], 3, 60, tf.int32, seed=1)
    return {"input_ids": ids, "input_mask": tf.ones_like(ids), "segment_ids": tf.zeros_like(ids)}


def heads_as_in_the_reference(model):
    """Positions start after the padding index, and only the backbone has a pooler (the
    classifier's own tanh Dense over <s> takes its place): in every role, rebuilt too."""
    encoder = getattr(model, "encoder", model)
    assert encoder.embedding_layer.position_offset == 2
    assert (encoder.pooler_layer is not None) == (encoder is model)


SEQUENCE = (2, 6, 32)
MASKED_LM = Role(
    roberta.RobertaForMaskedLM,
    "RobertaForMaskedLM",
    {"sequence_output": SEQUENCE, "mlm_logits": (2, 6, 60)},
    check=heads_as_in_the_reference,
)
SPEC = harness.FamilySpec(
    "roberta",
    TINY,
    features(),
    {
        "backbone": Role(
            roberta.RobertaModel,
            "RobertaModel",
            {"sequence_output": SEQUENCE, "pooled_output": (2, 32), "encoder_outputs": [SEQUENCE]},
            check=heads_as_in_the_reference,
        ),
        "pretraining": MASKED_LM,
        "masked_lm": MASKED_LM,
        "classification": Role(
            roberta.RobertaForSequenceClassification,
            "RobertaForSequenceClassification",
            {"logits": (2, 3)},
            kwargs={"num_labels": 3},
            check=heads_as_in_the_reference,
        ),
        "token_classification": Role(
            roberta.RobertaForTokenClassification,
            "RobertaForTokenClassification",
            {"logits": (2, 6, 2)},
            check=heads_as_in_the_reference,
        ),
        "question_answering": Role(
            roberta.RobertaForQuestionAnswering,
            "RobertaForQuestionAnswering",
            {"start_logits": (2, 6), "end_logits": (2, 6)},
            check=heads_as_in_the_reference,
        ),
    },
)


models = harness.models_fixture(SPEC)
test_common_checks = harness.common_checks(SPEC)


def test_config_defaults_and_strictness():
    config = roberta.Config()
    assert (config.vocab_size, config.max_position_embeddings, config.type_vocab_size) == (
        50265,
        514,
        1,
    )
    assert config.position_offset == 2
    with pytest.raises(ConfigError, match="unknown key 'pad_id'"):
        roberta.Config.from_dict({"pad_id": 1})
    hf = roberta.Config.from_hf({"num_hidden_layers": 3, "pad_token_id": 0, "use_cache": True})
    assert (hf.num_layers, hf.position_offset) == (3, 1)
    assert hf.to_hf()["pad_token_id"] == 0


def test_mlm_table_is_the_word_embeddings_and_the_classifier_has_its_own_dense(models):
    model = models["masked_lm"]
    assert model.mlm_head.embedding_layer is model.encoder.embedding_layer
    assert models["classification"].classifier_head.inner_dim == 32


def test_positions_start_after_the_padding_index():
    encoder = roberta.from_config(TINY.to_dict())
    assert isinstance(encoder, roberta.RobertaModel)
    f = features()
    before = encoder(f)["sequence_output"].numpy()
    table = encoder.embedding_layer.position_embeddings
    values = table.numpy()
    values[:2] = 100.0  # rows 0 and 1 are never used by real tokens
    table.assign(values)
    np.testing.assert_allclose(encoder(f)["sequence_output"], before, atol=1e-6)
    values[2] += np.linspace(-1.0, 1.0, 32)  # row 2 is the first token's position
    table.assign(values)
    assert np.abs(encoder(f)["sequence_output"].numpy()[:, 0] - before[:, 0]).max() > 1e-3
