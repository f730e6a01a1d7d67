"""ELECTRA family: named configurations, heads and outputs, config and checkpoint round-trips."""
import numpy as np
import pytest
import tensorflow as tf

import tfmodels
from tests.conftest import zero_initialized
from tfmodels.api import load_model_config
from tfmodels.errors import ConfigError
from tfmodels.layers import TransformerEmbeddings
from tfmodels.models import electra, registry

# E=16 < H=32: the embeddings are projected, as in ELECTRA-Small.
TINY = electra.Config(vocab_size=60, embedding_size=16, hidden_size=32, num_layers=1,
                      num_heads=4, intermediate_size=48, max_position_embeddings=16,
                      hidden_act="relu")


def features(batch=2, length=6):
    ids = tf.random.uniform([batch, length], 1, 60, tf.int32, seed=1)
    return {"input_ids": ids, "input_mask": tf.ones_like(ids),
            "segment_ids": tf.concat([tf.zeros([batch, 3], tf.int32),
                                      tf.ones([batch, length - 3], tf.int32)], 1)}


def test_small_generator_and_discriminator_have_the_reference_parameter_counts():
    # The released small generator is the small discriminator's network.
    assert load_model_config("electra_small_generator") == \
        load_model_config("electra_small_discriminator")
    with zero_initialized():
        model = tfmodels.build("electra_small_generator", architecture="ElectraForMaskedLM")
    assert model.encoder.count_params() == 13_483_008  # ElectraModel
    assert model.count_params() == 13_546_682  # ElectraForMaskedLM: the output table is tied


def test_registry_maps_architectures_and_tasks():
    assert registry.backbone_architecture("electra") == "ElectraModel"
    assert registry.model_class("electra", "ElectraForPreTraining") is electra.ElectraDiscriminator
    assert registry.model_class("electra", "masked_lm") is electra.ElectraMaskedLM
    assert registry.model_class("electra", "classification") is electra.ElectraClassifier


def test_config_defaults_hf_names_and_errors():
    assert (electra.Config().embedding_size, electra.Config().hidden_size) == (128, 256)
    hf = electra.Config.from_hf({"num_hidden_layers": 3, "embedding_size": 64,
                                 "summary_type": "first", "classifier_dropout": 0.3})
    assert (hf.num_layers, hf.embedding_size, hf.classifier_dropout) == (3, 64, 0.3)
    assert hf.to_hf()["num_hidden_layers"] == 3 and hf.to_hf()["embedding_size"] == 64
    with pytest.raises(ConfigError, match="tie_word_embeddings"):
        electra.Config.from_hf({"tie_word_embeddings": False})
    with pytest.raises(ConfigError, match="with_pooler: ELECTRA has no pooler"):
        electra.ElectraEncoder(TINY, with_pooler=True)


@pytest.mark.parametrize("cls,keys", [
    (electra.ElectraEncoder, {"sequence_output", "encoder_outputs"}),
    (electra.ElectraDiscriminator, {"sequence_output", "rtd_logits"}),
    (electra.ElectraMaskedLM, {"sequence_output", "mlm_logits"}),
    (electra.ElectraClassifier, {"logits"}),
])
def test_models_round_trip_config_and_checkpoint(cls, keys, tmp_path):
    model = cls(TINY)
    f = features()
    out = model(f)
    assert set(out) == keys  # no pooled_output: ELECTRA has no pooler
    shapes = {"sequence_output": (2, 6, 32), "rtd_logits": (2, 6), "mlm_logits": (2, 6, 60),
              "logits": (2, 2)}
    for key in keys - {"encoder_outputs"}:
        assert out[key].shape == shapes[key], key
    if cls is electra.ElectraMaskedLM:  # tied H -> E -> V head, exact GELU whatever hidden_act
        assert model.mlm_head.embedding_layer is model.encoder.embedding_layer
        assert model.mlm_head.activation == "gelu"
        assert model.mlm_head.transform.kernel.shape == (32, 16)
    clone = cls.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    assert isinstance(clone.config, electra.Config)
    path = tf.train.Checkpoint(model=model).write(str(tmp_path / "ckpt"))
    tf.train.Checkpoint(model=clone).read(path).assert_consumed()
    for k in keys - {"encoder_outputs"}:
        np.testing.assert_allclose(clone(f)[k], out[k], atol=1e-6)


def test_share_embeddings_checks_shapes_before_sharing():
    ids = tf.zeros([1, 4], tf.int32)
    source, target = (TransformerEmbeddings(60, 16, max_positions=n, hidden_size=32)
                      for n in (16, 8))
    source(ids), target(ids)
    with pytest.raises(ConfigError, match=r"cannot share position_embeddings: shape \(16, 16\)"):
        electra.share_embeddings(source, target)
    assert target.word_embeddings is not source.word_embeddings  # nothing half-shared
