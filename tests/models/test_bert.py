"""BERT family: named configurations, outputs, config round-trip, checkpoints."""
import numpy as np
import pytest
import tensorflow as tf

import tfmodels
from tfmodels.errors import ConfigError
from tfmodels.models import bert

TINY = bert.Config(vocab_size=60, hidden_size=32, num_layers=2, num_heads=4,
                   intermediate_size=48, max_position_embeddings=16)


def features(batch=2, length=6):
    ids = tf.random.uniform([batch, length], 1, 60, tf.int32)
    return {"input_ids": ids, "input_mask": tf.ones_like(ids),
            "segment_ids": tf.zeros_like(ids)}


def test_unknown_model_name_is_a_clear_error():
    with pytest.raises(ConfigError, match="unknown model 'bert_huge'.*bert_base_uncased"):
        tfmodels.build("bert_huge")


def test_config_rejects_unknown_keys_and_wrong_types():
    with pytest.raises(ConfigError, match="unknown key 'hiden_size'"):
        bert.Config.from_dict({"hiden_size": 3})
    with pytest.raises(ConfigError, match="num_layers.*must be int"):
        bert.Config.from_dict({"num_layers": "twelve"})


def test_encoder_outputs():
    encoder = bert.BertEncoder(TINY, output_attention_scores=True)
    out = encoder(features())
    assert out["sequence_output"].shape == (2, 6, 32)
    assert out["pooled_output"].shape == (2, 32)
    assert len(out["encoder_outputs"]) == 2
    assert out["attention_scores"][0].shape == (2, 4, 6, 6)
    np.testing.assert_array_equal(out["encoder_outputs"][-1], out["sequence_output"])


@pytest.mark.parametrize("cls,keys", [
    (bert.BertEncoder, {"sequence_output", "pooled_output", "encoder_outputs"}),
    (bert.BertPretrainer, {"sequence_output", "pooled_output", "mlm_logits", "sentence_logits"}),
    (bert.BertMaskedLM, {"sequence_output", "mlm_logits"}),
    (bert.BertClassifier, {"logits"}),
])
def test_models_round_trip_config_and_checkpoint(cls, keys, tmp_path):
    model = cls(TINY)
    f = features()
    out = model(f)
    assert set(out) == keys
    clone = cls.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    path = tf.train.Checkpoint(model=model).write(str(tmp_path / "ckpt"))
    tf.train.Checkpoint(model=clone).read(path).assert_consumed()
    for k in keys - {"encoder_outputs"}:
        np.testing.assert_allclose(clone(f)[k], out[k], atol=1e-6)


def test_pretrainer_heads_shapes_and_tied_embeddings():
    model = bert.BertPretrainer(TINY)
    out = model(features())
    assert out["mlm_logits"].shape == (2, 6, 60)
    assert out["sentence_logits"].shape == (2, 2)
    assert model.mlm_head.embedding_layer is model.encoder.embedding_layer
    # Tied weights are one variable, counted once.
    n_emb = sum(int(np.prod(w.shape)) for w in model.encoder.embedding_layer.weights)
    assert model.count_params() < model.encoder.count_params() + n_emb


def test_classifier_regression_has_one_output():
    assert bert.BertClassifier(TINY, num_labels=1)(features())["logits"].shape == (2, 1)


def test_dropout_is_active_only_in_training():
    model = bert.BertEncoder(TINY)
    f = features()
    a = model(f, training=False)["sequence_output"]
    np.testing.assert_array_equal(a, model(f, training=False)["sequence_output"])
    assert np.max(np.abs(a - model(f, training=True)["sequence_output"])) > 1e-4
