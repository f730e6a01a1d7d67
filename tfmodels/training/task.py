"""The Task contract: what one kind of run (classification, SQuAD, tagging, seq2seq,
MT-DNN, pre-training, distillation) tells the shared driver.

A Task knows its data, its model, its loss and its metrics; ``run_experiment``
(:mod:`tfmodels.training.driver`) owns everything else: precision, strategy,
restoring, the Trainer, the best checkpoint, the HF save, plots, metrics and the
report. A new fine-tuning kind is one subclass, registered in :data:`TASK_TYPES`,
with its ``task:`` section as ``Config``.
"""

import functools
import importlib
import os

from tfmodels.errors import ConfigError
from tfmodels.training import experiment

# task.type -> the Task class ("module:Class", imported when asked for).
TASK_TYPES = {
    "classification": "tfmodels.tasks.classifier_experiment:ClassifierTask",
    "fortunes_topics": "tfmodels.demo:FortunesTopicsTask",
    "squad": "tfmodels.tasks.squad_experiment:SquadTask",
    "tagging": "tfmodels.tasks.tagging_experiment:TaggingTask",
    "seq2seq": "tfmodels.tasks.seq2seq_experiment:Seq2SeqTask",
    "multitask": "tfmodels.tasks.multitask_experiment:MultitaskTask",
    "pretraining": "tfmodels.pretraining.pretrain_experiment:PretrainingTask",
    "distillation": "tfmodels.compression.distill_experiment:DistillationTask",
}


def task_class(name, key="task.type"):
    """The Task registered as ``name``; ``key`` names the setting in the error."""
    if name not in TASK_TYPES:
        raise ConfigError(f"{key}: unknown task {name!r}; known: {', '.join(TASK_TYPES)}")
    module, attribute = TASK_TYPES[name].split(":")
    return getattr(importlib.import_module(module), attribute)


def make_task(cfg):
    """The Task object of the experiment ``cfg`` (its ``task.type``)."""
    return task_class(cfg.task.type)(cfg)


class Task:
    """One kind of run. Subclasses override what differs; every method has the
    fine-tuning default where one makes sense.

    Order of calls: :meth:`prepare` (config and every input file checked before a model
    is built or a file written), :meth:`build_model`, then for training :meth:`train`
    (which asks :meth:`train_dataset`, :meth:`loss`, :meth:`evaluate`), :meth:`restore`,
    :meth:`final_results`, :meth:`write_predictions`, :meth:`finish`, :meth:`save` and
    :meth:`after_training`; for ``--mode=eval`` the same without training and saving;
    for ``--mode=predict`` :meth:`restore` then :meth:`predict`.
    """

    Config = experiment.TaskConfig
    modes = ("train_and_eval", "eval", "predict")
    architecture = None  # the family task model build_model makes (classification, ...)
    main_metric = None  # the key of evaluate()'s metrics that picks the best checkpoint

    def __init__(self, cfg):
        self.cfg = cfg
        self.section = cfg.task
        self.mode = None
        self.preprocessor = None  # the tokenizer + packer, where build_model makes one
        self.log = functools.partial(print, flush=True)  # run_experiment may replace it

    @property
    def title(self):
        """The run's name in reports and plot titles."""
        return self.section.type

    def prepare(self, mode):
        """Checks the config and reads every input file (errors before any output)."""
        self.mode = mode

    def build_model(self):
        """The model to train or evaluate (called under the strategy's scope)."""
        raise NotImplementedError

    def train_dataset(self):
        """``(dataset of training batches, examples in one epoch)``."""
        raise NotImplementedError

    def train_steps(self, examples):
        return experiment.train_steps(self.cfg, examples)

    def loss(self):
        """``loss_fn(model, batch, training) -> (loss, {name: scalar})``."""
        raise NotImplementedError

    def evaluate(self, model):
        """Dev metrics during training (``main_metric`` among them); None: no evaluation."""
        return None

    def describe(self, steps):
        """What the run trains, for its opening line (the driver adds replicas, precision)."""
        return f"training {self.title} for {steps} steps"

    def train(self, model, run):
        """Trains ``model``; returns the Trainer's summary. One Trainer by default;
        distillation overrides this with its phases."""
        dataset, examples = self.train_dataset()
        steps = self.train_steps(examples)
        run.announce(self.describe(steps))
        evaluate = None
        if self.main_metric:
            evaluate = lambda: self.evaluate(model)  # noqa: E731
        return run.fit(
            model, self.loss(), dataset, steps, evaluate=evaluate, main_metric=self.main_metric
        )

    def restore(self, model, model_dir):
        """Loads the run's best (else latest) checkpoint; returns its path or None."""
        from tfmodels.training.driver import restore_trained

        return restore_trained(model, model_dir)

    def final_results(self, model):
        """The metrics reported at the end and by ``--mode=eval`` (None: no evaluation).
        A task that produces texts keeps them for :meth:`write_predictions`."""
        return self.evaluate(model)

    def write_predictions(self, model_dir):
        """Writes what :meth:`final_results` produced (predictions); returns the paths."""
        return []

    def untrained_weights(self, model):
        """Weights of ``model`` that no checkpoint gave it (a fresh head): evaluating or
        predicting with them is refused unless the run's own checkpoint is restored."""
        return []

    def predict(self, model, model_dir):
        """``--mode=predict``: writes predictions for the unlabelled inputs; returns paths."""
        raise ConfigError(f"--mode=predict: {self.title} runs have no prediction mode")

    def finish(self, model, model_dir):
        """Outputs of a training run beyond the model (exports, baselines): report fields."""
        return {}

    def save(self, model, model_dir):
        """The trained model in the HF layout under ``model_dir/hf_model``."""
        from tfmodels.training.driver import save_with_tokenizer

        save_with_tokenizer(model, os.path.join(model_dir, "hf_model"), self.preprocessor)

    def after_training(self, model, run):
        """More training after the outputs are saved (MT-DNN's stage 2): report fields."""
        return {}

    def report_fields(self):
        """What the report says about the data (``train_examples``, ...)."""
        return {}

    def result_lines(self, report):
        """Lines printed after the metrics (baselines, sample predictions)."""
        return []
