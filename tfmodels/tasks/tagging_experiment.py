"""Fine-tuning and evaluating a token tagger (CoNLL-2003 NER): what run_tagger.py runs.

The ``task:`` section (``type: tagging``) names the data and the tag scheme. Modes:
``train_and_eval`` (train, evaluate entity F1 on dev at checkpoints, keep the best
checkpoint, score dev and test, write predictions, save the HF layout), ``eval``
(scores and predictions) and ``predict`` (predictions only). Outputs under
``model_dir``: ``eval_results.json``, ``metrics.json``, ``predictions/{dev,test}.txt``
(conlleval's ``word gold predicted`` lines, tags in each file's own scheme),
``hf_model/`` and ``training_curves.png``.
"""

import dataclasses
import os
from typing import List, Optional

import numpy as np

from tfmodels.atomic import atomic_write
from tfmodels.errors import ConfigError
from tfmodels.strict_config import check_choice
from tfmodels.tasks import batching, conll
from tfmodels.tasks.classification import predict_logits
from tfmodels.tasks.fine_tuning import FineTuningTask, check_data
from tfmodels.training.experiment import TaskConfig
from tfmodels.training.sift import with_sift


@dataclasses.dataclass
class TaggingConfig(TaskConfig):
    """``data_dir`` holds train.txt, valid.txt (or dev.txt) and test.txt."""

    type: str = "tagging"
    data_dir: Optional[str] = None
    scheme: str = "BIO"  # the tags the model learns: BIO (IOB2) or IOBES
    split_long: bool = True  # longer sentences: windows at word boundaries; False: DataError
    labels: Optional[List[str]] = None  # default: O, then the train file's tags by type
    eval_splits: List[str] = dataclasses.field(default_factory=lambda: ["dev", "test"])


class Split:
    """One CoNLL file: its sentences as read and in the model's scheme, their label ids
    (checked against the label set when read) and, after :meth:`featurize`, features."""

    def __init__(self, path, scheme, labels=None):
        self.path = path
        self.original = conll.read_conll(path)
        self.file_scheme = conll.detect_scheme(self.original)
        self.sentences = conll.convert_sentences(self.original, scheme, path)
        self.label_ids = None if labels is None else conll.label_ids(self.sentences, labels, path)
        self.features = None

    def featurize(self, preprocessor, split_long):
        self.features = conll.make_features(
            self.sentences, preprocessor, self.label_ids, split_long=split_long, path=self.path
        )
        return self


def _labels(section, sentences):
    """The label set: ``task.labels`` checked against the train file, else O and the
    train file's tags by type."""
    scheme = section.scheme
    labels = conll.label_set(sentences)
    if section.labels:
        given = list(section.labels)
        prefixes = ("B-", "I-") if scheme == "BIO" else ("B-", "I-", "E-", "S-")
        bad = [t for t in given if t != "O" and not (t[:2] in prefixes and len(t) > 2)]
        if bad:
            raise ConfigError(f"task.labels: {bad[0]!r} is not a {scheme} tag")
        missing = [t for t in labels if t not in given]
        if missing:
            raise ConfigError(f"task.labels lacks {missing[0]!r}, seen in train")
        labels = given
    return labels


def predict_tags(model, split, labels, batch_size):
    """Per sentence, the predicted tag of every word (in the model's scheme); each batch
    is cut to its own width, so the label ids are kept row by row."""
    rows = []
    for batch in conll.make_dataset(split.features, batch_size):
        rows.extend(np.argmax(predict_logits(model, [batch]), -1))
    return [[labels[i] for i in row] for row in conll.words_from_rows(rows, split.features)]


def predict_splits(model, splits, labels, batch_size):
    """``{split: per sentence, the predicted tag of every word}``."""
    return {name: predict_tags(model, split, labels, batch_size) for name, split in splits.items()}


def score(splits, predicted):
    """Entity-level scores per split (``{split}/f1``, ``{split}/f1_PER``, ...)."""
    results = {}
    for name, tags in predicted.items():
        metrics = conll.entity_metrics([s.tags for s in splits[name].sentences], tags)
        results.update({f"{name}/{k}": v for k, v in metrics.items()})
    return results


def write_tags(splits, predicted, out_dir):
    """``word gold predicted`` per line (conlleval's input), a blank line between
    sentences; tags in the file's own scheme. Written under a temporary name."""
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for name, tags_of_split in predicted.items():
        split = splits[name]
        path = os.path.join(out_dir, f"{name}.txt")
        with atomic_write(path) as f:
            for sentence, tags in zip(split.original, tags_of_split):
                tags = conll.convert(tags, split.file_scheme)
                for word, gold, tag in zip(sentence.words, sentence.tags, tags):
                    f.write(f"{word} {gold} {tag}\n")
                f.write("\n")
        written.append(path)
    return written


class TaggingTask(FineTuningTask):
    """The family's ``…ForTokenClassification`` on CoNLL files: entity-level F1."""

    Config = TaggingConfig
    architecture = "token_classification"
    title = "conll"

    def prepare(self, mode):
        super().prepare(mode)
        s = self.section
        check_choice("task.scheme", s.scheme, conll.SCHEMES, "scheme")
        check_data(s.data_dir, s.eval_splits)
        # Every file is read and checked before the model is built.
        self.train_split = Split(conll.find_split(s.data_dir, "train"), s.scheme)
        self.labels = _labels(s, self.train_split.sentences)
        self.train_split.label_ids = conll.label_ids(
            self.train_split.sentences, self.labels, self.train_split.path
        )
        self.splits = {
            x: Split(conll.find_split(s.data_dir, x), s.scheme, self.labels) for x in s.eval_splits
        }
        self.dev = {k: v for k, v in self.splits.items() if k == "dev"} or self.splits
        self.main_metric = f"{next(iter(self.dev))}/f1" if self.dev else None

    def head_args(self):
        return {"num_labels": len(self.labels)}

    def build_model(self):
        model = super().build_model()
        names = getattr(model, "label_names", None)  # a tagger's own, kept by from_pretrained
        if (
            names
            and names != self.labels
            and names != [f"LABEL_{i}" for i in range(len(self.labels))]
        ):
            raise ConfigError(
                f"model.init_from: the checkpoint's labels are {', '.join(names)}; "
                f"the data's are {', '.join(self.labels)} (set task.labels)"
            )
        model.label_names = list(self.labels)
        for split in self.splits.values():
            split.featurize(self.preprocessor, self.section.split_long)
        return model

    def train_dataset(self):
        split = self.train_split.featurize(self.preprocessor, self.section.split_long)
        self.features = split.features
        dataset = conll.make_dataset(
            self.features,
            self.cfg.data.train_batch_size,
            training=True,
            seed=self.cfg.trainer.seed,
            shuffle_buffer=self.cfg.data.shuffle_buffer,
        )
        return dataset, len(self.features.windows)

    def describe(self, steps):
        return (
            f"fine-tuning on {len(self.train_split.sentences)} sentences "
            f"({len(self.features.windows)} windows, {self.features.truncated_words} words "
            f"cut) from {self.train_split.path} for {steps} steps, {len(self.labels)} "
            f"{self.section.scheme} labels, batch {self.cfg.data.train_batch_size}, "
            f"{batching.describe(self.cfg.model.seq_length)}"
        )

    def loss(self):
        return with_sift(conll.outputs_loss, self.cfg.adversarial)

    def evaluate(self, model):
        return score(
            self.splits, predict_splits(model, self.dev, self.labels, self.cfg.data.eval_batch_size)
        )

    def final_results(self, model):
        self.predicted = predict_splits(
            model, self.splits, self.labels, self.cfg.data.eval_batch_size
        )
        return score(self.splits, self.predicted)

    def write_predictions(self, model_dir):
        return write_tags(self.splits, self.predicted, os.path.join(model_dir, "predictions"))

    def predict(self, model, model_dir):
        self.final_results(model)
        return self.write_predictions(model_dir)

    def report_fields(self):
        return {
            "scheme": self.section.scheme,
            "labels": self.labels,
            "train_sentences": len(self.train_split.sentences),
            "train_windows": len(self.features.windows),
        }
