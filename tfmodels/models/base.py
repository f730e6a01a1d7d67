"""The public bases of every family's models.

A backbone class names its ``config_class`` and reads its config through
:func:`as_config` (a Config, or the dict a saved model's ``get_config`` holds). A task
model is a backbone (``encoder_class``) plus heads: :class:`TaskModel`. Both take
features as HF models do (:class:`OptionalFeatures`).
"""

from collections.abc import Mapping

import numpy as np
import tensorflow as tf
import tf_keras as keras

FEATURES = ("input_ids", "input_mask", "segment_ids")

# What a left-out feature is filled with: (the feature it takes its shape from, value).
# HF's ``attention_mask=None`` attends everywhere, ``token_type_ids=None`` is segment 0.
FEATURE_DEFAULTS = {"input_mask": ("input_ids", 1), "segment_ids": ("input_ids", 0)}
# HF's names of our features.
HF_FEATURE_NAMES = {
    "attention_mask": "input_mask",
    "token_type_ids": "segment_ids",
    "decoder_attention_mask": "decoder_input_mask",
}
# Features some family takes: dropped from a call on a model that does not take them
# (BERT's segment_ids given to T5, as HF ignores token_type_ids where it has none).
KNOWN_FEATURES = frozenset(FEATURES) | {"decoder_input_ids", "decoder_input_mask"}


def feature_inputs(names=FEATURES):
    """Symbolic int32 [B, S] inputs, one per feature name."""
    return {name: keras.Input(shape=(None,), dtype=tf.int32, name=name) for name in names}


def as_config(owner, config):
    """``config`` as ``owner.config_class``: a Config of that class is kept, a dict is
    read with ``from_dict``."""
    config_class = owner.config_class
    return config if isinstance(config, config_class) else config_class.from_dict(config)


class OptionalFeatures:
    """Lets a functional model whose inputs are a dict of features be called as HF models
    are: ``model(input_ids)``, ``model({"input_ids": ids})``, ``model({"input_ids": ids,
    "attention_mask": mask})``.

    ``__call__`` completes the features (:func:`complete_features`) before Keras runs
    the graph; ``feature_defaults`` says what fills a left-out one (a family may change
    the values). A call with every input runs exactly as without this class, and the
    graph's inputs (``model.inputs``, what a SavedModel traces) stay every feature.
    Place it before ``keras.Model`` among the bases.
    """

    feature_defaults = FEATURE_DEFAULTS

    def __call__(self, inputs, *args, **kwargs):
        expected = getattr(self, "_nested_inputs", None)  # the functional graph's inputs
        if isinstance(expected, dict):
            inputs = complete_features(inputs, expected, self.feature_defaults, self.name)
        return super().__call__(inputs, *args, **kwargs)


def complete_features(inputs, expected, defaults=FEATURE_DEFAULTS, owner="model"):
    """``inputs`` as the features a model whose inputs are named ``expected`` takes.

    A tensor or array is ``input_ids``; HF's names (:data:`HF_FEATURE_NAMES`) become
    ours; each input of ``defaults`` that is left out is filled from the feature it
    names (masks all ones, segments zeros); features of :data:`KNOWN_FEATURES` the model
    does not take are dropped; other names are kept (Keras warns that it ignores them).
    Anything else (a list) is returned as it is. ``owner`` names the model in errors.
    """
    if tf.is_tensor(inputs) or isinstance(inputs, np.ndarray):
        inputs = {"input_ids": inputs}
    if not isinstance(inputs, Mapping):
        return inputs
    features = {}
    for key, value in inputs.items():
        name = HF_FEATURE_NAMES.get(key, key)
        if name != key and name in inputs:
            raise ValueError(f"{owner}: {name!r} is given twice, also as HF's {key!r}")
        if name in expected or name not in KNOWN_FEATURES:
            features[name] = value
    for name, (source, value) in defaults.items():
        if name in expected and name not in features and source in features:
            features[name] = filled_like(features[source], value)
    return features


def filled_like(ids, value):
    """A tensor of ``ids``'s shape and dtype holding ``value`` everywhere."""
    if value == 0:
        return tf.zeros_like(ids)
    ones = tf.ones_like(ids)
    return ones if value == 1 else ones * value


def first_token(backbone):
    """The last hidden state at the first token ([CLS], <s>) [B, H] of ``backbone``'s
    outputs: ``first_token_output`` where the encoder computed that row alone (a
    :class:`TaskModel` with ``first_token_output``), else the sequence output's row."""
    if "first_token_output" in backbone:
        return backbone["first_token_output"]
    return backbone["sequence_output"][:, 0]


class TaskModel(OptionalFeatures, keras.Model):
    """A backbone (``encoder_class``, built under the name ``encoder``) with heads.

    A subclass sets ``architecture`` (its HF name), ``encoder_class``, ``with_pooler``
    and ``_heads(encoder, backbone_outputs, **head_args)``, which returns ``(outputs,
    {attribute: head layer})``; the heads become attributes of the model (``mlm_head``,
    ``classifier_head``, ...). ``first_token_output = True`` (a head that reads [CLS]
    only) builds the encoder with that argument: its last block computes the first
    token's row alone for the pooler and ``backbone["first_token_output"]``.
    """

    architecture = None
    encoder_class = None
    with_pooler = True
    first_token_output = False

    def __init__(self, config, name=None, **head_args):
        options = {"first_token_output": True} if self.first_token_output else {}
        encoder = self.encoder_class(
            config, with_pooler=self.with_pooler, name="encoder", **options
        )
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
