"""Layer-wise transfer from IB-BERT to MobileBERT: losses, freezing, and a short schedule."""

import dataclasses
import types

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from tfmodels.compression import distill_mobilebert as dm
from tfmodels.errors import ConfigError
from tfmodels.models import mobilebert

# IB-BERT-like teacher (inverted bottleneck, LayerNorm, GELU, q/k/v from the block input)
# and MobileBERT-like student (bottleneck, NoNorm, ReLU, shared query-key bottleneck; one
# FFN to keep the test quick): same depth, heads and block width.
TEACHER = mobilebert.Config(
    vocab_size=40,
    hidden_size=32,
    embedding_size=16,
    intra_bottleneck_size=64,
    num_layers=2,
    num_heads=4,
    intermediate_size=64,
    hidden_act="gelu",
    max_position_embeddings=16,
    normalization_type="layer_norm",
    key_query_shared_bottleneck=False,
    num_feedforward_networks=1,
    attention_dropout=0.0,
)
STUDENT = mobilebert.Config(
    vocab_size=40,
    hidden_size=32,
    embedding_size=16,
    intra_bottleneck_size=16,
    num_layers=2,
    num_heads=4,
    intermediate_size=24,
    num_feedforward_networks=1,
    max_position_embeddings=16,
    attention_dropout=0.0,
)


def batch_data(n=8, length=10, predictions=3, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, 40, size=(n, length)).astype(np.int32)
    mask = np.ones_like(ids)
    mask[1::2, 7:] = 0
    ids[mask == 0] = 0
    return {
        "input_ids": ids,
        "input_mask": mask,
        "segment_ids": (np.arange(length) >= 5).astype(np.int32)[None].repeat(n, 0),
        "masked_lm_positions": np.tile(np.array([[1, 3, 5]], np.int32), (n, 1)),
        "masked_lm_ids": rng.integers(1, 40, size=(n, predictions)).astype(np.int32),
        "masked_lm_weights": np.ones([n, predictions], np.float32),
        "next_sentence_labels": rng.integers(0, 2, size=(n, 1)).astype(np.int32),
    }


def dataset():
    return tf.data.Dataset.from_tensors(batch_data()).repeat()


def test_losses_vanish_for_equal_inputs_grow_otherwise_and_skip_padding():
    mask = tf.constant([[1, 1, 1, 0], [1, 1, 1, 1]])
    a, b = tf.random.normal([2, 4, 8], seed=1), tf.random.normal([2, 4, 8], seed=2)
    assert float(dm.feature_map_loss(a, a, mask)) == 0.0
    assert float(dm.feature_map_loss(a, b, mask)) > 0.1
    assert float(dm.feature_map_loss(a, b * 3.0 + 1.0, mask, normalize=True)) == pytest.approx(
        float(dm.feature_map_loss(a, b, mask, normalize=True)), rel=1e-4
    )
    # A padded query position does not count.
    b_padded = tf.tensor_scatter_nd_update(b, [[0, 3]], [tf.fill([8], 100.0)])
    assert float(dm.feature_map_loss(a, b_padded, mask)) == pytest.approx(
        float(dm.feature_map_loss(a, b, mask))
    )
    p = tf.nn.softmax(tf.random.normal([2, 4, 4, 4], seed=3))
    q = tf.nn.softmax(tf.random.normal([2, 4, 4, 4], seed=4))
    assert float(dm.attention_transfer_loss(p, p, mask)) == 0.0
    kl = float(dm.attention_transfer_loss(p, q, mask))
    assert kl > 0.01
    # Exactly the mean KL over heads and real queries.
    pn, qn = p.numpy(), q.numpy()
    per_query = (pn * np.log(pn / qn)).sum(-1).mean(1)  # [B, Q]
    assert kl == pytest.approx(per_query[mask.numpy() == 1].mean(), rel=1e-4)
    with pytest.raises(ConfigError, match="equal head counts"):
        dm.attention_transfer_loss(p, q[:, :2], mask)


def test_pretraining_distillation_loss_terms():
    logits = tf.random.normal([2, 3, 40], seed=5)
    other = tf.random.normal([2, 3, 40], seed=6)
    ids, weights = (
        tf.constant([[1, 2, 3], [4, 5, 6]]),
        tf.constant([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]]),
    )
    nsp_logits, nsp_labels = tf.constant([[2.0, -1.0], [0.5, 0.0]]), tf.constant([0, 1])
    loss, metrics = dm.pretraining_distillation_loss(logits, logits, ids, weights, alpha=0.3)
    assert float(metrics["kd_loss"]) == 0.0
    assert float(loss) == pytest.approx(0.3 * float(metrics["mlm_loss"]))
    loss, metrics = dm.pretraining_distillation_loss(
        other, logits, ids, weights, nsp_logits, nsp_labels, alpha=0.3
    )
    assert float(metrics["kd_loss"]) > 0.1
    assert float(loss) == pytest.approx(
        0.3 * float(metrics["mlm_loss"])
        + 0.7 * float(metrics["kd_loss"])
        + float(metrics["nsp_loss"]),
        rel=1e-5,
    )


@pytest.fixture(scope="module")
def models():
    """A teacher with peaked attention (scaled query/key kernels), so attention
    transfer has something to transfer, and an untrained student."""
    keras.utils.set_random_seed(0)
    teacher = mobilebert.MobileBertForPreTraining(TEACHER)
    for block in teacher.encoder.transformer_layers:
        for dense in (block.attention.query, block.attention.key):
            dense.kernel.assign(dense.kernel * 8.0)
    return teacher, mobilebert.MobileBertForPreTraining(STUDENT)


def features():
    return {
        k: v for k, v in batch_data().items() if k in ("input_ids", "input_mask", "segment_ids")
    }


def test_layer_losses_vanish_when_the_student_is_the_teacher(models):
    teacher, student = models
    twin = mobilebert.MobileBertModel(TEACHER)
    twin.set_weights(teacher.encoder.get_weights())
    f = features()
    t_out = dm.transfer_model(teacher)(f)
    for other, zero in ((twin, True), (student, False)):
        out = dm.transfer_model(other)(f)
        for layer in range(2):
            loss, parts = dm.layer_transfer_loss(t_out, out, layer, f["input_mask"])
            if zero:
                assert float(loss) == 0.0
            else:
                assert float(parts["feature_map_loss"]) > 0.01
                assert float(parts["attention_loss"]) > 0.01
    shallow = types.SimpleNamespace(
        transformer_layers=[None], config=dataclasses.replace(STUDENT, num_layers=1)
    )
    with pytest.raises(ConfigError, match="differ in num_layers"):
        dm.check_compatible(teacher, shallow)


def test_train_only_leaves_one_layer_trainable_and_embeddings_copy(models):
    teacher, student = models
    block = student.encoder.transformer_layers[1]
    dm.train_only(student, [block])
    assert {id(v) for v in student.trainable_variables} == {
        id(v) for v in block.trainable_variables
    }
    dm.train_only(student, None)
    assert len(student.trainable_variables) == len(student.weights)
    dm.copy_embeddings(teacher, student)
    for t, s in zip(
        teacher.encoder.embedding_layer.weights, student.encoder.embedding_layer.weights
    ):
        np.testing.assert_array_equal(t.numpy(), s.numpy())


def test_distill_schedule_lowers_every_stage_loss(models, tmp_path):
    """Runs last in this file: it trains the module's student."""
    teacher, student = models
    history = dm.distill(
        teacher,
        student,
        dataset(),
        dataset(),
        str(tmp_path),
        steps_per_layer=12,
        distillation_steps=12,
        transfer_learning_rate=3e-2,
        distillation_learning_rate=3e-3,
    )
    stages = history["progressive_knowledge_transfer"]
    assert [s["layer"] for s in stages] == [0, 1]
    for stage in stages:
        before, after = stage["before"], stage["after"]
        assert stage["steps"] == 12
        assert after["loss"] < 0.95 * before["loss"], stage
        assert after["feature_map_loss"] < before["feature_map_loss"], stage
    # Attention transfer is the smaller, noisier term: it drops over the two stages.
    assert sum(s["after"]["attention_loss"] for s in stages) < sum(
        s["before"]["attention_loss"] for s in stages
    )
    pd = history["pretraining_distillation"]
    assert pd["after"]["loss"] < pd["before"]["loss"], pd
    assert set(pd["after"]) == {"loss", "mlm_loss", "mlm_accuracy", "kd_loss", "nsp_loss"}
    assert not teacher.trainable_variables  # frozen throughout
    assert len(student.trainable_variables) == len(student.weights)
    assert (tmp_path / "transfer_layer_1" / "checkpoints").is_dir()
