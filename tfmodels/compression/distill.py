"""Knowledge distillation of BERT models: the student, the layer mappings, the two recipes.

DistilBERT (Sanh et al. 2019, section 3): the student keeps the teacher's width,
has half its layers and starts from the teacher "taking one layer out of two";
it learns from ``alpha_ce * T^2 * KL`` on the teacher's softened outputs, the
hard-label loss (masked LM, or the task's labels) and a cosine loss between the
last hidden states.

TinyBERT (Jiao et al. 2020, section 3.1): student layer ``m`` learns from teacher
layer ``g(m)``; the losses are MSEs on the embeddings (through a learned ``W_e``
when the widths differ), the unnormalised attention scores, the hidden states
(through ``W_h``) and, in a separate phase, a soft cross-entropy on the logits.
General distillation (section 3.3) uses the intermediate-layer losses on
pre-training text; task distillation first those, then the prediction layer.

The per-layer quantities come from the models' own sublayers, run block by
block (:func:`forward`), so the layers themselves need no distillation hooks.
"""

import contextlib
import dataclasses
import math

import tensorflow as tf
import tf_keras as keras

from tfmodels.compression import distill_losses as losses
from tfmodels.convert.pretrained import build_model
from tfmodels.errors import ConfigError
from tfmodels.layers.attention import attention_allowed
from tfmodels.pretraining.objectives import masked_lm_loss

METHODS = ("distilbert", "tinybert")
HEADS = ("mlm_head", "sentence_head", "classifier_head")
# The losses branch on Python values only; autograph's conversion of them and of every
# layer they call would only add tracing time (most of a short run's on CPU).
_no_autograph = tf.autograph.experimental.do_not_convert


def encoder_of(model):
    """The backbone of a task model (its ``encoder``), or the model if it is one."""
    return getattr(model, "encoder", model)


def check_student_depth(teacher_layers, student_layers, flag="task.student_layers"):
    if not 1 <= student_layers <= teacher_layers:
        raise ConfigError(
            f"{flag}: the student needs 1 to {teacher_layers} layers (the "
            f"teacher's depth); got {student_layers}"
        )


def every_other_layer(teacher_layers, student_layers):
    """DistilBERT's initialisation: student block ``k`` starts as teacher block
    ``k * N // M`` (0-based), i.e. blocks 0, 2, 4, ... when ``M = N / 2`` (section 3).

    The authors' extraction script for DistilBERT-base took blocks 0, 2, 4, 7, 9, 11;
    pass those explicitly (``init_layers``) to reproduce it.
    """
    check_student_depth(teacher_layers, student_layers)
    return [k * teacher_layers // student_layers for k in range(student_layers)]


def uniform_layer_map(teacher_layers, student_layers):
    """TinyBERT's uniform strategy ``g(m) = m * N / M`` for ``m = 1..M`` (section 3.1).

    Layer numbers are the paper's: 1-based, 0 being the embedding layer, so student
    layer ``m`` (block ``m - 1``) learns from teacher block ``g(m) - 1``. When ``M``
    does not divide ``N`` the product is rounded down, as in the authors' code.
    """
    check_student_depth(teacher_layers, student_layers)
    return [m * teacher_layers // student_layers for m in range(1, student_layers + 1)]


def check_layer_list(values, student_layers, low, high, flag):
    """One layer number in ``[low, high]`` per student layer, or a ConfigError."""
    values = list(values)
    if len(values) != student_layers or any(
        not isinstance(v, int) or not low <= v <= high for v in values
    ):
        raise ConfigError(
            f"{flag}: give {student_layers} teacher layer numbers (one per "
            f"student layer) between {low} and {high}; got {values}"
        )
    return values


def student_config(teacher_config, num_layers=None, base=None):
    """The student's Config: ``base``'s widths (default: the teacher's) with ``num_layers``
    layers (default: ``base``'s own depth, or half the teacher's when ``base`` is None)."""
    if base is not None and base.vocab_size != teacher_config.vocab_size:
        raise ConfigError(
            f"model.name: the student's vocab_size {base.vocab_size} differs from "
            f"the teacher's {teacher_config.vocab_size}; both read the same tokens"
        )
    if num_layers is None:
        num_layers = base.num_layers if base is not None else max(1, teacher_config.num_layers // 2)
    check_student_depth(teacher_config.num_layers, num_layers)
    return dataclasses.replace(
        base or teacher_config, num_layers=num_layers, **_unpruned(base or teacher_config)
    )


def _unpruned(config):
    """The student starts with every head: a teacher's pruned heads (numbered by the
    teacher's layers) are not carried over."""
    return {"pruned_heads": {}} if getattr(config, "pruned_heads", None) else {}


def build_student(teacher, config, architecture=None):
    """A fresh model of ``config`` with the teacher's head (or ``architecture``)."""
    return build_model(
        config.family,
        architecture or teacher.architecture,
        config,
        dict(getattr(teacher, "head_args", {})),
        "distillation student",
    )


def same_widths(student_config_, teacher_config):
    """Whether every weight of a student block has its teacher block's shape."""
    keys = (
        "hidden_size",
        "num_heads",
        "intermediate_size",
        "embedding_size",
        "vocab_size",
        "max_position_embeddings",
        "type_vocab_size",
    )
    return all(getattr(student_config_, k) == getattr(teacher_config, k) for k in keys)


def init_from_teacher(student, teacher, layers=None):
    """Copies the teacher's embeddings, blocks ``layers`` (default :func:`every_other_layer`),
    pooler and the heads both models have into the student; returns ``layers``."""
    s, t = encoder_of(student), encoder_of(teacher)
    n, m = len(t.transformer_layers), len(s.transformer_layers)
    if not same_widths(s.config, t.config):
        raise ConfigError(
            "initialising the student from the teacher needs the teacher's widths "
            f"(student hidden {s.config.hidden_size}, heads {s.config.num_heads}, "
            f"FFN {s.config.intermediate_size}; teacher {t.config.hidden_size}, "
            f"{t.config.num_heads}, {t.config.intermediate_size}); use "
            "task.student_init=random or a student checkpoint"
        )
    layers = (
        every_other_layer(n, m)
        if layers is None
        else check_layer_list(layers, m, 0, n - 1, "task.init_layers")
    )
    pairs = [(s.embedding_layer, t.embedding_layer)]
    pairs += [(s.transformer_layers[k], t.transformer_layers[i]) for k, i in enumerate(layers)]
    if s.pooler_layer is not None and t.pooler_layer is not None:
        pairs.append((s.pooler_layer, t.pooler_layer))
    pairs += [
        (getattr(student, h), getattr(teacher, h))
        for h in HEADS
        if hasattr(student, h) and hasattr(teacher, h)
    ]
    copies = [
        (variable, value)
        for student_layer, teacher_layer in pairs
        for variable, value in zip(student_layer.weights, teacher_layer.weights)
    ]
    for variable, value in copies:  # all checked before any is copied
        if variable.shape != value.shape:  # e.g. a teacher block with pruned heads
            raise ConfigError(
                f"initialising the student from the teacher: the teacher's "
                f"{value.name} has shape {value.shape}, the student's "
                f"{variable.name} {variable.shape}"
            )
    for variable, value in copies:
        variable.assign(value)
    return layers


@contextlib.contextmanager
def frozen(layers):
    """Layers left out of training for a while (heads that a phase's loss does not reach)."""
    layers = [layer for layer in layers if layer is not None]
    before = [layer.trainable for layer in layers]
    for layer in layers:
        layer.trainable = False
    try:
        yield
    finally:
        for layer, trainable in zip(layers, before):
            layer.trainable = trainable


def attention_logits(block, x, attention_mask):
    """The unnormalised scores ``Q K^T / sqrt(d)`` [B, heads, Q, K] of ``block``'s
    self-attention on its input ``x``, from the block's own query/key projections.

    Masked keys are set to 0, as TinyBERT's code does before its attention MSE.
    """
    attention = block.attention
    if block.norm_first:
        x = tf.cast(block.attention_layer_norm(x), block.compute_dtype)
    q = attention._split_heads(attention.query(x)) * (1.0 / math.sqrt(attention.head_size))
    k = attention._split_heads(attention.key(x))
    scores = tf.cast(tf.einsum("bhqd,bhkd->bhqk", q, k), tf.float32)
    allowed = attention_allowed(attention_mask, tf.shape(x)[1], attention.causal)
    if allowed is None:
        return scores
    return tf.where(allowed, scores, tf.zeros_like(scores))


def forward(model, features, training=False, score_layers=(), mlm_positions=None):
    """Runs a BERT model block by block; returns what the distillation losses compare.

    Keys: ``embedding_output``, ``hidden_states`` (one per block), ``attention_scores``
    ({block index: :func:`attention_logits`} for ``score_layers``), ``sequence_output``,
    and the heads' ``mlm_logits`` (at ``mlm_positions`` [B, P] if given, else at every
    position) and ``logits``. The outputs equal the model's own call.
    """
    encoder = encoder_of(model)
    mask = features["input_mask"]
    x = encoder.embedding_layer(
        features["input_ids"], features.get("segment_ids"), training=training
    )
    out = {"embedding_output": x, "hidden_states": [], "attention_scores": {}}
    for i, block in enumerate(encoder.transformer_layers):
        if i in score_layers:
            out["attention_scores"][i] = attention_logits(block, x, mask)
        x = block(x, attention_mask=mask, training=training)
        out["hidden_states"].append(x)
    out["sequence_output"] = x
    if hasattr(model, "mlm_head"):
        hidden = x if mlm_positions is None else tf.gather(x, mlm_positions, batch_dims=1)
        out["mlm_logits"] = model.mlm_head(hidden)
    if hasattr(model, "classifier_head"):
        out["logits"] = model.classifier_head(encoder.pooler_layer(x), training=training)
    return out


class Distiller(keras.Model):
    """What distillation trains: the student, plus TinyBERT's ``W_e`` and ``W_h``
    (section 3.1, eqs. 9-10) when the student is narrower than the teacher.

    The teacher stays outside (the loss functions hold it), so checkpoints carry
    only trained weights; the projections are dropped when the student is saved.
    ``W_h`` is one matrix shared by all layers, as in the paper.
    """

    def __init__(self, student, teacher_hidden_size=None, **kwargs):
        super().__init__(**kwargs)
        self.student = student
        width = encoder_of(student).config.hidden_size
        self.embedding_projection = self.hidden_projection = None
        if teacher_hidden_size and teacher_hidden_size != width:
            self.embedding_projection = keras.layers.Dense(
                teacher_hidden_size, use_bias=False, name="W_e"
            )
            self.hidden_projection = keras.layers.Dense(
                teacher_hidden_size, use_bias=False, name="W_h"
            )
            self.embedding_projection.build((None, width))
            self.hidden_projection.build((None, width))

    @staticmethod
    def project(projection, x):
        return x if projection is None else projection(x)

    def call(self, features, training=None):
        return self.student(features, training=training)


def split_batch(batch):
    """``(features, labels)`` of a classification batch; a pre-training batch is a dict
    whose masked-LM fields stay in it (labels None)."""
    if isinstance(batch, (tuple, list)):
        return batch[0], batch[1]
    return batch, None


def _soft_loss(student_logits, teacher_logits, temperature):
    if student_logits.shape[-1] == 1:
        return losses.regression_distillation_loss(student_logits, teacher_logits)
    return losses.soft_target_loss(student_logits, teacher_logits, temperature)


def distilbert_loss(
    teacher, alpha_ce=5.0, alpha_mlm=2.0, alpha_cos=1.0, temperature=2.0, restrict_ce_to_mask=False
):
    """The Trainer's ``loss_fn(distiller, batch, training)`` for DistilBERT.

    Defaults are the authors' training command (``--alpha_ce 5.0 --alpha_mlm 2.0
    --alpha_cos 1.0``, temperature 2). On pre-training batches the soft targets are
    the MLM distributions at every real token (at the masked ones only with
    ``restrict_ce_to_mask``) and the hard loss is the MLM cross-entropy; on
    classification batches they are the logits and the labels' cross-entropy
    (MSE for a one-output regression head, without ``T^2``).
    """

    @_no_autograph
    def loss_fn(distiller, batch, training):
        features, labels = split_batch(batch)
        weights = features["input_mask"]
        positions = (
            batch["masked_lm_positions"] if (labels is None and restrict_ce_to_mask) else None
        )
        t = forward(teacher, features, mlm_positions=positions)
        s = forward(distiller.student, features, training=training, mlm_positions=positions)
        if "mlm_logits" in s:
            soft_weights = batch["masked_lm_weights"] if positions is not None else weights
            soft = (
                losses.soft_target_loss(s["mlm_logits"], t["mlm_logits"], temperature, soft_weights)
                * temperature**2
            )
            masked = (
                s["mlm_logits"]
                if positions is not None
                else tf.gather(s["mlm_logits"], batch["masked_lm_positions"], batch_dims=1)
            )
            hard, accuracy = masked_lm_loss(
                masked, batch["masked_lm_ids"], batch["masked_lm_weights"]
            )
            hard_name, extra = "mlm_loss", {"mlm_accuracy": accuracy}
        else:
            soft = _soft_loss(s["logits"], t["logits"], temperature)
            if s["logits"].shape[-1] != 1:
                soft *= temperature**2
            hard = losses.hard_label_loss(s["logits"], labels)
            hard_name, extra = "label_loss", {}
        cos = losses.cosine_embedding_loss(s["sequence_output"], t["sequence_output"], weights)
        loss = alpha_ce * soft + alpha_mlm * hard + alpha_cos * cos
        return loss, {"ce_loss": soft, hard_name: hard, "cos_loss": cos, **extra}

    return loss_fn


def tinybert_intermediate_loss(teacher, layer_map):
    """The Trainer's loss for TinyBERT's intermediate layers (eqs. 7-10, all ``lambda = 1``):
    embedding MSE + attention-score MSE + hidden-state MSE, summed over the student's
    layers; ``layer_map`` is ``g(1..M)`` (:func:`uniform_layer_map`)."""
    teacher_blocks = [g - 1 for g in layer_map]

    @_no_autograph
    def loss_fn(distiller, batch, training):
        features, _ = split_batch(batch)
        t = forward(teacher, features, score_layers=set(teacher_blocks))
        s = forward(
            distiller.student, features, training=training, score_layers=range(len(teacher_blocks))
        )
        real = features["input_mask"]  # means over real tokens, whatever the padding
        emb = losses.mse(
            distiller.project(distiller.embedding_projection, s["embedding_output"]),
            t["embedding_output"],
            real,
        )
        att = tf.add_n(
            [
                losses.attention_score_loss(
                    s["attention_scores"][m], t["attention_scores"][n], real
                )
                for m, n in enumerate(teacher_blocks)
            ]
        )
        hid = tf.add_n(
            [
                losses.mse(
                    distiller.project(distiller.hidden_projection, s["hidden_states"][m]),
                    t["hidden_states"][n],
                    real,
                )
                for m, n in enumerate(teacher_blocks)
            ]
        )
        return emb + att + hid, {"emb_loss": emb, "att_loss": att, "hidden_loss": hid}

    return loss_fn


def tinybert_prediction_loss(teacher, temperature=1.0):
    """The Trainer's loss for TinyBERT's prediction layer (eq. 11): soft cross-entropy
    (here its KL form) between the logits at temperature ``t``, MSE for regression."""

    @_no_autograph
    def loss_fn(distiller, batch, training):
        features, _ = split_batch(batch)
        t = forward(teacher, features)
        s = forward(distiller.student, features, training=training)
        pred = _soft_loss(s["logits"], t["logits"], temperature)
        return pred, {"pred_loss": pred}

    return loss_fn
