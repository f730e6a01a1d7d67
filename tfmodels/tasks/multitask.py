"""MT-DNN (Liu et al. 2019): one shared encoder, one output layer per task.

Section 3: the lexicon encoder and Transformer layers are shared by all tasks
and each task has its own output layer (section 3.1):

* ``classification`` (single sentence, pairs): softmax over the task's labels,
  cross-entropy;
* ``regression`` (STS-B): ``w^T x`` without sigmoid, mean squared error;
* ``ranking`` (QNLI recast as pairwise ranking): ``g(Q, A) = w^T x`` on [CLS], trained
  with a softmax over the candidates of the same question,
  ``P(A+|Q) = exp(γ g(Q,A+)) / Σ_A' exp(γ g(Q,A'))``.

The heads are each family's own classifier head (BERT: Dense on the pooled
[CLS]; RoBERTa / ELECTRA / DistilBERT: their inner Dense on [CLS]), so a task's
encoder + head is saved as the family's ``…ForSequenceClassification``
(:func:`task_classifier`).

QNLI as released in GLUE has one sentence per row; rows are grouped by identical
question text (:func:`question_groups`). Choice for groups that cannot be ranked:
a question with a single candidate (or with only positives or only negatives) is
trained as binary classification of its score (sigmoid cross-entropy, the
softmax over ``{A, a fixed 0 score}``), so a group of one is plain binary
classification. At test time the best-scoring candidate of a group of several is
the entailed one, and a single candidate is entailed when its score is above 0.
A group split across two mini-batches counts as two smaller groups. The saved
QNLI classifier has two logits ``[s, 0]`` (entailment first), the binary rule.
"""

import dataclasses

import numpy as np
import tensorflow as tf
import tf_keras as keras

from tfmodels.convert.weight_map import check_and_assign, read_weights
from tfmodels.errors import ConfigError
from tfmodels.models import registry
from tfmodels.models.base import feature_inputs
from tfmodels.tasks.classification import logits_loss

HEAD_KINDS = ("classification", "regression", "ranking")
_BACKBONE_KEYS = ("sequence_output", "pooled_output")


@dataclasses.dataclass(frozen=True)
class HeadSpec:
    """One task's output layer: ``kind`` and, for classification, ``num_labels``;
    for ranking, ``positive`` is the label index of the relevant (entailed) answer."""

    kind: str
    num_labels: int = 1
    positive: int = 0

    def __post_init__(self):
        if self.kind not in HEAD_KINDS:
            raise ConfigError(f"head: unknown kind {self.kind!r}; known: {', '.join(HEAD_KINDS)}")
        if self.kind == "classification" and self.num_labels < 2:
            raise ConfigError(f"head: classification needs num_labels >= 2, got {self.num_labels}")

    @property
    def units(self):
        return self.num_labels if self.kind == "classification" else 1

    @property
    def label_count(self):
        """Labels of the saved classifier: a ranking head becomes two-way (entailed or not)."""
        return 2 if self.kind == "ranking" else self.units


def head_spec_for_task(task, kind=None):
    """The head of a GLUE :class:`Task`: regression for STS-B, ranking for QNLI
    (section 3.1), classification otherwise, unless ``kind`` says otherwise."""
    kind = kind or (
        "regression"
        if task.is_regression
        else "ranking"
        if task.name == "qnli"
        else "classification"
    )
    if (kind == "regression") != task.is_regression:
        raise ConfigError(
            f"{task.name}: a {kind} head does not fit "
            f"{'a regression' if task.is_regression else 'a classification'} task"
        )
    if kind == "ranking":
        if len(task.labels) != 2:
            raise ConfigError(f"{task.name}: a ranking head needs a two-label task")
        positive = task.labels.index("entailment") if "entailment" in task.labels else 1
        return HeadSpec("ranking", positive=positive)
    return HeadSpec(kind, task.num_labels)


def _family_heads(encoder):
    """The family classifier's head builder ``_heads(self, encoder, backbone, num_labels)``;
    it does not use ``self``, so it is called unbound."""
    return registry.model_class(encoder.config.family, "classification")._heads


class MultiTaskModel(keras.Model):
    """Features -> ``{task name: logits [B, units]}``: the shared ``encoder`` under one
    head per task (``heads[name]``, a small model holding ``classifier_head``)."""

    def __init__(self, encoder, heads, name="multitask", **kwargs):
        if isinstance(encoder, dict):  # from get_config
            encoder = registry.model_class(encoder["family"], "backbone").from_config(
                encoder["config"]
            )
        specs = {
            task: spec if isinstance(spec, HeadSpec) else HeadSpec(**spec)
            for task, spec in heads.items()
        }
        if not specs:
            raise ConfigError("multitask: give at least one task head")
        inputs = feature_inputs()
        backbone = encoder(inputs)
        make_head = _family_heads(encoder)
        head_models, outputs = {}, {}
        for task, spec in specs.items():
            head_inputs = {
                k: keras.Input(shape=backbone[k].shape[1:], dtype=backbone[k].dtype, name=k)
                for k in _BACKBONE_KEYS
                if k in backbone
            }
            head_outputs, layers = make_head(None, encoder, head_inputs, num_labels=spec.units)
            head = keras.Model(head_inputs, head_outputs["logits"], name=task)
            head.classifier_head = layers["classifier_head"]
            head_models[task] = head
            outputs[task] = head({k: backbone[k] for k in head_inputs})
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        self.encoder = encoder
        self.config = encoder.config
        self.heads = head_models
        self.head_specs = specs

    def task_model(self, task):
        """Features -> ``{"logits"}`` of one task, sharing this model's variables."""
        if task not in self.heads:
            raise ConfigError(
                f"multitask: no head for task {task!r}; heads: {', '.join(self.heads)}"
            )
        inputs = feature_inputs()
        backbone = self.encoder(inputs)
        head = self.heads[task]
        logits = head({k: backbone[k] for k in head.input})
        return keras.Model(inputs, {"logits": logits}, name=f"{self.name}_{task}")

    def get_config(self):
        return {
            "name": self.name,
            "encoder": {"family": self.config.family, "config": self.encoder.get_config()},
            "heads": {t: dataclasses.asdict(s) for t, s in self.head_specs.items()},
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)


def ranking_loss(scores, relevance, groups, gamma=1.0):
    """Mean over terms: for each positive of a group that also has negatives,
    ``-log softmax`` of its score against its group's negatives (γ-scaled, section
    3.1); for every row of any other group (a group of one included), binary
    sigmoid cross-entropy of its score. ``scores`` [B], ``relevance`` [B] (1 =
    positive), ``groups`` [B] int question ids."""
    scores = tf.cast(tf.reshape(scores, [-1]), tf.float32)
    relevance = tf.cast(relevance, tf.float32)
    positive = relevance > 0.5
    same = tf.equal(groups[:, None], groups[None, :])
    has_positive = tf.reduce_any(same & positive[None, :], axis=1)
    has_negative = tf.reduce_any(same & ~positive[None, :], axis=1)
    rankable = has_positive & has_negative
    itself = tf.eye(tf.shape(scores)[0], dtype=tf.bool)
    candidates = same & (~positive[None, :] | itself)  # row i: itself and its group's negatives
    scaled = gamma * scores
    masked = tf.where(candidates, tf.broadcast_to(scaled[None, :], tf.shape(same)), -1e9)
    rank_terms = tf.reduce_logsumexp(masked, axis=1) - scaled
    binary_terms = tf.nn.sigmoid_cross_entropy_with_logits(labels=relevance, logits=scores)
    use_rank, use_binary = rankable & positive, ~rankable
    terms = tf.where(use_rank, rank_terms, tf.where(use_binary, binary_terms, 0.0))
    count = tf.reduce_sum(tf.cast(use_rank | use_binary, tf.float32))
    return tf.reduce_sum(terms) / tf.maximum(count, 1.0)


def head_loss(spec, logits, targets, gamma=1.0):
    """One task's loss on one batch; ``targets`` holds float ``labels`` and int ``group``."""
    labels = targets["labels"]
    if spec.kind == "ranking":
        relevance = tf.cast(tf.equal(tf.cast(labels, tf.int32), spec.positive), tf.float32)
        return ranking_loss(logits[:, 0], relevance, targets["group"], gamma)
    if spec.kind == "classification":
        labels = tf.cast(labels, tf.int32)
    return logits_loss(logits, labels)[0]


def multitask_loss_fn(specs, gamma=1.0):
    """A Trainer ``loss_fn``: each batch is one task's (``targets["task"]``, an index
    into ``specs``' order), and only that task's head takes a loss."""
    names = list(specs)

    def loss_fn(model, batch, training):
        features, targets = batch
        outputs = model(features, training=training)
        branches = [lambda n=n: head_loss(specs[n], outputs[n], targets, gamma) for n in names]
        return tf.switch_case(targets["task"][0], branches), {}

    return loss_fn


def single_task_loss_fn(spec, gamma=1.0):
    """A Trainer ``loss_fn`` for :meth:`MultiTaskModel.task_model` (stage-2 fine-tuning)."""

    def loss_fn(model, batch, training):
        features, targets = batch
        return head_loss(spec, model(features, training=training)["logits"], targets, gamma), {}

    return loss_fn


def question_groups(texts):
    """Group ids [N] int32: rows with identical question text share an id."""
    ids = {}
    return np.asarray([ids.setdefault(t, len(ids)) for t in texts], np.int32)


def ranking_predictions(scores, groups, positive):
    """Label indexes: in a group of several, the best score is ``positive`` and the
    rest the other label; a group of one is ``positive`` when its score is > 0."""
    scores, groups = np.asarray(scores, np.float64).reshape(-1), np.asarray(groups)
    negative = 1 - positive
    predictions = np.full(len(scores), negative, np.int64)
    for group in np.unique(groups):
        rows = np.flatnonzero(groups == group)
        if len(rows) == 1:
            predictions[rows[0]] = positive if scores[rows[0]] > 0 else negative
        else:
            predictions[rows[np.argmax(scores[rows])]] = positive
    return predictions


def task_classifier(model, task, label_names=None):
    """The family's ``…ForSequenceClassification`` holding copies of the shared
    encoder and ``task``'s head (for :func:`tfmodels.save_pretrained`)."""
    spec = model.head_specs[task]
    family = model.config.family
    classifier = registry.model_class(family, "classification")(
        model.config, num_labels=spec.label_count
    )
    converter = registry.converter_module(family)
    shared = read_weights(converter.backbone_weights(model.encoder))
    target = converter.backbone_weights(classifier.encoder)  # may lack an unused pooler
    check_and_assign(
        target, {k: v for k, v in shared.items() if k in target}, f"the multitask encoder ({task})"
    )
    source, head = model.heads[task].classifier_head, classifier.classifier_head
    if source.inner is not None:
        head.inner.set_weights(source.inner.get_weights())
    kernel, bias = source.out.get_weights()
    if spec.kind == "ranking":  # logits [s, 0] (positive first): softmax gives sigmoid(s)
        wide_kernel, wide_bias = np.zeros((kernel.shape[0], 2), kernel.dtype), np.zeros(2)
        wide_kernel[:, spec.positive], wide_bias[spec.positive] = kernel[:, 0], bias[0]
        kernel, bias = wide_kernel, wide_bias.astype(bias.dtype)
    head.out.set_weights([kernel, bias])
    if label_names:
        classifier.label_names = list(label_names)
    if getattr(model.encoder, "source_path", None):
        classifier.source_path = model.encoder.source_path  # tokenizer files go along
    return classifier
