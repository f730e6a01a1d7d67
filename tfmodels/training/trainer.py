"""The training loop shared by every run_* script.

Distributed steps under any tf.distribute strategy, several steps per call
(``steps_per_loop``, as Orbit does: one host sync per loop, not per step), optional
gradient accumulation (sparse embedding gradients stay sparse), float16 loss scaling,
XLA, checkpoints through
``tf.train.CheckpointManager`` (model, optimizer and, where tf.data allows, the
input iterator's position), resumption from the last checkpoint, TensorBoard
scalars, a progress line (with tokens/s where the loss counts ``tokens``), periodic
evaluation keeping the best checkpoint, and ``metrics.json`` at the end. Files are
written under temporary names and renamed.

A step whose loss or gradients are not finite changes nothing (the update is
skipped on every replica, as float16 loss scaling does); ``max_nonfinite_steps`` such
steps in a row stop the run with one line, and a checkpoint is never written from
non-finite weights.

SIGTERM and Ctrl-C save a checkpoint at the current step and stop (:class:`Preempted`).
Each step's random draws (dropout, sampling, SiFT noise) are keyed by ``seed`` and the
step (:mod:`tfmodels.training.noise`) and the input position is checkpointed, so a
resumed run repeats exactly what an uninterrupted run would have done.
"""

import functools
import json
import math
import os
import signal
import threading
import time

import tensorflow as tf
import tf_keras as keras

from tfmodels.atomic import atomic_write
from tfmodels.errors import Preempted, TrainingError
from tfmodels.training import best_checkpoint, noise
from tfmodels.training.run_dir import restore_checkpoint


def write_json(path, value):
    """Writes JSON atomically (temporary name, then rename)."""
    with atomic_write(path) as f:
        json.dump(value, f, indent=2, sort_keys=True, default=float)


def is_chief(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    return resolver.task_type == "chief" or (
        resolver.task_type == "worker"
        and resolver.task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict()
    )


def token_count(mask):
    """``{"tokens": the real tokens of a batch's 0/1 input mask}``: the metric a loss
    returns for the Trainer to sum (not average) and show as tokens/s."""
    return {"tokens": tf.reduce_sum(tf.cast(mask, tf.float32))}


def add_gradients(a, b):
    """``a + b``; two sparse (embedding) gradients are concatenated, not densified: the
    optimizer sums their duplicate rows when it applies them. A variable without a
    gradient (None) keeps the other micro-batch's."""
    if a is None or b is None:
        return b if a is None else a
    if isinstance(a, tf.IndexedSlices) and isinstance(b, tf.IndexedSlices):
        return tf.IndexedSlices(
            tf.concat([a.values, b.values], 0),
            tf.concat([a.indices, b.indices], 0),
            a.dense_shape,
        )
    return tf.convert_to_tensor(a) + tf.convert_to_tensor(b)


def _format_seconds(seconds):
    seconds = int(seconds)
    return (
        f"{seconds // 3600}h{seconds // 60 % 60:02d}m"
        if seconds >= 3600
        else f"{seconds // 60}m{seconds % 60:02d}s"
    )


class StopRequests:
    """While active (in the main thread), SIGTERM and Ctrl-C do not kill training: they
    set :attr:`signal`, and the loop saves a checkpoint at the step it is on and stops
    (as preemptible VMs and TPUs send SIGTERM before taking the machine). A second
    Ctrl-C interrupts at once."""

    _NAMES = {signal.SIGTERM: "SIGTERM", signal.SIGINT: "Ctrl-C"}

    def __init__(self):
        self.signal = None
        self._previous = {}

    def _request(self, signum, frame):
        self.signal = self._NAMES[signum]
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for signum in self._NAMES:
                self._previous[signum] = signal.signal(signum, self._request)
        return self

    def __exit__(self, *exc):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        return False


class Trainer:
    """Runs ``loss_fn`` steps on ``model`` with ``optimizer``.

    ``loss_fn(model, batch, training)`` returns ``(loss, {name: scalar})`` for one
    replica's batch; a metric named ``tokens`` (the batch's real tokens) is summed, not
    averaged, and shown as tokens/s. ``evaluate()`` (optional) returns a metrics dict
    whose ``main_metric`` decides which checkpoint is kept as the best one.
    ``steps_per_loop`` steps run in one call; loops end at every logging, checkpoint
    and evaluation step, so those happen where they would one step at a time.
    """

    @classmethod
    def from_experiment(
        cls, cfg, strategy, model_dir, model, optimizer, loss_fn, steps, **settings
    ):
        """A Trainer with an experiment's ``trainer`` section and train batch size;
        ``settings`` (jit_compile, loss_scale, evaluate, main_metric, ...) add or override."""
        t = cfg.trainer
        args = dict(
            accumulation_steps=t.accumulation_steps,
            checkpoint_every=t.checkpoint_every,
            max_checkpoints=t.max_checkpoints,
            log_every=t.log_every,
            steps_per_loop=t.steps_per_loop,
            eval_every=t.eval_every,
            global_batch_size=cfg.data.train_batch_size,
            max_nonfinite_steps=t.max_nonfinite_steps,
            seed=t.seed,
        )
        args.update(settings)
        return cls(strategy, model_dir, model, optimizer, loss_fn, steps, **args)

    def __init__(
        self,
        strategy,
        model_dir,
        model,
        optimizer,
        loss_fn,
        total_steps,
        accumulation_steps=1,
        checkpoint_every=500,
        max_checkpoints=3,
        log_every=10,
        steps_per_loop=1,
        jit_compile=False,
        loss_scale=False,
        evaluate=None,
        eval_every=None,
        main_metric=None,
        global_batch_size=None,
        log=None,
        max_nonfinite_steps=10,
        seed=0,
    ):
        self.strategy = strategy
        self.model_dir = model_dir
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.total_steps = total_steps
        self.accumulation_steps = accumulation_steps
        self.checkpoint_every = checkpoint_every
        self.log_every = log_every
        self.steps_per_loop = steps_per_loop
        self.jit_compile = jit_compile
        self.loss_scale = loss_scale
        self.evaluate = evaluate
        self.eval_every = eval_every or checkpoint_every
        self.main_metric = main_metric
        self.global_batch_size = global_batch_size
        self.max_nonfinite_steps = max_nonfinite_steps
        self.seed = seed  # of the step-keyed draws (:mod:`noise`)
        self.log = log or functools.partial(print, flush=True)
        self.chief = is_chief(strategy)
        self.history = []
        tf.io.gfile.makedirs(model_dir)
        with strategy.scope():
            # A dynamic loss scale skips an update whose gradients are not finite, on every
            # replica alike (a fixed one applies it). Without float16 the scale starts at 1
            # and never grows: it only halves at a skipped step, which float32 and
            # bfloat16 gradients, unscaled again, do not notice.
            no_growth = {} if loss_scale else {"initial_scale": 1.0, "dynamic_growth_steps": 2**30}
            self.optimizer = keras.mixed_precision.LossScaleOptimizer(optimizer, **no_growth)
            self.optimizer.build(model.trainable_variables)
        self._ckpt_dir = os.path.join(model_dir, "checkpoints")
        if not self.chief:  # other workers write their copy where nobody reads it
            self._ckpt_dir = os.path.join(
                model_dir, "worker_tmp", str(strategy.cluster_resolver.task_id)
            )
        self.max_checkpoints = max_checkpoints

    @property
    def step(self):
        return int(self.optimizer.iterations.numpy())

    def _gradients(self, batch):
        """Loss, metrics and (unscaled) gradients of one batch on one replica."""
        model, optimizer = self.model, self.optimizer
        with tf.GradientTape() as tape:
            loss, metrics = self.loss_fn(model, batch, training=True)
            scaled = loss / (self.strategy.num_replicas_in_sync * self.accumulation_steps)
            scaled = optimizer.get_scaled_loss(scaled)
        grads = optimizer.get_unscaled_gradients(tape.gradient(scaled, model.trainable_variables))
        return grads, loss, metrics

    def _replica_step(self, batches):
        gradients = self._gradients
        if self.jit_compile:  # XLA compiles the model's math; input and update stay outside
            gradients = self._jit_gradients
        grads_sum, losses, metrics = None, [], []
        for micro, batch in enumerate(batches):
            key = self.optimizer.iterations * len(batches) + micro
            with noise.keyed_by(self.seed, key):
                grads, loss, step_metrics = gradients(batch)
            grads_sum = grads if grads_sum is None else list(map(add_gradients, grads_sum, grads))
            losses.append(loss)
            metrics.append(step_metrics)
        self.optimizer.apply_gradients(zip(grads_sum, self.model.trainable_variables))
        combined = {"loss": tf.add_n(losses) / len(losses)}
        for k in metrics[0]:
            total = tf.add_n([tf.cast(m[k], tf.float32) for m in metrics])
            combined[k] = total if k == "tokens" else total / len(metrics)
        return combined

    def _make_loop(self, iterator):
        """``loop(n)``: ``n`` training steps in one call (a ``tf.while_loop`` around the
        step); returns each step's metrics, stacked [n], read by the host once."""
        # autograph=False: the step has no tensor-dependent Python control flow, and
        # converting the whole model's code was ~40% of a short fine-tune's wall time.
        if self.jit_compile:
            self._jit_gradients = tf.function(self._gradients, jit_compile=True, autograph=False)

        def step():
            batches = [next(iterator) for _ in range(self.accumulation_steps)]
            out = self.strategy.run(self._replica_step, args=(batches,))
            return {
                k: self.strategy.reduce(
                    tf.distribute.ReduceOp.SUM if k == "tokens" else tf.distribute.ReduceOp.MEAN,
                    v,
                    axis=None,
                )
                for k, v in out.items()
            }

        step = tf.function(step, autograph=False)
        keys = list(step.get_concrete_function().structured_outputs)  # traced once, here

        def loop(n):
            def body(i, arrays):
                out = step()
                return i + 1, [a.write(i, out[k]) for a, k in zip(arrays, keys)]

            arrays = [tf.TensorArray(tf.float32, size=n) for _ in keys]
            _, arrays = tf.while_loop(lambda i, _: i < n, body, (tf.constant(0), arrays))
            return {k: a.stack() for k, a in zip(keys, arrays)}

        return tf.function(loop, autograph=False)

    def _traces(self, loop):
        """How often the loop was traced: once, whatever the batch lengths (a dynamic
        length in one graph); XLA compiles each batch length it meets once more."""
        line = f"training loop traced {loop.experimental_get_tracing_count()} time(s)"
        if self.jit_compile:
            line += "; XLA compiles its step once per batch shape"
        return line

    def _loop_length(self):
        """Steps until the next logging, checkpoint, evaluation or the end, at most
        ``steps_per_loop``."""
        step = self.step
        every = [self.log_every, self.checkpoint_every] + ([self.eval_every] * bool(self.evaluate))
        ends = [step + e - step % e for e in every] + [self.total_steps]
        return max(1, min(min(ends) - step, self.steps_per_loop))

    def train(self, dataset):
        """Trains until ``total_steps``, resuming from the last checkpoint in ``model_dir``."""
        dist = self.strategy.experimental_distribute_dataset(dataset)
        iterator = iter(dist)
        checkpoint = tf.train.Checkpoint(model=self.model, optimizer=self.optimizer)
        try:  # the input position too, where the iterator is checkpointable
            tf.train.Checkpoint(iterator=iterator)
            checkpoint.iterator = iterator
        except (ValueError, TypeError):
            pass
        manager = tf.train.CheckpointManager(
            checkpoint, self._ckpt_dir, self.max_checkpoints, step_counter=self.optimizer.iterations
        )
        if manager.latest_checkpoint:
            latest = manager.latest_checkpoint
            # The model must fit the checkpoint exactly (a run of another model is refused,
            # not restored in part); the optimizer and input position follow it.
            restore_checkpoint(tf.train.Checkpoint(model=self.model), latest)
            checkpoint.restore(latest).expect_partial()
            self.log(f"resumed from {latest} at step {self.step}")
            if self.step >= self.total_steps:
                self.log(
                    f"the run in {self.model_dir} already reached step {self.step} of "
                    f"{self.total_steps}: nothing to train (raise trainer.train_steps to "
                    "train on, or --overwrite to start afresh)"
                )
        self._load_history()
        writer = tf.summary.create_noop_writer()
        if self.chief:
            writer = tf.summary.create_file_writer(os.path.join(self.model_dir, "train"))
        loop = self._make_loop(iterator)
        start_step, started = self.step, time.time()
        window_start, window_step, running = time.time(), self.step, {}
        bad_steps = saved = 0
        tokens = 0.0
        with StopRequests() as stop:
            while self.step < self.total_steps:
                first = self.step + 1
                out = {k: v.numpy() for k, v in loop(tf.constant(self._loop_length())).items()}
                step = self.step
                for k, values in out.items():
                    running.setdefault(k, []).extend(float(v) for v in values)
                tokens += float(out["tokens"].sum()) if "tokens" in out else 0.0
                for offset, loss in enumerate(out["loss"]):
                    bad_steps = 0 if math.isfinite(loss) else bad_steps + 1
                    if bad_steps:
                        self._skipped(first + offset, float(loss), bad_steps)
                if step % self.log_every == 0 or step == self.total_steps:
                    self._log_window(writer, step, running, time.time() - window_start, window_step)
                    window_start, window_step, running = time.time(), step, {}
                if step % self.checkpoint_every == 0 or step == self.total_steps or stop.signal:
                    manager, saved = self._save(manager, checkpoint, step), step
                    if self.chief:
                        self._save_history()
                if self.evaluate and (step % self.eval_every == 0 or step == self.total_steps):
                    self._evaluate(
                        step, writer, manager.latest_checkpoint if saved == step else None
                    )
                if window_step == step:  # the next window's rate leaves out saving, evaluating
                    window_start = time.time()
                if stop.signal and step < self.total_steps:
                    raise Preempted(
                        f"stopped by {stop.signal} at step {step} of {self.total_steps}; the "
                        f"checkpoint of step {saved} is in {self._ckpt_dir} and running the "
                        "same command again resumes from it"
                    )
        writer.flush()
        seconds = time.time() - started
        self.log(self._traces(loop))
        steps_done = self.step - start_step
        summary = {
            "steps": self.step,
            "steps_this_run": steps_done,
            "seconds": seconds,
            "steps_per_second": steps_done / max(seconds, 1e-9),
            **({"tokens_per_second": tokens / max(seconds, 1e-9)} if tokens else {}),
            "train": self.history[-1] if self.history else {},
        }
        if self.chief:
            self._save_history()
        return summary

    def _log_window(self, writer, step, running, elapsed, window_step):
        """The progress line and TensorBoard scalars of the steps since the last one."""
        rate = (step - window_step) / max(elapsed, 1e-9)
        tokens = running.pop("tokens", None)
        tokens_rate = sum(tokens or ()) / max(elapsed, 1e-9)
        means = {k: sum(v) / len(v) for k, v in running.items()}
        lr = self.optimizer.learning_rate
        lr = float(tf.convert_to_tensor(lr(step) if callable(lr) else lr))
        examples = rate * (self.global_batch_size or 0) * self.accumulation_steps
        with writer.as_default(step=step):
            for k, v in means.items():
                tf.summary.scalar(k, v)
            tf.summary.scalar("learning_rate", lr)
            tf.summary.scalar("examples_per_second", examples)
            if tokens:
                tf.summary.scalar("tokens_per_second", tokens_rate)
        eta = (self.total_steps - step) / max(rate, 1e-9)
        shown = " ".join(f"{k} {v:.4f}" for k, v in means.items())
        speed = f"{rate:.2f} steps/s"
        if tokens:
            speed += f" {tokens_rate:,.0f} tokens/s"
        self.log(
            f"step {step}/{self.total_steps} {shown} lr {lr:.2e} {speed} ETA {_format_seconds(eta)}"
        )
        self.history.append({"step": step, "lr": lr, **means})

    def _skipped(self, step, loss, in_a_row):
        self.log(f"step {step}: loss {loss}; the update was skipped")
        if in_a_row >= self.max_nonfinite_steps:
            raise TrainingError(
                f"step {step}: the loss was not finite for {in_a_row} steps in a row, so "
                f"training stopped; the checkpoints in {self._ckpt_dir} hold finite weights. "
                "Lower optimizer.lr, check the data, or use float32"
            )

    def _save(self, manager, checkpoint, step):
        """Saves; if the input pipeline cannot be serialized (stateful ops such as
        random masking), saves without it from then on: a resumed run then restarts
        the input stream instead of continuing it."""
        weights = [v for v in self.model.weights if v.dtype.is_floating]
        if not bool(tf.reduce_all([tf.reduce_all(tf.math.is_finite(v)) for v in weights])):
            bad = [v.name for v in weights if not bool(tf.reduce_all(tf.math.is_finite(v)))]
            raise TrainingError(
                f"step {step}: weights are not finite ({', '.join(bad[:3])}); "
                f"no checkpoint written, the earlier ones in {self._ckpt_dir} "
                "are kept"
            )
        try:
            manager.save(checkpoint_number=step)
            return manager
        except tf.errors.FailedPreconditionError:
            if not hasattr(checkpoint, "iterator"):
                raise
            self.log(
                "the input pipeline has stateful ops (e.g. random masking), so its "
                "position is not checkpointed; checkpoints keep model and optimizer"
            )
            checkpoint = tf.train.Checkpoint(model=self.model, optimizer=self.optimizer)
            manager = tf.train.CheckpointManager(
                checkpoint,
                self._ckpt_dir,
                self.max_checkpoints,
                step_counter=self.optimizer.iterations,
            )
            manager.save(checkpoint_number=step)
            return manager

    def _evaluate(self, step, writer, checkpoint=None):
        """Evaluates; a new best main metric keeps these weights in ``best/``
        (``checkpoint``: this step's training checkpoint, linked there if given)."""
        with self.strategy.scope():  # evaluation shares its batches out over the replicas
            metrics = self.evaluate()
        self.log(
            f"eval at step {step}: "
            + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if isinstance(v, float))
        )
        with writer.as_default(step=step):
            for k, v in metrics.items():
                if isinstance(v, float):
                    tf.summary.scalar(f"eval/{k}", v)
        self.history.append(
            {"step": step, **{f"eval_{k}": v for k, v in metrics.items() if isinstance(v, float)}}
        )
        if not self.chief:
            return
        best_dir = os.path.join(self.model_dir, "best")
        best_file = os.path.join(best_dir, "best.json")
        best = None
        if tf.io.gfile.exists(best_file):
            with tf.io.gfile.GFile(best_file) as f:
                best = json.load(f)
        value = metrics.get(self.main_metric)
        if value is not None and (best is None or value > best["value"]):
            best_checkpoint.keep(self.model, best_dir, step, checkpoint)
            write_json(
                best_file,
                {"metric": self.main_metric, "value": value, "step": step, "metrics": metrics},
            )
            self.log(f"new best {self.main_metric} {value:.4f} at step {step}")

    def _history_path(self):
        return os.path.join(self.model_dir, "history.json")

    def _load_history(self):
        if tf.io.gfile.exists(self._history_path()):
            with tf.io.gfile.GFile(self._history_path()) as f:
                self.history = [h for h in json.load(f) if h["step"] <= self.step]

    def _save_history(self):
        write_json(self._history_path(), self.history)
