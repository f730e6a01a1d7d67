"""ALBERT: named configurations, real parameter sharing, outputs, config/checkpoint round-trips."""
import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from tfmodels.errors import ConfigError
from tfmodels.models import albert

TINY = albert.Config(vocab_size=60, embedding_size=8, hidden_size=16, num_layers=2, num_heads=2,
                     intermediate_size=24, max_position_embeddings=16)
GROUPED = dataclasses.replace(TINY, num_hidden_groups=2, inner_group_num=2)
ONE_LAYER = dataclasses.replace(TINY, num_layers=1)  # where sharing is not the point
VARIABLES_PER_BLOCK = 16  # q, k, v, output (kernel + bias), 2 LayerNorms, 2 FFN Dense
OTHER_VARIABLES = 3 + 2 + 2 + 2  # 3 tables + LayerNorm, E->H projection, pooler


def features(batch=2, length=6):
    ids = tf.random.uniform([batch, length], 1, 60, tf.int32, seed=1)
    return {"input_ids": ids, "input_mask": tf.ones_like(ids),
            "segment_ids": tf.zeros_like(ids)}


def test_one_set_of_block_weights_serves_every_layer():
    encoder = albert.AlbertEncoder(TINY)
    out = encoder(features())
    assert len(out["encoder_outputs"]) == 2
    assert len(encoder.transformer_layers) == 1
    assert len(encoder.trainable_variables) == OTHER_VARIABLES + VARIABLES_PER_BLOCK
    assert encoder.count_params() == albert.AlbertEncoder(ONE_LAYER).count_params()
    # The two layer outputs differ although the weights are the same.
    assert np.max(np.abs(out["encoder_outputs"][0] - out["encoder_outputs"][1])) > 1e-3


def test_groups_hold_distinct_blocks_applied_in_order():
    encoder = albert.AlbertEncoder(GROUPED)
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
    encoder = albert.AlbertEncoder(config)
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


@pytest.mark.parametrize("cls,keys", [
    (albert.AlbertEncoder, {"sequence_output", "pooled_output", "encoder_outputs"}),
    (albert.AlbertPretrainer, {"sequence_output", "pooled_output", "mlm_logits",
                               "sentence_logits"}),
    (albert.AlbertMaskedLM, {"sequence_output", "mlm_logits"}),
    (albert.AlbertClassifier, {"logits"}),
])
def test_models_round_trip_config_and_checkpoint(cls, keys, tmp_path):
    model = cls(ONE_LAYER)
    f = features()
    out = model(f)
    assert set(out) == keys
    clone = cls.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    path = tf.train.Checkpoint(model=model).write(str(tmp_path / "ckpt"))
    tf.train.Checkpoint(model=clone).read(path).assert_consumed()
    for k in keys - {"encoder_outputs"}:
        np.testing.assert_allclose(clone(f)[k], out[k], atol=1e-6)


def test_pretrainer_heads_are_tied_and_factorized():
    model = albert.AlbertPretrainer(ONE_LAYER)
    out = model(features())
    assert out["mlm_logits"].shape == (2, 6, 60)
    assert out["sentence_logits"].shape == (2, 2)
    assert model.mlm_head.embedding_layer is model.encoder.embedding_layer
    assert model.mlm_head.transform.kernel.shape == (16, 8)  # H -> E, then the E-wide table
    mlm_head = 16 * 8 + 8 + 2 * 8 + 60  # transform, LayerNorm, output bias (table shared)
    assert model.count_params() == model.encoder.count_params() + mlm_head + 16 * 2 + 2


def test_classifier_uses_classifier_dropout_only():
    model = albert.AlbertClassifier(ONE_LAYER, num_labels=3)  # hidden dropout 0, classifier 0.1
    f = features()
    np.testing.assert_array_equal(model.encoder(f, training=True)["pooled_output"],
                                  model.encoder(f, training=False)["pooled_output"])
    assert model.classifier_head.dropout_rate == 0.1
    a, b = model(f, training=False)["logits"], model(f, training=True)["logits"]
    assert a.shape == (2, 3) and np.max(np.abs(a - b)) > 1e-6
