"""Fine-tuning and evaluating a token tagger (CoNLL-2003 NER): what run_tagger.py runs.

The experiment YAML has a ``tagging`` section beside the shared ones. Modes:
``train_and_eval`` (train, evaluate entity F1 on dev at checkpoints, keep the best
checkpoint, score dev and test, write predictions, save the HF layout), ``eval`` and
``predict``. Outputs under ``model_dir``: ``eval_results.json``, ``metrics.json``,
``predictions/{dev,test}.txt`` (conlleval's ``word gold predicted`` lines, tags in
each file's own scheme), ``hf_model/`` and ``training_curves.png``.
"""
import dataclasses
import json
import os
import time
from typing import List, Optional

import numpy as np

import tfmodels
from tfmodels.atomic import atomic_write
from tfmodels.errors import ConfigError
from tfmodels.tasks import conll
from tfmodels.tasks.classification import predict_logits
from tfmodels.tasks.classifier_experiment import _copy_vocab, _restore_trained
from tfmodels.tasks.classifier_experiment import build_model_and_preprocessor as build_task_model
from tfmodels.training.distribution import get_strategy, set_precision
from tfmodels.training.experiment import ExperimentConfig, load_experiment, train_steps
from tfmodels.training.optimization import create_optimizer
from tfmodels.training.plots import plot_history
from tfmodels.training.sift import with_sift
from tfmodels.training.trainer import Trainer, write_json

MODES = ("train_and_eval", "eval", "predict")
ARCHITECTURE = "token_classification"


@dataclasses.dataclass
class TaggingSection:
    scheme: str = "BIO"        # the tags the model learns: BIO (IOB2) or IOBES
    split_long: bool = True    # longer sentences: windows at word boundaries; False: DataError
    labels: Optional[List[str]] = None  # default: O, then the train file's tags by type
    eval_splits: List[str] = dataclasses.field(default_factory=lambda: ["dev", "test"])


@dataclasses.dataclass
class TaggingExperimentConfig(ExperimentConfig):
    """``task.data_dir`` holds train.txt, valid.txt (or dev.txt) and test.txt."""

    tagging: TaggingSection = dataclasses.field(default_factory=TaggingSection)


def load_tagging_experiment(path=None, overrides=()):
    return load_experiment(path, overrides, config_class=TaggingExperimentConfig)


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
        self.features = conll.make_features(self.sentences, preprocessor, self.label_ids,
                                            split_long=split_long, path=self.path)
        return self


def _check(cfg, model_dir, mode):
    if mode not in MODES:
        raise ConfigError(f"--mode: unknown mode {mode!r}; known: {', '.join(MODES)}")
    if not model_dir:
        raise ConfigError("--model_dir is required")
    if cfg.tagging.scheme not in conll.SCHEMES:
        raise ConfigError(f"tagging.scheme: unknown scheme {cfg.tagging.scheme!r}; known: "
                          f"{', '.join(conll.SCHEMES)}")
    unknown = [s for s in cfg.tagging.eval_splits if s not in ("dev", "test")]
    if unknown:
        raise ConfigError(f"tagging.eval_splits: {unknown[0]!r} is not dev or test")
    if not cfg.task.data_dir or not os.path.isdir(cfg.task.data_dir):
        raise ConfigError(f"--data_dir: folder not found: {cfg.task.data_dir}")


def _labels(cfg, sentences):
    scheme = cfg.tagging.scheme
    labels = conll.label_set(sentences)
    if cfg.tagging.labels:
        given = list(cfg.tagging.labels)
        prefixes = ("B-", "I-") if scheme == "BIO" else ("B-", "I-", "E-", "S-")
        bad = [t for t in given if t != "O" and not (t[:2] in prefixes and len(t) > 2)]
        if bad:
            raise ConfigError(f"tagging.labels: {bad[0]!r} is not a {scheme} tag")
        missing = [t for t in labels if t not in given]
        if missing:
            raise ConfigError(f"tagging.labels lacks {missing[0]!r}, seen in train")
        labels = given
    return labels


def build_model_and_preprocessor(cfg, num_labels):
    """The token classifier (``token_classification`` of the checkpoint's family) and
    its preprocessor, from ``model.init_from`` or ``model.name``."""
    return build_task_model(cfg, num_labels, architecture=ARCHITECTURE)


def predict_tags(model, split, labels, batch_size):
    """Per sentence, the predicted tag of every word (in the model's scheme)."""
    dataset = conll.make_dataset(split.features, batch_size)
    predicted = np.argmax(predict_logits(model, dataset), -1)
    return [[labels[i] for i in row] for row in conll.words_from_rows(predicted, split.features)]


def evaluate(model, splits, labels, batch_size):
    """Entity-level scores per split (``{split}/f1``, ``{split}/f1_PER``, ...)."""
    results = {}
    for name, split in splits.items():
        predicted = predict_tags(model, split, labels, batch_size)
        metrics = conll.entity_metrics([s.tags for s in split.sentences], predicted)
        results.update({f"{name}/{k}": v for k, v in metrics.items()})
    return results


def write_predictions(model, splits, labels, batch_size, out_dir):
    """``word gold predicted`` per line (conlleval's input), a blank line between
    sentences; tags in the file's own scheme. Written under a temporary name."""
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for name, split in splits.items():
        predicted = predict_tags(model, split, labels, batch_size)
        path = os.path.join(out_dir, f"{name}.txt")
        with atomic_write(path) as f:
            for sentence, tags in zip(split.original, predicted):
                tags = conll.convert(tags, split.file_scheme)
                for word, gold, tag in zip(sentence.words, sentence.tags, tags):
                    f.write(f"{word} {gold} {tag}\n")
                f.write("\n")
        written.append(path)
    return written


def run(cfg, model_dir, mode="train_and_eval", strategy_name="default", tpu=None,
        precision="float32", jit_compile=False):
    _check(cfg, model_dir, mode)
    data_dir, scheme = cfg.task.data_dir, cfg.tagging.scheme
    # Every file is read and checked before the model is built.
    train = Split(conll.find_split(data_dir, "train"), scheme)
    labels = _labels(cfg, train.sentences)
    train.label_ids = conll.label_ids(train.sentences, labels, train.path)
    splits = {s: Split(conll.find_split(data_dir, s), scheme, labels)
              for s in cfg.tagging.eval_splits}
    loss_scale = set_precision(precision)
    strategy = get_strategy(strategy_name, tpu)
    os.makedirs(model_dir, exist_ok=True)
    with strategy.scope():
        model, preprocessor = build_model_and_preprocessor(cfg, len(labels))
    names = getattr(model, "label_names", None)  # a tagger's own, kept by from_pretrained
    if names and names != labels and names != [f"LABEL_{i}" for i in range(len(labels))]:
        raise ConfigError(f"model.init_from: the checkpoint's labels are {', '.join(names)}; "
                          f"the data's are {', '.join(labels)} (set tagging.labels)")
    model.label_names = list(labels)
    for split in splits.values():
        split.featurize(preprocessor, cfg.tagging.split_long)
    batch = cfg.data.eval_batch_size
    if mode == "predict":
        _restore_trained(model, model_dir)
        for path in write_predictions(model, splits, labels, batch,
                                      os.path.join(model_dir, "predictions")):
            print(f"wrote {path}")
        return {}
    if mode == "eval":
        restored = _restore_trained(model, model_dir)
        results = evaluate(model, splits, labels, batch)
        results["checkpoint"] = restored or cfg.model.init_from
        write_json(os.path.join(model_dir, "eval_results.json"), results)
        print(json.dumps(results, indent=2))
        return results

    features = train.featurize(preprocessor, cfg.tagging.split_long).features
    windows = len(features.windows)
    steps = train_steps(cfg, windows)
    dataset = conll.make_dataset(features, cfg.data.train_batch_size, training=True,
                                 seed=cfg.trainer.seed, shuffle_buffer=cfg.data.shuffle_buffer)
    with strategy.scope():
        optimizer = create_optimizer(cfg.optimizer, cfg.schedule, steps)
    dev = {k: v for k, v in splits.items() if k == "dev"} or splits
    main_metric = f"{next(iter(dev))}/f1" if dev else None
    print(f"fine-tuning on {len(train.sentences)} sentences ({windows} windows, "
          f"{features.truncated_words} words cut) from {train.path} for {steps} steps, "
          f"{len(labels)} {scheme} labels, batch {cfg.data.train_batch_size}, "
          f"seq_length {cfg.model.seq_length}, {strategy.num_replicas_in_sync} replica(s), "
          f"{precision}")
    trainer = Trainer.from_experiment(
        cfg, strategy, model_dir, model, optimizer, with_sift(conll.outputs_loss, cfg.adversarial),
        steps, jit_compile=jit_compile, loss_scale=loss_scale, main_metric=main_metric,
        evaluate=(lambda: evaluate(model, dev, labels, batch)) if dev else None)
    started = time.time()
    summary = trainer.train(dataset)
    restored = _restore_trained(model, model_dir)
    results = evaluate(model, splits, labels, batch)
    results["checkpoint"] = restored
    report = {"task": "conll", "scheme": scheme, "labels": labels,
              "train_sentences": len(train.sentences), "train_windows": windows,
              "eval": results, **summary}
    if not trainer.chief:
        return report
    write_json(os.path.join(model_dir, "eval_results.json"), results)
    report["predictions"] = write_predictions(model, splits, labels, batch,
                                              os.path.join(model_dir, "predictions"))
    tfmodels.save_pretrained(model, os.path.join(model_dir, "hf_model"))
    _copy_vocab(preprocessor, os.path.join(model_dir, "hf_model"))
    plot_history(trainer.history, os.path.join(model_dir, "training_curves.png"),
                 title=f"CoNLL tagging ({os.path.basename(os.path.normpath(data_dir))})")
    report["wall_seconds"] = time.time() - started
    write_json(os.path.join(model_dir, "metrics.json"), report)
    _print_report(report, main_metric)
    return report


def _print_report(report, main_metric):
    print("\n== results ==")
    for key, value in report["eval"].items():
        metric = key.split("/")[-1]
        if metric in ("precision", "recall", "f1", "accuracy") or metric.startswith("f1_"):
            print(f"{key:32s} {value:.4f}")
    print(f"main metric {main_metric}; wall time {report['wall_seconds']:.0f}s")
