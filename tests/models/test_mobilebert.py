"""MobileBERT family: the common checks (tests/models/harness.py) and what is MobileBERT's
own: the IB-BERT teacher's size, config errors and HF names, its layers (bottleneck blocks,
trigram embeddings, NoNorm, split-value attention) and the widened tied MLM table."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from tests.models import harness
from tests.models.harness import Role
from tfmodels.api import load_model_config
from tfmodels.errors import ConfigError
from tfmodels.layers import (
    BottleneckEncoderBlock,
    ExtendedMaskedLMHead,
    MultiHeadAttention,
    NoNorm,
    SplitValueAttention,
    TrigramEmbeddings,
)
from tfmodels.models import mobilebert

TINY = mobilebert.Config(
    vocab_size=60,
    hidden_size=32,
    embedding_size=16,
    intra_bottleneck_size=16,
    num_layers=2,
    num_heads=4,
    intermediate_size=24,
    num_feedforward_networks=3,
    max_position_embeddings=16,
    attention_dropout=0.0,
)


SMALL = dataclasses.replace(TINY, num_layers=1, num_feedforward_networks=2)


def features(batch=2, length=6):
    ids = tf.random.uniform([batch, length], 1, 60, tf.int32, seed=1)
    return {"input_ids": ids, "input_mask": tf.ones_like(ids), "segment_ids": tf.zeros_like(ids)}


SEQUENCE, POOLED = (2, 6, 32), (2, 32)
SPEC = harness.FamilySpec(
    "mobilebert",
    SMALL,
    features(),
    {
        "backbone": Role(
            mobilebert.MobileBertModel,
            "MobileBertModel",
            {"sequence_output": SEQUENCE, "pooled_output": POOLED, "encoder_outputs": [SEQUENCE]},
        ),
        "pretraining": Role(
            mobilebert.MobileBertForPreTraining,
            "MobileBertForPreTraining",
            {
                "sequence_output": SEQUENCE,
                "pooled_output": POOLED,
                "mlm_logits": (2, 6, 60),
                "sentence_logits": (2, 2),
            },
            atol=1e-5,
        ),
        "masked_lm": Role(
            mobilebert.MobileBertForMaskedLM,
            "MobileBertForMaskedLM",
            {"sequence_output": SEQUENCE, "mlm_logits": (2, 6, 60)},
        ),
        "classification": Role(
            mobilebert.MobileBertForSequenceClassification,
            "MobileBertForSequenceClassification",
            {"logits": (2, 2)},
        ),
        "token_classification": Role(
            mobilebert.MobileBertForTokenClassification,
            "MobileBertForTokenClassification",
            {"logits": (2, 6, 2)},
        ),
        "question_answering": Role(
            mobilebert.MobileBertForQuestionAnswering,
            "MobileBertForQuestionAnswering",
            {"start_logits": (2, 6), "end_logits": (2, 6)},
        ),
    },
)


models = harness.models_fixture(SPEC)
test_common_checks = harness.common_checks(SPEC)


def test_ibbert_teacher_configuration_builds():
    """Two of its 24 identical blocks are built; the count is exact by linearity."""
    config = load_model_config("ibbert_teacher")
    assert (
        config.num_layers,
        config.hidden_size,
        config.intra_bottleneck_size,
        config.num_heads,
        config.intermediate_size,
        config.num_feedforward_networks,
    ) == (24, 512, 1024, 4, 4096, 1)
    model = mobilebert.MobileBertModel(dataclasses.replace(config, num_layers=2))
    per_block = model.transformer_layers[0].count_params()
    assert model.transformer_layers[1].count_params() == per_block
    total = model.count_params() + 22 * per_block
    assert total == 294_467_840  # paper, Table 1: 293M
    block = model.transformer_layers[0]
    assert block.attention.head_size == 256 and block.attention_bottleneck is None
    assert isinstance(block.attention_norm, keras.layers.LayerNormalization)
    assert block.attention.value.kernel.shape == (512, 1024)  # q, k, v from the block input


def test_config_errors_name_the_key():
    with pytest.raises(ConfigError, match="normalization_type 'batch_norm'"):
        mobilebert.Config(normalization_type="batch_norm")
    with pytest.raises(ConfigError, match="intra_bottleneck_size 130 is not divisible"):
        mobilebert.Config(intra_bottleneck_size=130)
    with pytest.raises(ConfigError, match="num_feedforward_networks must be >= 1"):
        mobilebert.Config(num_feedforward_networks=0)
    with pytest.raises(ConfigError, match="unknown key 'num_ffns'"):
        mobilebert.Config.from_dict({"num_ffns": 2})


def test_hf_names_round_trip():
    hf = TINY.to_hf()
    assert hf["num_hidden_layers"] == 2 and hf["num_feedforward_networks"] == 3
    assert mobilebert.Config.from_hf({**hf, "true_hidden_size": 16}) == TINY


def test_encoder_outputs():
    encoder = mobilebert.MobileBertModel(TINY, output_attention_scores=True)
    out = encoder(features())
    assert out["sequence_output"].shape == (2, 6, 32)
    assert out["pooled_output"].shape == (2, 32)
    assert len(out["encoder_outputs"]) == 2
    assert out["attention_scores"][0].shape == (2, 4, 6, 6)
    np.testing.assert_array_equal(out["encoder_outputs"][-1], out["sequence_output"])


def test_pooler_without_activation_is_the_cls_vector():
    encoder = mobilebert.MobileBertModel(dataclasses.replace(SMALL, classifier_activation=False))
    out = encoder(features())
    assert encoder.pooler_layer is None
    np.testing.assert_array_equal(out["pooled_output"], out["sequence_output"][:, 0])


def test_pretrainer_scores_against_the_widened_tied_table(models):
    model = models["pretraining"]
    out = model(SPEC.features)
    head = model.mlm_head
    assert head.embedding_layer is model.encoder.embedding_layer
    assert head.extra_output_weights.shape == (60, 32 - 16)
    x = head.layer_norm(head.transform(out["sequence_output"]))
    table = np.concatenate(
        [head.embedding_layer.word_embeddings.numpy(), head.extra_output_weights.numpy()], axis=1
    )
    np.testing.assert_allclose(
        out["mlm_logits"], x.numpy() @ table.T + head.bias.numpy(), atol=1e-5
    )


def test_trigram_embedding_sees_each_neighbour():
    layer = TrigramEmbeddings(20, 4, 8, max_positions=10)
    ids = np.array([[3, 4, 5, 6, 7, 8]], np.int32)
    changed = ids.copy()
    changed[0, 2] = 9
    diff = np.abs(layer(changed).numpy() - layer(ids).numpy()).max(axis=-1)[0]
    assert list(diff > 0) == [False, True, True, True, False, False]
    assert layer.projection.kernel.shape == (12, 8)  # 3 x embedding_size -> hidden_size


def test_no_norm_is_an_elementwise_affine_map():
    layer = NoNorm()
    x = tf.random.normal([2, 3, 5])
    np.testing.assert_array_equal(layer(x), x)  # gamma 1, beta 0 at initialization
    layer.gamma.assign(tf.fill([5], 2.0))
    layer.beta.assign(tf.range(5, dtype=tf.float32))
    np.testing.assert_allclose(layer(x), x * 2.0 + tf.range(5, dtype=tf.float32), atol=1e-6)


def test_split_value_attention_takes_values_from_another_tensor():
    layer = SplitValueAttention(2, head_size=4, output_size=8)
    query, value = tf.random.normal([2, 5, 8]), tf.random.normal([2, 5, 12])
    mask = tf.constant([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    out, probs = layer(
        query, key_value=query, value=value, attention_mask=mask, return_attention_scores=True
    )
    assert out.shape == (2, 5, 8) and layer.value.kernel.shape == (12, 8)
    np.testing.assert_array_equal(probs.numpy()[0, :, :, 3:], 0.0)
    # The probabilities depend on query/key only; the values come from ``value``.
    other, probs2 = layer(
        query, key_value=query, value=value * 2.0, attention_mask=mask, return_attention_scores=True
    )
    np.testing.assert_allclose(probs2, probs, atol=1e-6)
    assert np.abs(other.numpy() - out.numpy()).max() > 1e-3
    # Without ``value`` it is the shared MultiHeadAttention.
    plain = SplitValueAttention(2)
    shared = MultiHeadAttention(2)
    x = tf.random.normal([2, 5, 8])
    plain(x), shared(x)
    shared.set_weights(plain.get_weights())
    np.testing.assert_allclose(plain(x), shared(x), atol=1e-6)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(num_ffn=3, key_query_shared_bottleneck=True),
        dict(intra_size=32, normalization_type="layer_norm", activation="gelu"),  # inverted
        dict(use_bottleneck=False, num_ffn=2, dropout_rate=0.1),
    ],
)
def test_bottleneck_block_config_round_trip_and_shapes(kwargs, tmp_path):
    config = {"num_heads": 4, "intra_size": 8, "intermediate_size": 12, **kwargs}
    block = BottleneckEncoderBlock(**config)
    x = tf.random.normal([2, 5, 16])
    y, probs = block(x, return_attention_scores=True)
    assert y.shape == (2, 5, 16) and probs.shape == (2, 4, 5, 5)
    assert len(block.ffns) == config.get("num_ffn", 1)
    clone = BottleneckEncoderBlock.from_config(block.get_config())
    assert clone.get_config() == block.get_config()
    clone(x)
    path = tf.train.Checkpoint(layer=block).write(str(tmp_path / "ckpt"))
    tf.train.Checkpoint(layer=clone).read(path).assert_consumed()
    np.testing.assert_allclose(clone(x), y, atol=1e-6)


def test_extended_head_config_round_trip():
    embeddings = TrigramEmbeddings(30, 4, 8, max_positions=10)
    head = ExtendedMaskedLMHead(embeddings)
    embeddings(tf.ones([1, 3], tf.int32))
    assert head(tf.random.normal([1, 3, 8])).shape == (1, 3, 30)
    clone = ExtendedMaskedLMHead.from_config(head.get_config())
    assert clone.get_config() == head.get_config()
    assert isinstance(clone.embedding_layer, TrigramEmbeddings)
