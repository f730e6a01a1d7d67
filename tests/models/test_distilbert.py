"""DistilBERT family (and the TinyBERT-6 configuration): parameter counts, no token
types (segment_ids accepted and ignored), no pooler, config and checkpoint round-trips."""
import numpy as np
import pytest
import tensorflow as tf

from tfmodels.errors import ConfigError
from tfmodels.models import distilbert, registry

TINY = distilbert.Config(vocab_size=60, hidden_size=32, num_layers=1, num_heads=4,
                         intermediate_size=48, max_position_embeddings=16)


def features(segment_ids=None, batch=2, length=6):
    ids = tf.random.uniform([batch, length], 1, 60, tf.int32, seed=1)
    segments = tf.zeros_like(ids) if segment_ids is None else segment_ids
    return {"input_ids": ids, "input_mask": tf.ones_like(ids), "segment_ids": segments}


def test_registry_maps_architectures_and_tasks():
    assert registry.backbone_architecture("distilbert") == "DistilBertModel"
    assert registry.model_class("distilbert", "DistilBertForMaskedLM") is \
        distilbert.DistilBertMaskedLM
    assert registry.model_class("distilbert", "classification") is \
        distilbert.DistilBertClassifier


def test_config_hf_names_and_errors():
    hf = distilbert.Config.from_hf({"dim": 64, "n_layers": 3, "n_heads": 4, "hidden_dim": 100,
                                    "activation": "relu", "seq_classif_dropout": 0.3,
                                    "qa_dropout": 0.1, "sinusoidal_pos_embds": False})
    assert (hf.hidden_size, hf.num_layers, hf.intermediate_size, hf.hidden_act,
            hf.classifier_dropout, hf.type_vocab_size) == (64, 3, 100, "relu", 0.3, 0)
    back = hf.to_hf()
    assert (back["dim"], back["n_layers"], back["hidden_dim"], back["activation"]) == \
        (64, 3, 100, "relu")
    assert "type_vocab_size" not in back and "hidden_size" not in back
    with pytest.raises(ConfigError, match="type_vocab_size: DistilBERT has no token types"):
        distilbert.Config(type_vocab_size=2)
    with pytest.raises(ConfigError, match="sinusoidal_pos_embds"):
        distilbert.Config.from_hf({"sinusoidal_pos_embds": True})
    with pytest.raises(ConfigError, match="with_pooler: DistilBERT has no pooler"):
        distilbert.DistilBertEncoder(TINY, with_pooler=True)


def test_segment_ids_are_accepted_and_ignored():
    encoder = distilbert.DistilBertEncoder(TINY)
    assert encoder.embedding_layer.token_type_embeddings is None
    assert "segment_ids" in encoder.input
    f = features()
    plain = encoder(f)
    assert set(plain) == {"sequence_output", "encoder_outputs"}  # no pooler
    other = encoder(dict(f, segment_ids=tf.ones([2, 6], tf.int32)))
    np.testing.assert_array_equal(plain["sequence_output"], other["sequence_output"])


@pytest.mark.parametrize("cls,keys", [
    (distilbert.DistilBertEncoder, {"sequence_output", "encoder_outputs"}),
    (distilbert.DistilBertMaskedLM, {"sequence_output", "mlm_logits"}),
    (distilbert.DistilBertClassifier, {"logits"}),
])
def test_models_round_trip_config_and_checkpoint(cls, keys, tmp_path):
    model = cls(TINY)
    f = features()
    out = model(f)
    assert set(out) == keys
    if cls is distilbert.DistilBertClassifier:  # Dense + ReLU, seq_classif_dropout, Dense
        head = model.classifier_head
        assert (head.inner_dim, head.activation, head.dropout_rate) == (32, "relu", 0.2)
        assert out["logits"].shape == (2, 2)
    clone = cls.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    assert isinstance(clone.config, distilbert.Config)
    path = tf.train.Checkpoint(model=model).write(str(tmp_path / "ckpt"))
    tf.train.Checkpoint(model=clone).read(path).assert_consumed()
    for k in keys - {"encoder_outputs"}:
        np.testing.assert_allclose(clone(f)[k], out[k], atol=1e-6)
