"""AdamW with linear warm-up and linear decay (Devlin et al. 2019, appendix A.2),
or the Transformer's inverse-square-root decay (Vaswani et al. 2017, section 5.3).

Weight decay is decoupled (Loshchilov & Hutter 2019) and not applied to
LayerNorm parameters and biases, as in BERT's original optimizer. The update runs
as fused kernels (:class:`~tfmodels.training.fused_adamw.FusedAdamW`).
"""

import tensorflow as tf
import tf_keras as keras

from tfmodels.errors import ConfigError
from tfmodels.training.fused_adamw import FusedAdamW


class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """0 -> ``peak`` over ``warmup_steps``, then linearly to ``end`` at ``total_steps``."""

    def __init__(self, peak, total_steps, warmup_steps, end=0.0):
        self.peak, self.total_steps, self.warmup_steps, self.end = (
            peak,
            total_steps,
            warmup_steps,
            end,
        )

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        warmup = self.peak * step / max(self.warmup_steps, 1)
        progress = (step - self.warmup_steps) / max(self.total_steps - self.warmup_steps, 1)
        decay = self.peak + (self.end - self.peak) * tf.minimum(progress, 1.0)
        return tf.where(step < self.warmup_steps, warmup, decay)

    def get_config(self):
        return {
            "peak": self.peak,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "end": self.end,
        }


class WarmupInverseSqrt(keras.optimizers.schedules.LearningRateSchedule):
    """Vaswani et al. 2017, section 5.3: ``d^-0.5 * min(step^-0.5, step * warmup^-1.5)``,
    written with its peak: linear warm-up to ``peak`` at ``warmup_steps``, then
    ``peak * sqrt(warmup_steps / step)`` (the paper's peak is (d * warmup)^-0.5)."""

    def __init__(self, peak, warmup_steps):
        self.peak, self.warmup_steps = peak, max(warmup_steps, 1)

    def __call__(self, step):
        step = tf.maximum(tf.cast(step, tf.float32), 1.0)
        return self.peak * tf.minimum(step / self.warmup_steps, tf.sqrt(self.warmup_steps / step))

    def get_config(self):
        return {"peak": self.peak, "warmup_steps": self.warmup_steps}


SCHEDULES = ("linear", "inverse_sqrt")
NO_DECAY = ["layer_norm", "LayerNorm", "bias"]


def create_optimizer(opt, schedule, total_steps):
    """AdamW from the ``optimizer`` and ``schedule`` config sections."""
    warmup = schedule.warmup_steps
    if warmup is None:
        warmup = int(schedule.warmup_fraction * total_steps)
    if schedule.name not in SCHEDULES:
        raise ConfigError(
            f"schedule.name: unknown schedule {schedule.name!r}; known: {', '.join(SCHEDULES)}"
        )
    if schedule.name == "inverse_sqrt":
        lr = WarmupInverseSqrt(opt.lr, warmup)
    else:
        lr = WarmupLinearDecay(opt.lr, total_steps, warmup, opt.lr * schedule.end_lr_fraction)
    optimizer = FusedAdamW(
        learning_rate=lr,
        weight_decay=opt.weight_decay,
        beta_1=opt.beta_1,
        beta_2=opt.beta_2,
        epsilon=opt.epsilon,
        global_clipnorm=opt.clipnorm,
    )
    optimizer.exclude_from_weight_decay(var_names=NO_DECAY)
    return optimizer
