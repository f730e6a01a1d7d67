"""Layer-wise knowledge transfer from IB-BERT to MobileBERT (Sun et al. 2020, section 3).

MobileBERT is trained by imitating its teacher block by block ("Training
Objectives" and "Training Strategies" in the paper). Both networks
have the same depth, heads and 512-wide features between blocks, so student
layer l can be fitted to teacher layer l directly:

- feature-map transfer (FMT): mean squared error between the two layers'
  outputs, per token (``normalize`` standardizes both first, as the released
  code does: the paper's "normalized feature map discrepancy");
- attention transfer (AT): KL divergence from the teacher's to the student's
  attention distribution of each head, per query token;
- progressive knowledge transfer (PKT): L stages, stage l trains student
  layer l alone on FMT_l + AT_l with everything below it frozen; the embedding
  is copied from the teacher and stays frozen (it has the same shapes);
- pre-training distillation (PD): then the whole student trains on
  ``alpha * MLM + (1 - alpha) * KD + NSP``, KD being the KL from the teacher's
  to the student's masked-token distribution.

Stages run on :class:`tfmodels.training.trainer.Trainer` (any tf.distribute
strategy, checkpoints and resume per stage under ``model_dir``). The teacher is
frozen (``trainable = False``) and never checkpointed.
"""

import functools
import os

import tensorflow as tf
import tf_keras as keras

from tfmodels.errors import ConfigError
from tfmodels.pretraining.objectives import FEATURES, masked_lm_loss
from tfmodels.training.trainer import Trainer

_EPS = 1e-12


def _masked_mean(values, input_mask):
    """Mean of per-token ``values`` [B, S] over the real tokens (all when no mask)."""
    if input_mask is None:
        return tf.reduce_mean(values)
    mask = tf.cast(input_mask, values.dtype)
    return tf.reduce_sum(values * mask) / tf.maximum(tf.reduce_sum(mask), 1.0)


def _standardize(x):
    mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
    return (x - mean) * tf.math.rsqrt(variance + _EPS)


def feature_map_loss(teacher_features, student_features, input_mask=None, normalize=False):
    """FMT: MSE between [B, S, H] layer outputs, averaged over features and real tokens."""
    t = tf.cast(teacher_features, tf.float32)
    s = tf.cast(student_features, tf.float32)
    if t.shape[-1] != s.shape[-1]:
        raise ConfigError(
            f"feature-map transfer needs equal widths; teacher {t.shape[-1]}, "
            f"student {s.shape[-1]} (hidden_size)"
        )
    if normalize:
        t, s = _standardize(t), _standardize(s)
    return _masked_mean(tf.reduce_mean(tf.square(t - s), axis=-1), input_mask)


def attention_transfer_loss(teacher_probs, student_probs, input_mask=None):
    """AT: KL(teacher || student) over keys of [B, heads, Q, K] attention probabilities,
    averaged over heads and real query tokens. Masked keys (probability 0) add nothing."""
    t = tf.cast(teacher_probs, tf.float32)
    s = tf.cast(student_probs, tf.float32)
    if t.shape[1] != s.shape[1]:
        raise ConfigError(
            f"attention transfer needs equal head counts; teacher {t.shape[1]}, "
            f"student {s.shape[1]} (num_attention_heads)"
        )
    kl = tf.reduce_sum(tf.math.xlogy(t, t) - tf.math.xlogy(t, tf.maximum(s, _EPS)), axis=-1)
    return _masked_mean(tf.reduce_mean(kl, axis=1), input_mask)


def layer_transfer_loss(
    teacher_out, student_out, layer, input_mask=None, attention_weight=1.0, normalize=False
):
    """FMT + ``attention_weight`` * AT at ``layer``, from two :func:`transfer_model` outputs.

    Returns ``(loss, {"feature_map_loss", "attention_loss"})``.
    """
    fmt = feature_map_loss(
        teacher_out["encoder_outputs"][layer],
        student_out["encoder_outputs"][layer],
        input_mask,
        normalize,
    )
    at = attention_transfer_loss(
        teacher_out["attention_scores"][layer], student_out["attention_scores"][layer], input_mask
    )
    return fmt + attention_weight * at, {"feature_map_loss": fmt, "attention_loss": at}


def pretraining_distillation_loss(
    teacher_mlm_logits,
    student_mlm_logits,
    masked_lm_ids,
    masked_lm_weights,
    sentence_logits=None,
    next_sentence_labels=None,
    alpha=0.5,
    temperature=1.0,
):
    """PD: ``alpha * MLM + (1 - alpha) * KD + NSP`` on the masked positions [B, P, V].

    KD is KL(teacher || student) of the temperature-softened distributions,
    scaled by ``temperature**2`` (Hinton et al. 2015) and averaged with the MLM
    weights. Returns ``(loss, metrics)``.
    """
    student = tf.cast(student_mlm_logits, tf.float32)
    teacher = tf.stop_gradient(tf.cast(teacher_mlm_logits, tf.float32))
    weights = tf.cast(masked_lm_weights, tf.float32)
    mlm, accuracy = masked_lm_loss(student, masked_lm_ids, weights)
    log_t = tf.nn.log_softmax(teacher / temperature)
    log_s = tf.nn.log_softmax(student / temperature)
    kd_per_token = tf.reduce_sum(tf.exp(log_t) * (log_t - log_s), axis=-1) * temperature**2
    kd = tf.reduce_sum(kd_per_token * weights) / (tf.reduce_sum(weights) + 1e-5)
    loss = alpha * mlm + (1.0 - alpha) * kd
    metrics = {"mlm_loss": mlm, "mlm_accuracy": accuracy, "kd_loss": kd}
    if sentence_logits is not None and next_sentence_labels is not None:
        nsp = tf.reduce_mean(
            keras.losses.sparse_categorical_crossentropy(
                next_sentence_labels, tf.cast(sentence_logits, tf.float32), from_logits=True
            )
        )
        metrics["nsp_loss"] = nsp
        loss += nsp
    return loss, metrics


def _encoder(model):
    encoder = getattr(model, "encoder", model)
    if not hasattr(encoder, "transformer_layers"):
        raise ConfigError(
            f"{model.name}: expected a MobileBERT model (from tfmodels.build or "
            "from_pretrained), got one without transformer_layers"
        )
    return encoder


def transfer_model(model):
    """Features -> ``{encoder_outputs, attention_scores, sequence_output[, pooled_output]}``.

    A functional view of ``model``'s encoder graph: it shares every layer and
    weight with ``model`` and exposes each block's output and attention.
    """
    encoder = _encoder(model)
    blocks = [block.get_output_at(0) for block in encoder.transformer_layers]
    outputs = {
        k: v for k, v in encoder.output.items() if k not in ("encoder_outputs", "attention_scores")
    }
    outputs["encoder_outputs"] = [features for features, _ in blocks]
    outputs["attention_scores"] = [probs for _, probs in blocks]
    return keras.Model(encoder.input, outputs, name=f"{encoder.name}_transfer")


def check_compatible(teacher, student):
    """Layer-to-layer transfer needs the same depth, head count and feature width."""
    t, s = _encoder(teacher).config, _encoder(student).config
    for field in ("num_layers", "num_heads", "hidden_size"):
        if getattr(t, field) != getattr(s, field):
            raise ConfigError(
                f"teacher and student differ in {field}: {getattr(t, field)} vs "
                f"{getattr(s, field)}; layer-wise transfer pairs layer l with "
                "layer l at the same width and head count"
            )


def copy_embeddings(teacher, student):
    """Copies the teacher's embedding layer into the student's (same shapes required).

    The norm's two vectors are copied as they are, also from a LayerNorm into
    a NoNorm, as the released code initializes MobileBERT from IB-BERT.
    """
    source = _encoder(teacher).embedding_layer
    target = _encoder(student).embedding_layer
    if len(source.weights) != len(target.weights):
        raise ConfigError(
            "teacher and student embeddings have different weights "
            "(trigram_input / embedding_size / type_vocab_size differ)"
        )
    for t, s in zip(source.weights, target.weights):
        if t.shape != s.shape:
            raise ConfigError(
                f"embedding weight {s.name}: student shape {tuple(s.shape)} != "
                f"teacher shape {tuple(t.shape)}"
            )
        s.assign(t)


def train_only(student, layers):
    """Makes exactly the weights of ``layers`` trainable in ``student``; None: all of them."""
    encoder = _encoder(student)
    student.trainable = True
    if layers is None:
        return
    keep = {id(layer) for layer in layers}
    others = [
        encoder.embedding_layer,
        encoder.pooler_layer,
        *encoder.transformer_layers,
        *(
            getattr(student, name, None)
            for name in ("mlm_head", "sentence_head", "classifier_head")
        ),
    ]
    for layer in others:
        if layer is not None and id(layer) not in keep:
            layer.trainable = False


def _features(batch):
    return {k: batch[k] for k in FEATURES}


def _layer_loss(
    teacher_view, student_view, layer, attention_weight, normalize, model, batch, training
):
    del model  # the student; its weights are reached through student_view
    features = _features(batch)
    teacher_out = tf.nest.map_structure(tf.stop_gradient, teacher_view(features, training=False))
    student_out = student_view(features, training=training)
    return layer_transfer_loss(
        teacher_out, student_out, layer, features["input_mask"], attention_weight, normalize
    )


def _mlm_logits(model, sequence_output, positions):
    return model.mlm_head(tf.gather(sequence_output, positions, batch_dims=1))


def _distillation_loss(teacher, alpha, temperature, model, batch, training):
    features = _features(batch)
    teacher_out = teacher(features, training=False)
    student_out = model(features, training=training)
    positions = batch["masked_lm_positions"]
    teacher_logits = _mlm_logits(teacher, teacher_out["sequence_output"], positions)
    student_logits = _mlm_logits(model, student_out["sequence_output"], positions)
    labels = batch.get("next_sentence_labels")
    return pretraining_distillation_loss(
        teacher_logits,
        student_logits,
        batch["masked_lm_ids"],
        batch["masked_lm_weights"],
        student_out.get("sentence_logits"),
        None if labels is None else labels[:, 0],
        alpha,
        temperature,
    )


def _adam(learning_rate, steps):
    del steps
    return keras.optimizers.Adam(learning_rate)


def _run_stage(strategy, model_dir, model, loss_fn, dataset, steps, probe_batch, optimizer_fn, log):
    """One Trainer run; returns its summary with ``before``/``after``: the loss and its
    parts on ``probe_batch`` before and after the run."""

    def measure():
        loss, metrics = loss_fn(model, probe_batch, training=False)
        return {"loss": float(loss), **{k: float(v) for k, v in metrics.items()}}

    before = measure()
    with strategy.scope():
        optimizer = optimizer_fn(steps)
    trainer = Trainer(
        strategy,
        model_dir,
        model,
        optimizer,
        loss_fn,
        total_steps=steps,
        checkpoint_every=steps,
        max_checkpoints=1,
        log_every=max(steps // 5, 1),
        log=log,
    )
    summary = trainer.train(dataset)
    summary["before"], summary["after"] = before, measure()
    return summary


def _prepare(teacher, dataset, strategy):
    """Freezes the teacher; the strategy to run under and a batch to measure the loss on."""
    teacher.trainable = False
    return strategy or tf.distribute.get_strategy(), next(iter(dataset))


def progressive_knowledge_transfer(
    teacher,
    student,
    dataset,
    model_dir,
    steps_per_layer,
    learning_rate=1e-3,
    attention_weight=1.0,
    normalize=False,
    strategy=None,
    optimizer_fn=None,
    log=None,
):
    """PKT: for l = 0..L-1, trains student layer l alone on FMT_l + AT_l.

    ``dataset`` is a repeating ``tf.data.Dataset`` of feature batches; stage l
    checkpoints under ``model_dir/transfer_layer_{l}`` and resumes from there.
    ``optimizer_fn(steps)`` makes each stage's optimizer (default: Adam at
    ``learning_rate``). Returns one summary per stage: Trainer's, plus
    ``before``/``after`` (loss, feature-map and attention loss on the first batch).
    """
    check_compatible(teacher, student)
    strategy, probe = _prepare(teacher, dataset, strategy)
    teacher_view, student_view = transfer_model(teacher), transfer_model(student)
    optimizer_fn = optimizer_fn or functools.partial(_adam, learning_rate)
    summaries = []
    try:
        for layer, block in enumerate(_encoder(student).transformer_layers):
            train_only(student, [block])
            loss_fn = functools.partial(
                _layer_loss, teacher_view, student_view, layer, attention_weight, normalize
            )
            summary = _run_stage(
                strategy,
                os.path.join(model_dir, f"transfer_layer_{layer}"),
                student,
                loss_fn,
                dataset,
                steps_per_layer,
                probe,
                optimizer_fn,
                log,
            )
            summaries.append({"layer": layer, **summary})
    finally:
        train_only(student, None)
    return summaries


def pretraining_distillation(
    teacher,
    student,
    dataset,
    model_dir,
    steps,
    learning_rate=1e-4,
    alpha=0.5,
    temperature=1.0,
    strategy=None,
    optimizer_fn=None,
    log=None,
):
    """PD: trains all of ``student`` (a pre-training model) on alpha*MLM + (1-alpha)*KD + NSP.

    ``dataset`` batches carry the pre-training features of
    :func:`tfmodels.pretraining.records.pretraining_dataset` (``masked_lm_positions``,
    ``masked_lm_ids``, ``masked_lm_weights``, ``next_sentence_labels``).
    """
    for name, model in (("teacher", teacher), ("student", student)):
        if not hasattr(model, "mlm_head"):
            raise ConfigError(
                f"pre-training distillation needs a {name} with an MLM head "
                "(architecture='pretraining')"
            )
    strategy, probe = _prepare(teacher, dataset, strategy)
    train_only(student, None)
    loss_fn = functools.partial(_distillation_loss, teacher, alpha, temperature)
    optimizer_fn = optimizer_fn or functools.partial(_adam, learning_rate)
    return _run_stage(
        strategy,
        os.path.join(model_dir, "pretraining_distillation"),
        student,
        loss_fn,
        dataset,
        steps,
        probe,
        optimizer_fn,
        log,
    )


def distill(
    teacher,
    student,
    transfer_dataset,
    distillation_dataset,
    model_dir,
    steps_per_layer,
    distillation_steps,
    transfer_learning_rate=1e-3,
    distillation_learning_rate=1e-4,
    alpha=0.5,
    temperature=1.0,
    attention_weight=1.0,
    normalize=False,
    strategy=None,
    optimizer_fn=None,
    log=None,
):
    """The paper's schedule: copy the embedding, PKT layer by layer, then PD.

    ``optimizer_fn(learning_rate, steps)``, if given, makes every stage's optimizer.
    """
    check_compatible(teacher, student)
    copy_embeddings(teacher, student)
    make = optimizer_fn or _adam
    transfer = progressive_knowledge_transfer(
        teacher,
        student,
        transfer_dataset,
        model_dir,
        steps_per_layer,
        attention_weight=attention_weight,
        normalize=normalize,
        strategy=strategy,
        optimizer_fn=functools.partial(make, transfer_learning_rate),
        log=log,
    )
    distillation = pretraining_distillation(
        teacher,
        student,
        distillation_dataset,
        model_dir,
        distillation_steps,
        alpha=alpha,
        temperature=temperature,
        strategy=strategy,
        optimizer_fn=functools.partial(make, distillation_learning_rate),
        log=log,
    )
    return {"progressive_knowledge_transfer": transfer, "pretraining_distillation": distillation}
