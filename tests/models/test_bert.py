"""BERT family: the common checks (tests/models/harness.py) and what is BERT's own: named
configurations, strict config errors, tied MLM table, dropout only in training."""

import numpy as np
import pytest
import tensorflow as tf

import tfmodels
from tests.models import harness
from tests.models.harness import Role
from tfmodels.errors import ConfigError
from tfmodels.models import bert

TINY = bert.Config(
    vocab_size=60,
    hidden_size=32,
    num_layers=2,
    num_heads=4,
    intermediate_size=48,
    max_position_embeddings=16,
)


def features(batch=2, length=6):
    ids = tf.random.uniform([batch, length], 1, 60, tf.int32)
    return {"input_ids": ids, "input_mask": tf.ones_like(ids), "segment_ids": tf.zeros_like(ids)}


SEQUENCE, POOLED = (2, 6, 32), (2, 32)
SPEC = harness.FamilySpec(
    "bert",
    TINY,
    features(),
    {
        "backbone": Role(
            bert.BertModel,
            "BertModel",
            {
                "sequence_output": SEQUENCE,
                "pooled_output": POOLED,
                "encoder_outputs": [SEQUENCE] * 2,
                "attention_scores": [(2, 4, 6, 6)] * 2,
            },
            kwargs={"output_attention_scores": True},
        ),
        "pretraining": Role(
            bert.BertForPreTraining,
            "BertForPreTraining",
            {
                "sequence_output": SEQUENCE,
                "pooled_output": POOLED,
                "mlm_logits": (2, 6, 60),
                "sentence_logits": (2, 2),
            },
        ),
        "masked_lm": Role(
            bert.BertForMaskedLM,
            "BertForMaskedLM",
            {"sequence_output": SEQUENCE, "mlm_logits": (2, 6, 60)},
        ),
        # num_labels=1 regresses: one output.
        "classification": Role(
            bert.BertForSequenceClassification,
            "BertForSequenceClassification",
            {"logits": (2, 1)},
            kwargs={"num_labels": 1},
        ),
        "question_answering": Role(
            bert.BertForQuestionAnswering,
            "BertForQuestionAnswering",
            {"start_logits": (2, 6), "end_logits": (2, 6)},
        ),
        "token_classification": Role(
            bert.BertForTokenClassification, "BertForTokenClassification", {"logits": (2, 6, 2)}
        ),
    },
)


models = harness.models_fixture(SPEC)
test_common_checks = harness.common_checks(SPEC)


def test_unknown_model_name_is_a_clear_error():
    with pytest.raises(ConfigError, match="unknown model 'bert_huge'.*bert_base_uncased"):
        tfmodels.build("bert_huge")


def test_config_rejects_unknown_keys_and_wrong_types():
    with pytest.raises(ConfigError, match="unknown key 'hiden_size'"):
        bert.Config.from_dict({"hiden_size": 3})
    with pytest.raises(ConfigError, match="num_layers.*must be int"):
        bert.Config.from_dict({"num_layers": "twelve"})


def test_sequence_output_is_the_last_layer(models):
    out = models["backbone"](SPEC.features)
    np.testing.assert_array_equal(out["encoder_outputs"][-1], out["sequence_output"])


def test_pretrainer_mlm_table_is_the_word_embeddings(models):
    model = models["pretraining"]
    assert model.mlm_head.embedding_layer is model.encoder.embedding_layer
    # Tied weights are one variable, counted once.
    n_emb = sum(int(np.prod(w.shape)) for w in model.encoder.embedding_layer.weights)
    assert model.count_params() < model.encoder.count_params() + n_emb


def test_dropout_is_active_only_in_training(models):
    model, f = models["backbone"], SPEC.features
    a = model(f, training=False)["sequence_output"]
    np.testing.assert_array_equal(a, model(f, training=False)["sequence_output"])
    assert np.max(np.abs(a - model(f, training=True)["sequence_output"])) > 1e-4
