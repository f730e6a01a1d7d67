"""Distillation losses, layer mappings, student initialisation and augmentation on tiny BERTs."""

import dataclasses
import os

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from tests.conftest import experiment, max_abs_diff
from tfmodels.compression import distill, distill_experiment
from tfmodels.compression.distill_augment import MaskedLMAugmenter
from tfmodels.errors import ConfigError
from tfmodels.layers.attention import attention_allowed, masked_softmax
from tfmodels.models import bert
from tfmodels.tokenizers import WordPieceTokenizer

CONFIG = bert.Config(
    vocab_size=50,
    hidden_size=16,
    num_layers=4,
    num_heads=2,
    intermediate_size=32,
    max_position_embeddings=32,
)


def features(batch=3, length=10, seed=0):
    rng = np.random.default_rng(seed)
    mask = np.ones([batch, length], np.int32)
    mask[1, 6:] = 0
    mask[2, 3:] = 0
    return {
        "input_ids": tf.constant(rng.integers(5, 50, [batch, length]) * mask, tf.int32),
        "input_mask": tf.constant(mask),
        "segment_ids": tf.constant(np.zeros([batch, length], np.int32)),
    }


def mlm_batch():
    batch = dict(features())
    batch["masked_lm_positions"] = tf.constant([[1, 2], [3, 0], [1, 2]], tf.int32)
    batch["masked_lm_ids"] = tf.constant([[7, 8], [9, 0], [10, 11]], tf.int32)
    batch["masked_lm_weights"] = tf.constant([[1.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    return batch


def copy_of(teacher):
    """A student with the teacher's depth and weights."""
    student = distill.build_student(teacher, teacher.config)
    distill.init_from_teacher(student, teacher, layers=range(teacher.config.num_layers))
    return student


def sharpen(model, scale=30.0):
    """Larger head weights, so that the teacher's distributions are far from uniform."""
    head = model.classifier_head.out if hasattr(model, "classifier_head") else model.mlm_head
    for w in head.trainable_weights:
        w.assign(w * scale)


def identity_projections(distiller, width):
    for name in ("embedding_projection", "hidden_projection"):
        layer = keras.layers.Dense(width, use_bias=False, kernel_initializer="identity")
        layer.build((None, width))
        setattr(distiller, name, layer)
    return distiller


def all_losses(teacher, student, projections=False):
    """Every distillation loss term of both recipes: {name: value}."""
    distiller = distill.Distiller(student)
    if projections:
        identity_projections(distiller, student.config.hidden_size)
    n, m = teacher.config.num_layers, student.config.num_layers
    out = {}
    if hasattr(teacher, "mlm_head"):
        for restrict in (False, True):
            _, metrics = distill.distilbert_loss(teacher, restrict_ce_to_mask=restrict)(
                distiller, mlm_batch(), training=False
            )
            out[f"mlm_ce_{restrict}"] = metrics["ce_loss"]
            out[f"mlm_cos_{restrict}"] = metrics["cos_loss"]
        return out
    labels = tf.constant([0, 1, 2])
    loss, metrics = distill.distilbert_loss(teacher, alpha_mlm=0.0)(
        distiller, (features(), labels), training=False
    )
    out.update(distilbert_total=loss, ce=metrics["ce_loss"], cos=metrics["cos_loss"])
    layer_map = distill.uniform_layer_map(n, m)
    loss, metrics = distill.tinybert_intermediate_loss(teacher, layer_map)(
        distiller, (features(), labels), training=False
    )
    out.update(intermediate_total=loss, **metrics)
    loss, _ = distill.tinybert_prediction_loss(teacher, temperature=2.0)(
        distiller, (features(), labels), training=False
    )
    out["prediction"] = loss
    return out


NARROW = bert.Config(
    vocab_size=50,
    hidden_size=8,
    num_layers=2,
    num_heads=2,
    intermediate_size=16,
    max_position_embeddings=32,
)


@pytest.fixture(scope="module")
def teacher():
    tf.random.set_seed(1)
    model = bert.BertForSequenceClassification(CONFIG, num_labels=3)
    sharpen(model)
    return model


@pytest.fixture(scope="module")
def half(teacher):
    """A randomly initialised student with 2 of the teacher's 4 layers (left unchanged)."""
    tf.random.set_seed(3)
    return distill.build_student(teacher, distill.student_config(CONFIG))


@pytest.fixture(scope="module")
def narrow(teacher):
    return distill.build_student(teacher, distill.student_config(CONFIG, base=NARROW))


def test_every_loss_is_zero_when_the_student_is_the_teacher(teacher):
    twin = copy_of(teacher)
    for projections in (False, True):
        for name, value in all_losses(teacher, twin, projections).items():
            assert abs(float(value)) <= 1e-6, (name, projections)


def test_masked_lm_losses_are_zero_for_a_copy_and_positive_otherwise():
    tf.random.set_seed(2)
    teacher = bert.BertForMaskedLM(dataclasses.replace(CONFIG, num_layers=2))
    sharpen(teacher, 10.0)
    for name, value in all_losses(teacher, copy_of(teacher)).items():
        assert abs(float(value)) <= 1e-6, name
    student = distill.build_student(teacher, distill.student_config(teacher.config, 1))
    for name, value in all_losses(teacher, student).items():
        assert np.isfinite(float(value)) and float(value) > 1e-4, name


def test_losses_are_positive_and_finite_for_a_different_student(teacher, half):
    values = all_losses(teacher, half)
    assert set(values) >= {"ce", "cos", "emb_loss", "att_loss", "hidden_loss", "prediction"}
    for name, value in values.items():
        assert np.isfinite(float(value)) and float(value) > 1e-6, name


def test_tinybert_intermediate_loss_does_not_depend_on_the_padding(teacher, half):
    loss_fn = distill.tinybert_intermediate_loss(teacher, distill.uniform_layer_map(4, 2))
    distiller = distill.Distiller(half)
    labels = tf.constant([0, 1, 2])
    cut = features(length=10)  # the longest row has 10 tokens
    padded = {k: tf.pad(v, [[0, 0], [0, 6]]) for k, v in cut.items()}  # 6 more [PAD]s
    _, long = loss_fn(distiller, (padded, labels), training=False)
    _, short = loss_fn(distiller, (cut, labels), training=False)
    for name in ("emb_loss", "att_loss", "hidden_loss"):
        np.testing.assert_allclose(float(short[name]), float(long[name]), rtol=1e-5)


def test_narrow_student_learns_through_projections(teacher, narrow):
    student = narrow
    distiller = distill.Distiller(student, teacher_hidden_size=16)
    assert distiller.embedding_projection.kernel.shape == (8, 16)
    assert distiller.hidden_projection.kernel.shape == (8, 16)
    loss_fn = distill.tinybert_intermediate_loss(teacher, [2, 4])
    batch = (features(), tf.constant([0, 1, 2]))
    with tf.GradientTape() as tape:
        loss, _ = loss_fn(distiller, batch, training=True)
    grads = tape.gradient(loss, distiller.trainable_variables)
    named = {v.name: g for v, g in zip(distiller.trainable_variables, grads)}
    assert named[distiller.hidden_projection.kernel.name] is not None
    assert named[distiller.embedding_projection.kernel.name] is not None
    with distill.frozen([student.classifier_head, student.encoder.pooler_layer]):
        trainable = {v.name for v in distiller.trainable_variables}
        assert not any("classifier" in n or "pooler" in n for n in trainable)
    assert any("classifier" in v.name for v in distiller.trainable_variables)


def test_distilbert_init_copies_every_other_teacher_layer(teacher):
    student = distill.build_student(teacher, distill.student_config(CONFIG))
    assert student.config.num_layers == 2
    assert distill.init_from_teacher(student, teacher) == [0, 2]
    s, t = student.encoder, teacher.encoder
    for k in range(2):
        for a, b in zip(s.transformer_layers[k].weights, t.transformer_layers[2 * k].weights):
            assert a.shape == b.shape and np.array_equal(a.numpy(), b.numpy()), a.name
    assert not np.array_equal(
        s.transformer_layers[1].weights[0].numpy(), t.transformer_layers[1].weights[0].numpy()
    )
    for a, b in zip(
        s.embedding_layer.weights + s.pooler_layer.weights + student.classifier_head.weights,
        t.embedding_layer.weights + t.pooler_layer.weights + teacher.classifier_head.weights,
    ):
        assert np.array_equal(a.numpy(), b.numpy()), a.name


def test_layer_mappings():
    assert distill.uniform_layer_map(12, 4) == [3, 6, 9, 12]  # TinyBERT-4 from BERT-base
    assert distill.uniform_layer_map(6, 3) == [2, 4, 6]
    assert distill.uniform_layer_map(4, 4) == [1, 2, 3, 4]
    assert distill.uniform_layer_map(6, 4) == [1, 3, 4, 6]
    assert distill.every_other_layer(12, 6) == [0, 2, 4, 6, 8, 10]
    assert distill.every_other_layer(6, 3) == [0, 2, 4]
    assert distill.every_other_layer(5, 5) == [0, 1, 2, 3, 4]
    with pytest.raises(ConfigError, match="the student needs 1 to 6 layers"):
        distill.uniform_layer_map(6, 8)
    with pytest.raises(ConfigError, match="task.layer_map: give 3 teacher layer numbers"):
        distill.check_layer_list([2, 4, 7], 3, 1, 6, "task.layer_map")


def test_forward_matches_the_model_and_its_attention(teacher):
    feats = features()
    out = distill.forward(teacher, feats, score_layers=range(4))
    assert max_abs_diff(out["logits"], teacher(feats)["logits"]) == 0.0
    allowed = attention_allowed(feats["input_mask"], 10, False)
    x = out["embedding_output"]
    for i, block in enumerate(teacher.encoder.transformer_layers):
        _, probs = block.attention(
            x, attention_mask=feats["input_mask"], return_attention_scores=True
        )
        scores = out["attention_scores"][i]
        # Masked keys are zeroed (row 2 has 3 real tokens); their softmax is the model's.
        assert float(tf.reduce_max(tf.abs(scores[2, :, :, 3:]))) == 0.0
        assert float(tf.reduce_max(tf.abs(scores[2, :, :, :3]))) > 0.0
        assert max_abs_diff(masked_softmax(scores, allowed), probs) < 1e-6
        x = out["hidden_states"][i]


def test_clear_errors(teacher, half, narrow):
    with pytest.raises(ConfigError, match="the student needs 1 to 4 layers.*got 6"):
        distill.student_config(CONFIG, 6)
    with pytest.raises(ConfigError, match="vocab_size 60 differs from the teacher's 50"):
        distill.student_config(CONFIG, base=bert.Config(vocab_size=60, num_layers=2))
    with pytest.raises(ConfigError, match="needs the teacher's widths"):
        distill.init_from_teacher(narrow, teacher)
    with pytest.raises(ConfigError, match="task.init_layers: give 2 teacher layer numbers"):
        distill.init_from_teacher(half, teacher, [0, 4])


def test_what_each_method_needs_of_the_pair(teacher, half, narrow):
    def pairing(student, *sets):
        cfg = experiment(*sets, task_type="distillation")
        return distill_experiment.check_pairing(cfg, student, teacher)

    assert pairing(half) is None  # DistilBERT: same width, any depth
    assert pairing(narrow, "task.method=tinybert") == [2, 4]
    assert pairing(narrow, "task.method=tinybert", "task.layer_map=[1,3]") == [1, 3]
    with pytest.raises(ConfigError, match="the student keeps the teacher's width 16 .got 8"):
        pairing(narrow)
    with pytest.raises(ConfigError, match="task.layer_map: give 2 teacher layer numbers"):
        pairing(narrow, "task.method=tinybert", "task.layer_map=[1,5]")
    four_heads = distill.build_student(teacher, dataclasses.replace(NARROW, num_heads=4))
    with pytest.raises(ConfigError, match="layer 1 needs the 2 heads of teacher layer 2 .got 4"):
        pairing(four_heads, "task.method=tinybert")


def test_masked_lm_augmentation(minilm_path, teacher):
    tokenizer = WordPieceTokenizer(os.path.join(minilm_path, "vocab.txt"))
    tf.random.set_seed(4)
    mlm = bert.BertForMaskedLM(
        bert.Config(
            vocab_size=30522,
            hidden_size=16,
            num_layers=1,
            num_heads=2,
            intermediate_size=16,
            max_position_embeddings=32,
        )
    )
    text = "The Cat sat on 42 mats, distillation!"
    augmenter = MaskedLMAugmenter(
        mlm, tokenizer, seq_length=32, candidates=4, prob=1.0, per_example=5
    )
    ((words, pieces),) = augmenter.split_words([text])
    assert words == ["the", "cat", "sat", "on", "42", "mats", ",", "distillation", "!"]
    found = augmenter.candidates(words, pieces)
    single = [i for i, (w, p) in enumerate(zip(words, pieces)) if len(p) == 1 and w.isalpha()]
    assert sorted(found) == single and 7 not in single  # "distillation" has several pieces
    for options in found.values():
        assert len(options) == 4 and all(o.isalpha() for o in options)
    sentences = augmenter.augment([text])[0]
    assert sentences[0] == " ".join(words) and 1 < len(sentences) <= 6
    for sentence in sentences[1:]:
        new = sentence.split(" ")
        for i, word in enumerate(new):
            assert word in found[i] if i in found else word == words[i]
    augmenter.prob = 0.0
    assert augmenter.augment([text])[0] == [" ".join(words)]
    with pytest.raises(ConfigError, match="needs a masked-LM head"):
        MaskedLMAugmenter(teacher, tokenizer)
