"""RoBERTa family: named configuration, outputs, positions, config and checkpoint round-trips."""
import numpy as np
import pytest
import tensorflow as tf

from tfmodels.errors import ConfigError
from tfmodels.models import registry, roberta

TINY = roberta.Config(vocab_size=60, hidden_size=32, num_layers=1, num_heads=4,
                      intermediate_size=48, max_position_embeddings=18)


def features(batch=2, length=6):
    ids = tf.random.uniform([batch, length], 3, 60, tf.int32, seed=1)
    return {"input_ids": ids, "input_mask": tf.ones_like(ids),
            "segment_ids": tf.zeros_like(ids)}


def test_config_defaults_and_strictness():
    config = roberta.Config()
    assert (config.vocab_size, config.max_position_embeddings, config.type_vocab_size) == \
        (50265, 514, 1)
    assert config.position_offset == 2
    with pytest.raises(ConfigError, match="unknown key 'pad_id'"):
        roberta.Config.from_dict({"pad_id": 1})
    hf = roberta.Config.from_hf({"num_hidden_layers": 3, "pad_token_id": 0, "use_cache": True})
    assert (hf.num_layers, hf.position_offset) == (3, 1)
    assert hf.to_hf()["pad_token_id"] == 0


def test_registry_maps_architectures_and_tasks():
    assert registry.model_class("roberta", "RobertaModel") is roberta.RobertaEncoder
    assert registry.model_class("roberta", "RobertaForMaskedLM") is roberta.RobertaMaskedLM
    assert registry.model_class("roberta", "pretraining") is roberta.RobertaMaskedLM
    assert registry.model_class("roberta", "classification") is roberta.RobertaClassifier
    assert registry.backbone_architecture("roberta") == "RobertaModel"


@pytest.mark.parametrize("cls,keys", [
    (roberta.RobertaEncoder, {"sequence_output", "pooled_output", "encoder_outputs"}),
    (roberta.RobertaMaskedLM, {"sequence_output", "mlm_logits"}),
    (roberta.RobertaClassifier, {"logits"}),
])
def test_models_round_trip_config_and_checkpoint(cls, keys, tmp_path):
    model = cls(TINY) if cls is not roberta.RobertaClassifier else cls(TINY, num_labels=3)
    f = features()
    out = model(f)
    assert set(out) == keys
    clone = cls.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    encoder = getattr(clone, "encoder", clone)
    assert encoder.embedding_layer.position_offset == 2
    path = tf.train.Checkpoint(model=model).write(str(tmp_path / "ckpt"))
    tf.train.Checkpoint(model=clone).read(path).assert_consumed()
    for k in keys - {"encoder_outputs"}:
        np.testing.assert_allclose(clone(f)[k], out[k], atol=1e-6)
    # The heads as in the reference: a pooler only on the backbone, the MLM decoder tied
    # to the word embeddings, the classifier's own tanh Dense over <s>.
    assert (encoder.pooler_layer is not None) == (cls is roberta.RobertaEncoder)
    if cls is roberta.RobertaMaskedLM:
        assert out["mlm_logits"].shape == (2, 6, 60)
        assert model.mlm_head.embedding_layer is model.encoder.embedding_layer
    if cls is roberta.RobertaClassifier:
        assert out["logits"].shape == (2, 3)
        assert model.classifier_head.inner_dim == 32


def test_positions_start_after_the_padding_index():
    encoder = roberta.from_config(TINY.to_dict())
    assert isinstance(encoder, roberta.RobertaEncoder)
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
