"""SpanBertForPreTraining + span_pretraining_loss: BERT with tied MLM and SBO heads, no NSP;
L_MLM + L_SBO is finite and falls over a few steps on span-masked records. The model is no
registry role, so of the common checks (tests/models/harness.py) it runs the model's."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from tests.models import harness
from tests.models.harness import Role
from tfmodels.api import load_model_config
from tfmodels.models import bert
from tfmodels.models.spanbert import SpanBertForPreTraining
from tfmodels.pretraining import span_masking
from tfmodels.pretraining.span_objective import span_pretraining_loss

VOCAB = (
    ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    + [f"w{i}" for i in range(40)]
    + [f"##p{i}" for i in range(15)]
)
IDS = {t: i for i, t in enumerate(VOCAB)}
SEQ, PREDICTIONS = 16, 4
CONFIG = bert.Config(
    vocab_size=len(VOCAB),
    hidden_size=16,
    num_layers=1,
    num_heads=2,
    intermediate_size=32,
    max_position_embeddings=SEQ,
    hidden_dropout=0.0,
    attention_dropout=0.0,
)


def span_batch(seed=0, batch=8):
    """Span-masked examples written by encode_span_example and parsed back."""
    rng = np.random.default_rng(seed)
    records = []
    for _ in range(batch):
        tokens = [
            VOCAB[5 + rng.integers(40)] if rng.random() < 0.8 else VOCAB[45 + rng.integers(15)]
            for _ in range(SEQ - 2)
        ]
        tokens[0] = VOCAB[5]  # a word start
        records.append(
            span_masking.encode_span_example(
                tokens, VOCAB, IDS, SEQ, rng, max_predictions=PREDICTIONS, mask_rate=0.25
            ).SerializeToString()
        )
    parsed = tf.io.parse_example(records, span_masking.feature_spec(SEQ, PREDICTIONS))
    return {
        k: tf.cast(v, tf.float32 if v.dtype == tf.float32 else tf.int32) for k, v in parsed.items()
    }


def model_inputs(batch):
    """The features a span batch feeds the model (the rest feeds the loss)."""
    return {k: batch[k] for k in ("input_ids", "input_mask", "segment_ids")}


def sbo_table_kept(model):
    """The SBO head's position table keeps its size through get_config."""
    assert model.sbo_head.max_positions == 8


PRETRAINER = Role(
    SpanBertForPreTraining,
    "SpanBertForPreTraining",
    # no NSP, no pooler (section 3.3)
    {"sequence_output": (8, SEQ, 16), "mlm_logits": (8, SEQ, len(VOCAB))},
    kwargs={"max_span_positions": 8, "position_size": 12},
    check=sbo_table_kept,
)


@pytest.fixture(scope="module")
def model():
    return PRETRAINER.build(CONFIG)


def test_common_checks(tmp_path):
    """On a model of its own: the tests below train the module's."""
    harness.run_model_test(PRETRAINER, CONFIG, model_inputs(span_batch()), tmp_path)


def test_heads_are_tied_and_every_sbo_weight_trains(model):
    assert model.encoder.pooler_layer is None and not hasattr(model, "sentence_head")
    table = model.encoder.embedding_layer.word_embeddings
    assert model.mlm_head.embedding_layer is model.sbo_head.embedding_layer  # both tied
    variables = {id(v) for v in model.trainable_variables}
    assert all(id(v) in variables for v in model.sbo_head.trainable_variables)
    assert sum(v is table for v in model.trainable_variables) == 1
    assert model.sbo_head.position_embeddings.shape == (8, 12)


def test_loss_is_finite_and_decreases(model):
    batch = span_batch(1)
    assert float(tf.reduce_sum(batch["masked_lm_weights"])) == 8 * PREDICTIONS
    optimizer = keras.optimizers.Adam(1e-2)

    history = []
    for _ in range(8):  # eager: tracing a tf.function costs more than these steps
        with tf.GradientTape() as tape:
            loss, metrics = span_pretraining_loss(model, batch, training=True)
        grads = tape.gradient(loss, model.trainable_variables)
        assert all(g is not None for g in grads)  # every weight, SBO head included, learns
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        history.append((float(loss), float(metrics["mlm_loss"]), float(metrics["sbo_loss"])))
    assert set(metrics) == {"mlm_loss", "mlm_accuracy", "sbo_loss", "sbo_accuracy", "tokens"}
    history = np.array(history)
    assert np.all(np.isfinite(history))
    np.testing.assert_allclose(history[:, 0], history[:, 1] + history[:, 2], rtol=1e-5)
    assert history[-1, 0] < 0.85 * history[0, 0]
    assert history[-1, 1] < history[0, 1] and history[-1, 2] < history[0, 2]


def test_sbo_loss_leaves_out_positions_deeper_than_the_table():
    small = SpanBertForPreTraining(CONFIG, max_span_positions=1, position_size=4)
    batch = span_batch(2)
    _, metrics = span_pretraining_loss(small, batch, training=False)
    # Recomputed by hand: only the first token of each span (i - s = 0) counts.
    out = small(model_inputs(batch))
    logits = small.sbo_head(
        out["sequence_output"],
        batch["masked_lm_positions"],
        batch["span_left"],
        batch["span_right"],
    )
    first = tf.cast(batch["masked_lm_positions"] == batch["span_left"] + 1, tf.float32)
    weights = batch["masked_lm_weights"] * first
    assert 0 < float(tf.reduce_sum(weights)) < float(tf.reduce_sum(batch["masked_lm_weights"]))
    losses = keras.losses.sparse_categorical_crossentropy(
        batch["masked_lm_ids"], logits, from_logits=True
    )
    expected = tf.reduce_sum(losses * weights) / (tf.reduce_sum(weights) + 1e-5)
    np.testing.assert_allclose(float(metrics["sbo_loss"]), float(expected), rtol=1e-5)


def test_named_config_is_bert_base_cased():
    config = load_model_config("spanbert_base_cased")
    assert config.family == "bert"  # checkpoints load as HF BertModel
    assert (
        config.vocab_size,
        config.hidden_size,
        config.num_layers,
        config.num_heads,
        config.intermediate_size,
        config.max_position_embeddings,
    ) == (28996, 768, 12, 12, 3072, 512)


def test_released_encoder_is_a_bert_model_with_the_trained_weights(model, tmp_path):
    import tfmodels

    released = model.released_encoder()
    inputs = model_inputs(span_batch())
    np.testing.assert_allclose(
        released(inputs)["sequence_output"], model(inputs)["sequence_output"], atol=1e-6
    )
    tfmodels.save_pretrained(released, str(tmp_path))
    reloaded = tfmodels.from_pretrained(str(tmp_path))
    assert reloaded.architecture == "BertModel" and reloaded.pooler_layer is not None
