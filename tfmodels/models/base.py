"""The public bases of every family's models.

A backbone class names its ``config_class`` and reads its config through
:func:`as_config` (a Config, or the dict a saved model's ``get_config`` holds). A task
model is a backbone (``encoder_class``) plus heads: :class:`TaskModel`.
"""

import tensorflow as tf
import tf_keras as keras

FEATURES = ("input_ids", "input_mask", "segment_ids")


def feature_inputs(names=FEATURES):
    """Symbolic int32 [B, S] inputs, one per feature name."""
    return {name: keras.Input(shape=(None,), dtype=tf.int32, name=name) for name in names}


def as_config(owner, config):
    """``config`` as ``owner.config_class``: a Config of that class is kept, a dict is
    read with ``from_dict``."""
    config_class = owner.config_class
    return config if isinstance(config, config_class) else config_class.from_dict(config)


class TaskModel(keras.Model):
    """A backbone (``encoder_class``, built under the name ``encoder``) with heads.

    A subclass sets ``architecture`` (its HF name), ``encoder_class``, ``with_pooler``
    and ``_heads(encoder, backbone_outputs, **head_args)``, which returns ``(outputs,
    {attribute: head layer})``; the heads become attributes of the model (``mlm_head``,
    ``classifier_head``, ...).
    """

    architecture = None
    encoder_class = None
    with_pooler = True

    def __init__(self, config, name=None, **head_args):
        encoder = self.encoder_class(config, with_pooler=self.with_pooler, name="encoder")
        inputs = feature_inputs()
        backbone = encoder(inputs)
        outputs, heads = self._heads(encoder, backbone, **head_args)
        super().__init__(inputs=inputs, outputs=outputs, name=name)
        for attribute, layer in heads.items():
            setattr(self, attribute, layer)
        self.config = encoder.config
        self.encoder = encoder
        self.head_args = head_args

    def get_config(self):
        return {"config": self.config.to_dict(), "name": self.name, **self.head_args}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)
