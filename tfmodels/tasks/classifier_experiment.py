"""Sentence(-pair) classification and regression on GLUE or a TSV: what run_classifier.py runs.

Modes: ``train_and_eval`` (train, evaluate at checkpoints, keep the best checkpoint,
save it in the HF layout, optionally export a SavedModel), ``eval`` and
``predict`` (GLUE submission files). All outputs go under ``model_dir``.
"""

import dataclasses
import os
from typing import List, Optional

from tfmodels.atomic import atomic_write
from tfmodels.export import saved_model
from tfmodels.tasks import batching, classification
from tfmodels.tasks.fine_tuning import FineTuningTask, check_data
from tfmodels.tasks.glue import get_task
from tfmodels.training.experiment import TaskConfig
from tfmodels.training.sift import with_sift


@dataclasses.dataclass
class TextTaskConfig(TaskConfig):
    """A GLUE task or a TSV of labelled texts (classification and task distillation)."""

    name: str = "tsv"  # a GLUE task (cola, sst2, ...) or tsv
    data_dir: Optional[str] = None
    text_a_column: Optional[str] = None  # for name=tsv: header names (or 0-based indexes)
    text_b_column: Optional[str] = None
    label_column: Optional[str] = None
    labels: Optional[List[str]] = None  # for name=tsv: label set; default: seen in train


def read_text_task(section):
    """The :mod:`glue` task of the section, with its data folder checked."""
    s = section
    task = get_task(s.name, s.data_dir, s.text_a_column, s.text_b_column, s.label_column, s.labels)
    check_data(s.data_dir)
    return task


def read_splits(task, data_dir, mode):
    """``(train Examples, [(split, dev Examples)], [(stem, test Examples)])``: the files
    ``mode`` needs (train and dev to train, dev to evaluate, the test files to predict),
    read and checked; the others are None or empty."""
    train = task.read(data_dir, task.train_file) if mode in ("train_and_eval", "train") else None
    dev = classification.read_dev_files(task, data_dir) if mode != "predict" else []
    test = []
    if mode == "predict":
        test = [(stem, task.read(data_dir, f, labelled=False)) for stem, f in task.test_files]
    return train, dev, test


@dataclasses.dataclass
class ClassificationConfig(TextTaskConfig):
    type: str = "classification"
    saved_model: bool = False  # export a SavedModel (raw text in) after training


class ClassifierTask(FineTuningTask):
    """The family's ``…ForSequenceClassification`` on one GLUE task or TSV."""

    Config = ClassificationConfig
    architecture = "classification"

    @property
    def title(self):
        return self.glue.name

    def prepare(self, mode):
        super().prepare(mode)
        self.glue = read_text_task(self.section)
        self.main_metric = f"{self.glue.dev_files[0][0]}/score"
        # Every file the mode reads is read and checked now, before a model is built.
        self.train_examples, self.dev_examples, self.test_examples = read_splits(
            self.glue, self.section.data_dir, mode
        )

    def head_args(self):
        return {"num_labels": self.glue.num_labels}

    def build_model(self):
        model = super().build_model()
        if self.glue.labels:
            model.label_names = list(self.glue.labels)
        return model

    def train_dataset(self):
        d = self.cfg.data
        dataset = classification.make_dataset(
            self.train_examples,
            self.preprocessor,
            d.train_batch_size,
            training=True,
            seed=self.cfg.trainer.seed,
            shuffle_buffer=d.shuffle_buffer,
        )
        self.dev_sets = self.make_dev_sets()  # tokenized once
        return dataset, len(self.train_examples)

    def make_dev_sets(self):
        return classification.DevSets(
            self.glue,
            self.preprocessor,
            self.section.data_dir,
            self.cfg.data.eval_batch_size,
            self.dev_examples,
        )

    def describe(self, steps):
        return (
            f"fine-tuning on {len(self.train_examples)} {self.glue.name} examples "
            f"({self.glue.folder}) for {steps} steps, batch {self.cfg.data.train_batch_size}, "
            f"{batching.describe(self.cfg.model.seq_length)}"
        )

    def loss(self):
        # The task loss, plus SiFT's adversarial term when adversarial.method is sift.
        return with_sift(classification.outputs_loss, self.cfg.adversarial)

    def evaluate(self, model):
        """The periodic evaluation: the main metric's split only. A labelled test split
        (or MNLI's mismatched dev) is scored once, by :meth:`final_results`, on the
        checkpoint the main metric picked: scoring it at every evaluation cost as much
        again and showed a test score while choosing."""
        return self._dev_sets().evaluate(model, only=self.main_metric.split("/")[0])

    def final_results(self, model):
        return self._dev_sets().evaluate(model)

    def _dev_sets(self):
        if getattr(self, "dev_sets", None) is None:  # --mode=eval
            self.dev_sets = self.make_dev_sets()
        return self.dev_sets

    def report_fields(self):
        return {"train_examples": len(self.train_examples)}

    def predict(self, model, model_dir):
        """GLUE submission files: ``index<TAB>prediction`` per test file."""
        out_dir = os.path.join(model_dir, "predictions")
        os.makedirs(out_dir, exist_ok=True)
        written = []
        for stem, examples in self.test_examples:
            predictions = classification.predictions_from_logits(
                classification.predict_examples(
                    model, examples, self.preprocessor, self.cfg.data.eval_batch_size
                )
            )
            path = os.path.join(out_dir, f"{stem}.tsv")
            with atomic_write(path) as f:
                f.write("index\tprediction\n")
                for index, p in zip(examples.ids, predictions):
                    f.write(f"{index}\t{self.glue.format_prediction(p)}\n")
            written.append(path)
        return written

    def finish(self, model, model_dir):
        if not self.section.saved_model:
            return {}
        return {
            "saved_model": saved_model(
                model,
                os.path.join(model_dir, "saved_model"),
                self.preprocessor,
                label_names=self.glue.labels,
                pair=self.glue.columns.text_b is not None,
            )
        }
