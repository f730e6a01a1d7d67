"""DistilBERT family: the common checks (tests/models/harness.py) and what is DistilBERT's
own: HF config names, no token types (segment_ids accepted and ignored), no pooler, its
classifier head."""

import numpy as np
import pytest
import tensorflow as tf

from tests.models import harness
from tests.models.harness import Role
from tfmodels.errors import ConfigError
from tfmodels.models import distilbert

TINY = distilbert.Config(
    vocab_size=60,
    hidden_size=32,
    num_layers=1,
    num_heads=4,
    intermediate_size=48,
    max_position_embeddings=16,
)


def features(batch=2, length=6):
    ids = tf.random.uniform([batch, length], 1, 60, tf.int32, seed=1)
    return {"input_ids": ids, "input_mask": tf.ones_like(ids), "segment_ids": tf.zeros_like(ids)}


SEQUENCE = (2, 6, 32)  # no pooled_output: DistilBERT has no pooler
MASKED_LM = Role(
    distilbert.DistilBertForMaskedLM,
    "DistilBertForMaskedLM",
    {"sequence_output": SEQUENCE, "mlm_logits": (2, 6, 60)},
)
SPEC = harness.FamilySpec(
    "distilbert",
    TINY,
    features(),
    {
        "backbone": Role(
            distilbert.DistilBertModel,
            "DistilBertModel",
            {"sequence_output": SEQUENCE, "encoder_outputs": [SEQUENCE]},
        ),
        "pretraining": MASKED_LM,
        "masked_lm": MASKED_LM,
        "classification": Role(
            distilbert.DistilBertForSequenceClassification,
            "DistilBertForSequenceClassification",
            {"logits": (2, 2)},
        ),
        "token_classification": Role(
            distilbert.DistilBertForTokenClassification,
            "DistilBertForTokenClassification",
            {"logits": (2, 6, 2)},
        ),
        "question_answering": Role(
            distilbert.DistilBertForQuestionAnswering,
            "DistilBertForQuestionAnswering",
            {"start_logits": (2, 6), "end_logits": (2, 6)},
        ),
    },
)


models = harness.models_fixture(SPEC)
test_common_checks = harness.common_checks(SPEC)


def test_config_hf_names_and_errors():
    hf = distilbert.Config.from_hf(
        {
            "dim": 64,
            "n_layers": 3,
            "n_heads": 4,
            "hidden_dim": 100,
            "activation": "relu",
            "seq_classif_dropout": 0.3,
            "qa_dropout": 0.1,
            "sinusoidal_pos_embds": False,
        }
    )
    assert (
        hf.hidden_size,
        hf.num_layers,
        hf.intermediate_size,
        hf.hidden_act,
        hf.classifier_dropout,
        hf.type_vocab_size,
    ) == (64, 3, 100, "relu", 0.3, 0)
    back = hf.to_hf()
    assert (back["dim"], back["n_layers"], back["hidden_dim"], back["activation"]) == (
        64,
        3,
        100,
        "relu",
    )
    assert "type_vocab_size" not in back and "hidden_size" not in back
    with pytest.raises(ConfigError, match="type_vocab_size: DistilBERT has no token types"):
        distilbert.Config(type_vocab_size=2)
    with pytest.raises(ConfigError, match="sinusoidal_pos_embds"):
        distilbert.Config.from_hf({"sinusoidal_pos_embds": True})
    with pytest.raises(ConfigError, match="with_pooler: DistilBERT has no pooler"):
        distilbert.DistilBertModel(TINY, with_pooler=True)


def test_segment_ids_are_accepted_and_ignored(models):
    encoder = models["backbone"]
    assert encoder.embedding_layer.token_type_embeddings is None
    assert "segment_ids" in encoder.input
    f = SPEC.features
    plain = encoder(f)
    other = encoder(dict(f, segment_ids=tf.ones([2, 6], tf.int32)))
    np.testing.assert_array_equal(plain["sequence_output"], other["sequence_output"])


def test_classifier_is_dense_relu_dropout_dense_on_the_first_token(models):
    head = models["classification"].classifier_head  # seq_classif_dropout 0.2
    assert (head.inner_dim, head.activation, head.dropout_rate) == (32, "relu", 0.2)
