"""MT-DNN runs (Liu et al. 2019, section 4): what run_multitask.py runs.

Stage 1 trains the shared encoder and every task's head on mini-batches of all
tasks mixed by :mod:`tfmodels.tasks.task_sampling` (checkpoints and resume under
``model_dir``), then evaluates every task on its dev set with its GLUE metric.
Stage 2 (``task.finetune_steps``) fine-tunes, for each task, the stage-1
encoder + that task's head on the task alone (under ``model_dir/finetune/<task>``).
Outputs: ``metrics.json`` (``eval``: ``<task>/<split>/<metric>`` of stage 1;
``finetune``: per task, stage 2), ``hf_model/encoder`` (the shared encoder),
``hf_model/<task>`` (and ``finetune/<task>/hf_model``): each task's encoder + head as
the family's ``…ForSequenceClassification``.
"""

import dataclasses
import os
from typing import List, Optional

import numpy as np
import tensorflow as tf

from tfmodels.errors import ConfigError
from tfmodels.strict_config import bounded, check_choice
from tfmodels.tasks import batching, classification, multitask
from tfmodels.tasks.fine_tuning import build_model_and_preprocessor
from tfmodels.tasks.glue import get_task
from tfmodels.tasks.metrics import classification_metrics, glue_average
from tfmodels.tasks.task_sampling import SAMPLINGS, mix_tasks
from tfmodels.training.driver import save_with_tokenizer
from tfmodels.training.experiment import TaskConfig
from tfmodels.training.task import Task


@dataclasses.dataclass
class TaskEntry:
    name: str = ""  # a GLUE task: cola, sst2, mrpc, stsb, qqp, mnli, qnli, ...
    data_dir: Optional[str] = None  # default: multitask.glue_dir/<GLUE folder>
    head: Optional[str] = None  # classification | regression | ranking; default by task


@dataclasses.dataclass
class MultitaskConfig(TaskConfig):
    """The GLUE tasks trained together; ``model`` is the shared encoder."""

    type: str = "multitask"
    tasks: List[TaskEntry] = dataclasses.field(default_factory=list)
    glue_dir: Optional[str] = None  # the GLUE root, for tasks without data_dir
    sampling: str = "epochs"  # epochs (Algorithm 1) | temperature (p_t ∝ n_t^(1/T))
    # sampling=temperature: 1 proportional, .inf uniform.
    temperature: float = bounded(1.0, "(0, inf]")
    ranking_gamma: float = bounded(1.0, "(0, inf)")  # γ of the ranking softmax (section 3.1)
    # Stage 2 steps per task; 0/None: no stage 2.
    finetune_steps: Optional[int] = bounded(None, "[0, inf)")
    finetune_lr: Optional[float] = bounded(None, "[0, inf)")  # default: optimizer.lr


@dataclasses.dataclass
class TaskData:
    name: str
    task: object  # glue.Task
    data_dir: str
    spec: multitask.HeadSpec
    train: object = None  # glue.Examples
    dev: list = dataclasses.field(default_factory=list)  # [(split, glue.Examples)]


def resolve_tasks(section):
    """Checks ``task.tasks``: known GLUE tasks, existing folders, fitting heads."""
    if not section.tasks:
        raise ConfigError("task.tasks: list at least one task (name + data_dir)")
    check_choice("task.sampling", section.sampling, SAMPLINGS, "sampling")
    tasks = []
    for i, entry in enumerate(section.tasks):
        key = f"task.tasks[{i}]"
        if not entry.name or entry.name.lower() == "tsv":
            raise ConfigError(f"{key}.name: give a GLUE task name (tsv is not supported here)")
        task = get_task(entry.name)
        if task.name in [t.name for t in tasks]:
            raise ConfigError(f"{key}.name: task {task.name} is listed twice")
        data_dir = entry.data_dir or (
            os.path.join(section.glue_dir, task.folder) if section.glue_dir else None
        )
        if not data_dir or not os.path.isdir(data_dir):
            raise ConfigError(f"{key}.data_dir: folder not found: {data_dir}")
        spec = multitask.head_spec_for_task(task, entry.head)
        tasks.append(TaskData(task.name, task, data_dir, spec))
    return tasks


def _targets(task_id, labels, group):
    return {
        "task": tf.fill(tf.shape(labels), tf.constant(task_id, tf.int32)),
        "labels": tf.cast(labels, tf.float32),
        "group": tf.cast(group, tf.int32),
    }


def task_dataset(data, task_id, preprocessor, batch_size, seed=0, shuffle_buffer=10000):
    """Endless ``(features, {task, labels, group})`` training batches of one task, each
    cut to its longest text.

    A ranking task is shuffled by question, so a question's candidates stay together
    (its batches are cut, not length-bucketed: sorting would split the questions).
    """
    examples = data.train
    if data.spec.kind != "ranking":
        ds = classification.make_dataset(
            examples,
            preprocessor,
            batch_size,
            training=True,
            seed=seed,
            shuffle_buffer=shuffle_buffer,
        )
        return ds.map(lambda f, y: (f, _targets(task_id, y, tf.zeros_like(y, tf.int32))))
    groups = multitask.question_groups(examples.text_a)
    order = np.argsort(groups, kind="stable")
    rows = tf.RaggedTensor.from_value_rowids(order, groups[order])
    texts = (examples.text_a,) if examples.text_b is None else (examples.text_a, examples.text_b)
    table = (
        tuple(tf.constant(t) for t in texts),
        tf.constant(examples.labels),
        tf.constant(groups),
    )
    ds = (
        tf.data.Dataset.from_tensor_slices(rows)
        .shuffle(int(groups.max()) + 1, seed=seed, reshuffle_each_iteration=True)
        .repeat()
        .unbatch()
    )
    ds = ds.map(lambda i: tf.nest.map_structure(lambda t: tf.gather(t, i), table))
    ds = classification.tokenize_batches(ds.batch(batch_size, drop_remainder=True), preprocessor)
    return ds.map(lambda f, y, g: (classification.cut_features(f), _targets(task_id, y, g)))


def dev_sets(data, preprocessor, batch_size):
    """``[(split, examples, batches)]`` of a task's dev files, tokenized once into batches
    of similar length (:class:`classification.OrderedBatches`) and reused by every
    evaluation."""
    return [
        (split, examples, classification.OrderedBatches(examples, preprocessor, batch_size))
        for split, examples in data.dev or classification.read_dev_files(data.task, data.data_dir)
    ]


def evaluate_task(data, model, sets):
    """``{split/metric}`` of one task with its GLUE metric (``model``: a task model with
    ``logits``); a ranking head is judged per question (:func:`ranking_predictions`)."""
    results = {}
    for split, examples, batches in sets:
        logits = batches.logits(model)
        if data.spec.kind == "ranking":
            predictions = multitask.ranking_predictions(
                logits, multitask.question_groups(examples.text_a), data.spec.positive
            )
        else:
            predictions = classification.predictions_from_logits(logits)
        metrics = classification_metrics(examples.labels, predictions, data.task.metric)
        results.update({f"{split}/{k}": v for k, v in metrics.items()})
    return results


def _task_score(results):
    scores = [v for k, v in results.items() if k.endswith("/score")]
    return float(np.mean(scores)) if scores else 0.0


def evaluate_all(tasks, views, sets):
    """``{task/split/metric}`` for every task and ``average_score`` (the GLUE average)."""
    flat, scores = {}, {}
    for data in tasks:
        results = evaluate_task(data, views[data.name], sets[data.name])
        flat.update({f"{data.name}/{k}": v for k, v in results.items()})
        scores[data.name] = _task_score(results)
    flat["average_score"] = glue_average(scores)
    return flat


def _save_task_models(model, tasks, preprocessor, folder_of):
    for data in tasks:
        save_with_tokenizer(
            multitask.task_classifier(model, data.name, data.task.labels),
            folder_of(data.name),
            preprocessor,
        )


class MultitaskTask(Task):
    """MT-DNN: one shared encoder, a head per GLUE task, trained on mixed batches."""

    Config = MultitaskConfig
    modes = ("train_and_eval",)
    main_metric = "average_score"
    title = "multitask"

    def prepare(self, mode):
        super().prepare(mode)
        self.tasks = resolve_tasks(self.section)
        for data in self.tasks:  # every file read and checked before a model is built
            data.train = data.task.read(data.data_dir, data.task.train_file)
            data.dev = classification.read_dev_files(data.task, data.data_dir)

    def build_model(self):
        encoder, self.preprocessor = build_model_and_preprocessor(self.cfg, "backbone")
        model = multitask.MultiTaskModel(encoder, {d.name: d.spec for d in self.tasks})
        self.views = {d.name: model.task_model(d.name) for d in self.tasks}
        self.dev_sets = {
            d.name: dev_sets(d, self.preprocessor, self.cfg.data.eval_batch_size)
            for d in self.tasks
        }
        return model

    def task_datasets(self):
        """Each task's training stream, built afresh: a stream's reshuffles draw from its
        own seed generator, so one that an earlier run read (read-ahead included) would
        shuffle differently from run to run."""
        batch, seed = self.cfg.data.train_batch_size, self.cfg.trainer.seed
        return [
            task_dataset(
                d,
                i,
                self.preprocessor,
                batch,
                seed=seed + i,
                shuffle_buffer=self.cfg.data.shuffle_buffer,
            )
            for i, d in enumerate(self.tasks)
        ]

    def train_dataset(self):
        mt, batch = self.section, self.cfg.data.train_batch_size
        sizes = [len(d.train) for d in self.tasks]
        mixed = mix_tasks(
            self.task_datasets(), sizes, batch, mt.sampling, mt.temperature, self.cfg.trainer.seed
        )
        return mixed, sum(sizes)

    def train_steps(self, examples):
        """Epochs count each task's batches (a last short batch is a batch of its own)."""
        batch, trainer = self.cfg.data.train_batch_size, self.cfg.trainer
        return trainer.train_steps or max(
            1,
            int(
                trainer.epochs
                * sum(-(-len(d.train) // batch) for d in self.tasks)
                / trainer.accumulation_steps
            ),
        )

    def describe(self, steps):
        mt = self.section
        tasks = ", ".join(f"{d.name} ({len(d.train)}, {d.spec.kind})" for d in self.tasks)
        temperature = f" T={mt.temperature}" if mt.sampling == "temperature" else ""
        return (
            f"multi-task training on {tasks} for {steps} steps, batch "
            f"{self.cfg.data.train_batch_size}, sampling {mt.sampling}{temperature}, "
            f"{batching.describe(self.cfg.model.seq_length)}"
        )

    def loss(self):
        return multitask.multitask_loss_fn(
            {d.name: d.spec for d in self.tasks}, self.section.ranking_gamma
        )

    def evaluate(self, model):
        return evaluate_all(self.tasks, self.views, self.dev_sets)

    def save(self, model, model_dir):
        hf_dir = os.path.join(model_dir, "hf_model")
        save_with_tokenizer(model.encoder, os.path.join(hf_dir, "encoder"), self.preprocessor)
        _save_task_models(model, self.tasks, self.preprocessor, lambda t: os.path.join(hf_dir, t))

    def report_fields(self):
        return {
            "tasks": {
                d.name: {
                    "train_examples": len(d.train),
                    "head": d.spec.kind,
                    "data_dir": d.data_dir,
                }
                for d in self.tasks
            }
        }

    def after_training(self, model, run):
        """Stage 2: per task, from the stage-1 weights, that task alone."""
        mt = self.section
        if not mt.finetune_steps:
            return {}
        stage1 = model.get_weights()
        optimizer = dataclasses.replace(
            self.cfg.optimizer, lr=mt.finetune_lr or self.cfg.optimizer.lr
        )
        out = {}
        for data, dataset in zip(self.tasks, self.task_datasets()):
            model.set_weights(stage1)
            task_dir = os.path.join(run.model_dir, "finetune", data.name)
            view = self.views[data.name]
            run.log(
                f"fine-tuning {data.name} for {mt.finetune_steps} steps from the multi-task model"
            )

            def evaluate(data=data, view=view):
                results = evaluate_task(data, view, self.dev_sets[data.name])
                return {**results, "average_score": _task_score(results)}

            summary = run.fit(
                view,
                multitask.single_task_loss_fn(data.spec, mt.ranking_gamma),
                dataset,
                mt.finetune_steps,
                model_dir=task_dir,
                evaluate=evaluate,
                main_metric="average_score",
                optimizer_section=optimizer,
            )
            restored = self.restore(view, task_dir)
            results = evaluate()
            out[data.name] = {
                "eval": {k: v for k, v in results.items() if k != "average_score"},
                "score": results["average_score"],
                "checkpoint": restored,
                "steps": summary["steps"],
                "seconds": summary["seconds"],
            }
            if run.chief:
                _save_task_models(
                    model,
                    [data],
                    self.preprocessor,
                    lambda t, d=task_dir: os.path.join(d, "hf_model"),
                )
        model.set_weights(stage1)
        return {
            "finetune": out,
            "finetune_average_score": glue_average({t: r["score"] for t, r in out.items()}),
        }

    def result_lines(self, report):
        lines = []
        for name, row in report.get("finetune", {}).items():
            shown = ", ".join(
                f"{k} {v:.4f}" for k, v in row["eval"].items() if isinstance(v, float)
            )
            lines.append(f"fine-tuned  {name:6s} {shown}")
        if "finetune" in report:
            lines.append(
                f"average score: multi-task {report['eval']['average_score']:.4f}, "
                f"fine-tuned {report['finetune_average_score']:.4f}"
            )
        return lines
