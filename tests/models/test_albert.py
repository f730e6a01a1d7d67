"""ALBERT: the common checks (tests/models/harness.py) and what is ALBERT's own: real
parameter sharing, hidden groups, the factorized embedding and MLM head, config errors."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from tests.models import harness
from tests.models.harness import Role
from tfmodels.errors import ConfigError
from tfmodels.models import albert

TINY = albert.Config(
    vocab_size=60,
    embedding_size=8,
    hidden_size=16,
    num_layers=2,
    num_heads=2,
    intermediate_size=24,
    max_position_embeddings=16,
)
GROUPED = dataclasses.replace(TINY, num_hidden_groups=2, inner_group_num=2)
ONE_LAYER = dataclasses.replace(TINY, num_layers=1)  # where sharing is not the point
VARIABLES_PER_BLOCK = 16  # q, k, v, output (kernel + bias), 2 LayerNorms, 2 FFN Dense
OTHER_VARIABLES = 3 + 2 + 2 + 2  # 3 tables + LayerNorm, E->H projection, pooler


def features(batch=2, length=6):
    ids = tf.random.uniform([batch, length], 1, 60, tf.int32, seed=1)
    return {"input_ids": ids, "input_mask": tf.ones_like(ids), "segment_ids": tf.zeros_like(ids)}


SEQUENCE, POOLED = (2, 6, 16), (2, 16)
SPEC = harness.FamilySpec(
    "albert",
    ONE_LAYER,
    features(),
    {
        "backbone": Role(
            albert.AlbertModel,
            "AlbertModel",
            {"sequence_output": SEQUENCE, "pooled_output": POOLED, "encoder_outputs": [SEQUENCE]},
        ),
        "pretraining": Role(
            albert.AlbertForPreTraining,
            "AlbertForPreTraining",
            {
                "sequence_output": SEQUENCE,
                "pooled_output": POOLED,
                "mlm_logits": (2, 6, 60),
                "sentence_logits": (2, 2),
            },
        ),
        "masked_lm": Role(
            albert.AlbertForMaskedLM,
            "AlbertForMaskedLM",
            {"sequence_output": SEQUENCE, "mlm_logits": (2, 6, 60)},
        ),
        "classification": Role(
            albert.AlbertForSequenceClassification,
            "AlbertForSequenceClassification",
            {"logits": (2, 3)},
            kwargs={"num_labels": 3},
        ),
        "token_classification": Role(
            albert.AlbertForTokenClassification,
            "AlbertForTokenClassification",
            {"logits": (2, 6, 2)},
        ),
        "question_answering": Role(
            albert.AlbertForQuestionAnswering,
            "AlbertForQuestionAnswering",
            {"start_logits": (2, 6), "end_logits": (2, 6)},
        ),
    },
)


models = harness.models_fixture(SPEC)
test_common_checks = harness.common_checks(SPEC)


def test_one_set_of_block_weights_serves_every_layer(models):
    encoder = albert.AlbertModel(TINY)
    out = encoder(features())
    assert len(out["encoder_outputs"]) == 2
    assert len(encoder.transformer_layers) == 1
    assert len(encoder.trainable_variables) == OTHER_VARIABLES + VARIABLES_PER_BLOCK
    assert encoder.count_params() == models["backbone"].count_params()  # ONE_LAYER
    # The two layer outputs differ although the weights are the same.
    assert np.max(np.abs(out["encoder_outputs"][0] - out["encoder_outputs"][1])) > 1e-3


def test_groups_hold_distinct_blocks_applied_in_order():
    encoder = albert.AlbertModel(GROUPED)
    f = features()
    out = encoder(f)
    assert [len(g) for g in encoder.layer_groups] == [2, 2]
    assert len(encoder.trainable_variables) == OTHER_VARIABLES + 4 * VARIABLES_PER_BLOCK
    assert len(out["encoder_outputs"]) == 2 * 2  # one per block application
    # Layer 0 runs group 0 only: changing group 1 leaves its two outputs alone.
    before = [x.numpy() for x in out["encoder_outputs"]]
    kernel = encoder.layer_groups[1][0].intermediate.kernel
    kernel.assign(kernel * 2.0)
    after = [x.numpy() for x in encoder(f)["encoder_outputs"]]
    for i in (0, 1):
        np.testing.assert_array_equal(after[i], before[i])
    for i in (2, 3):
        assert np.max(np.abs(after[i] - before[i])) > 1e-3


def test_layer_to_group_rule_matches_the_reference():
    """HF AlbertTransformer: group ``int(i / (L / G))``, also when G does not divide L."""

    def groups(layers, num_groups):
        config = dataclasses.replace(TINY, num_layers=layers, num_hidden_groups=num_groups)
        return [config.group_of_layer(i) for i in range(layers)]

    assert groups(4, 2) == [0, 0, 1, 1]
    assert groups(3, 2) == [0, 0, 1]
    assert groups(12, 12) == list(range(12))
    assert groups(5, 3) == [0, 0, 1, 1, 2]


def test_embedding_size_equal_to_hidden_size_keeps_the_projection():
    config = dataclasses.replace(ONE_LAYER, embedding_size=16)
    encoder = albert.AlbertModel(config)
    assert encoder.embedding_layer.projection is None
    assert encoder.embedding_projection.kernel.shape == (16, 16)
    assert encoder(features())["sequence_output"].shape == (2, 6, 16)


def test_config_errors():
    with pytest.raises(ConfigError, match="num_hidden_groups must be in 1..num_layers"):
        albert.Config(num_layers=2, num_hidden_groups=3)
    with pytest.raises(ConfigError, match="inner_group_num must be at least 1"):
        albert.Config.from_dict({"inner_group_num": 0})
    with pytest.raises(ConfigError, match="unknown key 'num_groups'"):
        albert.Config.from_dict({"num_groups": 2})


def test_hf_names_round_trip():
    hf = GROUPED.to_hf()
    assert hf["num_hidden_groups"] == 2 and hf["inner_group_num"] == 2
    assert hf["classifier_dropout_prob"] == 0.1 and hf["num_hidden_layers"] == 2
    assert albert.Config.from_hf(hf) == GROUPED


def test_pretrainer_heads_are_tied_and_factorized(models):
    model = models["pretraining"]
    assert model.mlm_head.embedding_layer is model.encoder.embedding_layer
    assert model.mlm_head.transform.kernel.shape == (16, 8)  # H -> E, then the E-wide table
    mlm_head = 16 * 8 + 8 + 2 * 8 + 60  # transform, LayerNorm, output bias (table shared)
    assert model.count_params() == model.encoder.count_params() + mlm_head + 16 * 2 + 2


def test_classifier_uses_classifier_dropout_only(models):
    model, f = models["classification"], SPEC.features  # hidden dropout 0, classifier 0.1
    np.testing.assert_array_equal(
        model.encoder(f, training=True)["pooled_output"],
        model.encoder(f, training=False)["pooled_output"],
    )
    assert model.classifier_head.dropout_rate == 0.1
    a, b = model(f, training=False)["logits"], model(f, training=True)["logits"]
    assert np.max(np.abs(a - b)) > 1e-6
