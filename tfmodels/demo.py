"""What ``make demo`` runs (``task.type: fortunes_topics``): sentence classification on
the topic dataset built from Debian's ``fortunes``, plus what a first-time user wants
to see beside the scores: two baselines to judge them by, and the exported SavedModel
answering a few sample texts.
"""

import dataclasses
import os
from typing import List, Optional

import numpy as np
import tensorflow as tf

from tfmodels.datasets.fortunes import FORTUNES_DIR, build_fortunes_dataset
from tfmodels.tasks.baselines import logistic_regression_baseline, majority_baseline
from tfmodels.tasks.classifier_experiment import ClassificationConfig, ClassifierTask


@dataclasses.dataclass
class FortunesTopicsConfig(ClassificationConfig):
    type: str = "fortunes_topics"
    fortunes_dir: Optional[str] = None  # the fortune files; default Debian's folder
    baselines: bool = True  # majority-class and bag-of-words baselines
    sample_texts: List[str] = dataclasses.field(default_factory=list)  # for the SavedModel


def ensure_fortunes_data(section):
    """Builds the dataset in ``section.data_dir`` unless its train.tsv is there already."""
    if os.path.isfile(os.path.join(section.data_dir or "", "train.tsv")):
        return
    os.makedirs(section.data_dir, exist_ok=True)
    counts = build_fortunes_dataset(
        section.data_dir, source_dir=section.fortunes_dir or FORTUNES_DIR
    )
    print(
        f"built the fortunes topic dataset in {section.data_dir}: "
        + ", ".join(f"{s} {sum(c.values())}" for s, c in counts.items())
    )


class FortunesTopicsTask(ClassifierTask):
    Config = FortunesTopicsConfig

    def prepare(self, mode):
        if self.section.data_dir:  # else read_text_task names the missing folder
            ensure_fortunes_data(self.section)
        super().prepare(mode)

    def finish(self, model, model_dir):
        report = super().finish(model, model_dir)
        if self.section.baselines:
            report["baselines"] = baselines(self.glue, self.section.data_dir, self.train_examples)
        if "saved_model" in report and self.glue.columns.text_b is None:
            report["sample_predictions"] = sample_predictions(
                report["saved_model"], self.section.sample_texts
            )
        return report

    def result_lines(self, report):
        lines = [f"{'baseline ' + k:34s} {v:.4f}" for k, v in report.get("baselines", {}).items()]
        return lines + [
            f"SavedModel says {r['label']!r} ({r['probability']:.2f}) for: {r['text']}"
            for r in report.get("sample_predictions", [])
        ]


def _joined_text(examples):
    """One string per example: the text, or both texts of a pair."""
    if examples.text_b is None:
        return examples.text_a
    return [a + " " + b for a, b in zip(examples.text_a, examples.text_b)]


def baselines(task, data_dir, train):
    """Majority class and bag-of-words logistic regression on each dev split."""
    out = {}
    train_text = _joined_text(train)
    for split, file_name in task.dev_files:
        examples = task.read(data_dir, file_name)
        out[f"{split}/majority_accuracy"] = majority_baseline(train.labels, examples.labels)
        out[f"{split}/bow_logreg_accuracy"] = logistic_regression_baseline(
            train_text, train.labels, _joined_text(examples), examples.labels
        )
    return out


def sample_predictions(export_dir, texts):
    """The exported SavedModel's label and probability for each text, from raw text."""
    if not texts:
        return []
    loaded = tf.saved_model.load(export_dir)
    out = loaded.signatures["serving_default"](text=tf.constant(texts))
    labels = [x.decode() if isinstance(x, bytes) else str(x) for x in out["label"].numpy()]
    best = np.max(out["probabilities"].numpy(), axis=-1)
    return [
        {"text": t, "label": label, "probability": float(p)}
        for t, label, p in zip(texts, labels, best)
    ]
