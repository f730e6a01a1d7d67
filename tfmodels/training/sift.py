"""Scale-invariant fine-tuning (SiFT), DeBERTa's virtual adversarial training (He et al.
2021, section 3.3).

Adversarial perturbations of raw word embeddings are unstable because the embeddings'
norms differ across words and models; SiFT perturbs *normalized* embeddings instead:
the summed embeddings are LayerNorm-ed (no scale or shift) before the model's own
embedding LayerNorm, and a perturbation delta is added there. delta starts as noise
N(0, sigma^2) clipped to 2 sigma, takes one gradient-ascent step on the symmetric KL
between the clean and the perturbed predictions (the step scaled by the largest
gradient component of each position), and the symmetric KL at the resulting delta is
the extra loss, weighted and added to the task loss. Defaults follow the reference
implementation (sigma 1e-2, step 1e-4).

Any task whose model has :class:`~tfmodels.layers.TransformerEmbeddings` can use it:
``with_sift(task_loss, section)`` wraps the loss the Trainer calls.
"""

import contextlib

import tensorflow as tf

from tfmodels.errors import ConfigError
from tfmodels.layers.embeddings import TransformerEmbeddings
from tfmodels.training import noise


def embedding_layer_of(model):
    """The :class:`TransformerEmbeddings` of a task model (or of its encoder)."""
    encoder = getattr(model, "encoder", model)
    layer = getattr(encoder, "embedding_layer", None)
    if not isinstance(layer, TransformerEmbeddings):
        raise ConfigError(
            f"adversarial.method=sift: {getattr(model, 'architecture', model)} "
            "has no TransformerEmbeddings to perturb"
        )
    return layer


def normalize(x, epsilon=1e-7):
    """LayerNorm over the last axis without scale or shift."""
    mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
    return (x - mean) * tf.math.rsqrt(variance + epsilon)


@contextlib.contextmanager
def perturbed(layer, delta):
    """Within the block, ``layer`` feeds ``normalize(sum) + delta`` to its LayerNorm."""
    layer.perturbation = lambda x: normalize(tf.cast(x, tf.float32)) + delta
    try:
        yield
    finally:
        layer.perturbation = None


def symmetric_kl(logits, target_logits):
    """KL(p||q) + KL(q||p) over the last axis, averaged over everything else: zero
    exactly when the two distributions are equal."""
    log_p = tf.nn.log_softmax(tf.cast(logits, tf.float32))
    log_q = tf.nn.log_softmax(tf.cast(target_logits, tf.float32))
    per_row = tf.reduce_sum((tf.exp(log_p) - tf.exp(log_q)) * (log_p - log_q), axis=-1)
    return tf.reduce_mean(per_row)


def sift_loss(
    model,
    features,
    clean_outputs,
    keys=("logits",),
    init_perturbation=1e-2,
    step_size=1e-4,
    training=True,
    seed=None,
):
    """The symmetric KL between ``clean_outputs[keys]`` and the outputs at the adversarial
    perturbation of the normalized embeddings (summed over ``keys``); ``seed`` makes the
    initial noise repeatable."""
    layer = embedding_layer_of(model)
    ids = features["input_ids"]
    shape = tf.concat([tf.shape(ids), [layer.embedding_size]], 0)
    delta = init_perturbation * (
        noise.normal(shape, salt=2)  # keyed by the run's seed and step inside a Trainer
        if seed is None
        else tf.random.stateless_normal(shape, seed=[seed, 0])
    )
    delta = tf.clip_by_value(delta, -2 * init_perturbation, 2 * init_perturbation)

    def divergence(delta, target):
        with perturbed(layer, delta):
            outputs = model(features, training=training)
        return tf.add_n([symmetric_kl(outputs[k], target[k]) for k in keys])

    with tf.GradientTape() as tape:
        tape.watch(delta)
        first = divergence(delta, {k: tf.stop_gradient(clean_outputs[k]) for k in keys})
    grad = tape.gradient(first, delta)
    delta = tf.stop_gradient(
        delta + step_size * grad / (1e-6 + tf.reduce_max(tf.abs(grad), axis=-1, keepdims=True))
    )
    return divergence(delta, clean_outputs)


def with_sift(task_loss, section, keys=("logits",)):
    """A Trainer ``loss_fn(model, batch, training)`` from ``task_loss(outputs, batch) ->
    (loss, metrics)``, plus ``section.weight`` x SiFT when ``section.method == "sift"``."""
    method = getattr(section, "method", None)
    if method not in (None, "sift"):
        raise ConfigError(f"adversarial.method: unknown method {method!r}; known: sift")

    def loss_fn(model, batch, training):
        features = batch[0]
        outputs = model(features, training=training)
        loss, metrics = task_loss(outputs, batch)
        if method == "sift" and training:
            extra = sift_loss(
                model,
                features,
                outputs,
                keys,
                section.init_perturbation,
                section.step_size,
                training,
            )
            metrics = {**metrics, "sift_loss": extra}
            loss += section.weight * extra
        return loss, metrics

    return loss_fn
