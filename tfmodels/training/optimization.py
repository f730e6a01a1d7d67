"""AdamW with linear warm-up and linear decay (Devlin et al. 2019, appendix A.2).

Weight decay is decoupled (Loshchilov & Hutter 2019) and not applied to
LayerNorm parameters and biases, as in BERT's original optimizer.
"""
import tensorflow as tf
import tf_keras as keras


class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """0 -> ``peak`` over ``warmup_steps``, then linearly to ``end`` at ``total_steps``."""

    def __init__(self, peak, total_steps, warmup_steps, end=0.0):
        self.peak, self.total_steps, self.warmup_steps, self.end = peak, total_steps, \
            warmup_steps, end

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        warmup = self.peak * step / max(self.warmup_steps, 1)
        progress = (step - self.warmup_steps) / max(self.total_steps - self.warmup_steps, 1)
        decay = self.peak + (self.end - self.peak) * tf.minimum(progress, 1.0)
        return tf.where(step < self.warmup_steps, warmup, decay)

    def get_config(self):
        return {"peak": self.peak, "total_steps": self.total_steps,
                "warmup_steps": self.warmup_steps, "end": self.end}


NO_DECAY = ["layer_norm", "LayerNorm", "bias"]


def create_optimizer(opt, schedule, total_steps):
    """Keras AdamW from the ``optimizer`` and ``schedule`` config sections."""
    warmup = schedule.warmup_steps
    if warmup is None:
        warmup = int(schedule.warmup_fraction * total_steps)
    lr = WarmupLinearDecay(opt.lr, total_steps, warmup, opt.lr * schedule.end_lr_fraction)
    optimizer = keras.optimizers.AdamW(
        learning_rate=lr, weight_decay=opt.weight_decay, beta_1=opt.beta_1, beta_2=opt.beta_2,
        epsilon=opt.epsilon, global_clipnorm=opt.clipnorm)
    optimizer.exclude_from_weight_decay(var_names=NO_DECAY)
    return optimizer
