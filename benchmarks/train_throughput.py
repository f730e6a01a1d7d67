"""Classification training throughput through our Trainer, against Model Garden and HF torch.

One BERT configuration (L4 / H256 / A4 / I1024, vocabulary 30522, seq 128, batch 32),
one fixed batch of random ids repeated by tf.data (the same arrays on every side), AdamW
(lr 1e-4, weight decay 0.01, gradient clipping at global norm 1.0) everywhere (ours the
project's fused AdamW, the TF peer Keras's):

- ``tfmodels``: :class:`tfmodels.models.bert.BertForSequenceClassification` trained by
  :class:`tfmodels.training.trainer.Trainer` -- the loop every run_* script uses (loss
  scaling wrapper, finite checks, metrics, the progress line, checkpoints) -- with
  :func:`tfmodels.tasks.classification.loss_fn`, under ``tf.distribute.get_strategy()``,
  in a temporary model_dir. Where the Trainer has ``steps_per_loop`` it gets the
  experiment default (``trainer.steps_per_loop``) unless ``--steps_per_loop`` says otherwise.
  Like every classifier of ours, its last block computes the [CLS] row alone.
- ``model_garden``: TF Model Garden's own way of training: ``SentencePredictionTask``
  (BertEncoderV2 + BertClassifier on the encoder's pooler, as the task builds it) driven
  by ``official.core.base_trainer.Trainer``, i.e. Orbit's ``StandardTrainer`` with its
  default ``tf.while_loop`` over the steps of one ``train(num_steps)`` call and the task's
  ``train_step`` (tape, loss, ``apply_gradients``, metrics). Model Garden's task modules
  import tensorflow_datasets, tensorflow_hub and sentencepiece, which ``make benchmark``
  does not install (tf-models-official goes in --no-deps) and this benchmark never calls;
  empty modules stand in for the missing ones during that import only. If the import
  still fails, the peer is today's hand-written Keras step (BertEncoderV2 + pooler
  dropout + Dense in a ``tf.function``) and the table says so.
  Its encoder computes every row of the last block (the task's default);
  ``--model_garden_output_range 1`` adds a row for its encoder computing [CLS] alone.
- ``hf_torch``: transformers' ``BertForSequenceClassification`` with the same
  configuration, ``torch.optim.AdamW`` and ``clip_grad_norm_``, in a child process
  (TF and torch never share one) with ``torch.set_num_threads(os.cpu_count())``
  (``--torch_threads``); skipped with a printed line where torch or transformers is not
  importable. torch's OpenMP threads slow down several times when another process holds
  one of the cores (measured: 4.9 s/step with 2 threads against 1.3 s/step with 1, while
  another job ran on this 2-core machine), TensorFlow's thread pool far less, so the load
  average is printed before and after the run: read the torch rows of a loaded run as a
  lower bound.

Precisions: float32, and where /proc/cpuinfo has avx512_bf16 or amx_bf16 also bfloat16:
``keras.mixed_precision.set_global_policy("mixed_bfloat16")`` for both TF sides and
``torch.autocast("cpu", dtype=torch.bfloat16)`` for torch (float32 weights everywhere).

Timing. Ours is one ``Trainer.train`` call of ``steps x (rounds + 1)`` steps with
``log_every = steps`` (checkpoint_every beyond the run): the Trainer's ``log`` is a
callable that notes the time of each progress line, so each round of ours is one of the
Trainer's own progress windows -- everything a step costs in its loop (host syncs per
step or per ``steps_per_loop`` loop, the loss-scale wrapper and finite checks, metric
reads, the progress line's summaries) is in, while the trace of the step function (in
the first window, which is warm-up) and the checkpoint the Trainer always saves at its
last step (after the last line) are not: a long run pays those once. Inside that log
call, after each timed window, the peers run their round -- so the rounds of all sides
are interleaved and machine noise hits them alike -- and the Trainer's next window
starts when the call returns. The median round of each side is reported.

- Model Garden: one ``trainer.train(steps)`` call per round after warm-up calls (its loop
  function is traced once and kept), wall time including its metric reads at the end.
- torch: ``--steps`` steps per round after warm-up steps, timed in the child.

Examples/s = steps/s x 32; "ours/side" is the median over rounds of ours' steps/s over
the side's in the same round (above 1: ours is faster). The precision column is the
Keras policy; torch runs float32 or bf16 autocast to match.

    python benchmarks/train_throughput.py [--steps 8] [--rounds 5] [--precisions auto]
        [--steps_per_loop N] [--skip_torch] [--torch_threads N]   # ~8 min on 2 cores
        [--model_garden_output_range 1]   # also Model Garden computing [CLS] only at the end

mixed_bfloat16 is emulated on CPUs without bf16 instructions and slow there, so "auto"
runs it only where the CPU has them.
"""

import argparse
import atexit
import contextlib
import importlib.util
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import types
import warnings

import numpy as np

L, H, A, FFN, SEQ, BATCH, VOCAB = 4, 256, 4, 1024, 128, 32, 30522
BF16_FLAGS = ("avx512_bf16", "amx_bf16")
LR, WEIGHT_DECAY, CLIPNORM = 1e-4, 0.01, 1.0
OURS = "tfmodels (Trainer)"


def temp_dir(prefix):
    """A temporary folder, removed when the process exits (checkpoints are large)."""
    path = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, path, True)
    return path


def random_batch():
    """The one batch every side trains on (numpy): ids, mask, segments, labels."""
    rng = np.random.default_rng(0)
    ids = rng.integers(1, VOCAB, size=(BATCH, SEQ)).astype(np.int32)
    labels = rng.integers(0, 2, size=BATCH).astype(np.int32)
    return ids, np.ones_like(ids), np.zeros_like(ids), labels


def cpu_info():
    """(model name, the CPU's flags) from /proc/cpuinfo; ("unknown", set()) elsewhere."""
    name, flags = "unknown", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and name == "unknown":
                    name = value.strip()
                elif key.strip() == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    return name, flags


def load_average():
    """The 1/5/15-minute load averages: other processes slow every side, and torch's
    OpenMP threads far more than TensorFlow's when they outnumber the free cores."""
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def print_machine():
    """The CPU model, its bf16-related flags, and the load before the run."""
    name, flags = cpu_info()
    present = [f for f in ("avx512f", *BF16_FLAGS, "amx_tile") if f in flags]
    print(f"CPU: {name}, {os.cpu_count()} logical CPUs; flags: {' '.join(present) or 'none'}")
    print(f"load average at the start: {load_average()}")


# --- the torch peer (a child process: no TensorFlow is imported in it) -------------------


def torch_worker():
    """Answers JSON requests on stdin, ``{"precision": "float32"|"bfloat16", "steps": N,
    "warmup": W}``, with ``{"seconds": time of the N steps}``, one model per precision."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["USE_TF"] = "0"  # else transformers loads TensorFlow into this process too
    try:
        import torch
        import transformers
    except ImportError as e:
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}), flush=True)
        return
    torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else os.cpu_count())
    ids, mask, segments, labels = (torch.from_numpy(a).long() for a in random_batch())
    config = transformers.BertConfig(
        vocab_size=VOCAB,
        hidden_size=H,
        num_hidden_layers=L,
        num_attention_heads=A,
        intermediate_size=FFN,
        max_position_embeddings=512,
        type_vocab_size=2,
        num_labels=2,
    )
    print(
        json.dumps(
            {
                "torch": torch.__version__,
                "transformers": transformers.__version__,
                "threads": torch.get_num_threads(),
            }
        ),
        flush=True,
    )
    runs = {}
    for line in sys.stdin:
        request = json.loads(line)
        precision = request["precision"]
        if precision not in runs:
            torch.manual_seed(0)
            model = transformers.BertForSequenceClassification(config).train()
            optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
            runs[precision] = model, optimizer
        model, optimizer = runs[precision]
        bf16 = precision == "bfloat16"

        def step():
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = model(
                    input_ids=ids, attention_mask=mask, token_type_ids=segments, labels=labels
                ).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), CLIPNORM)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            return loss

        for _ in range(request.get("warmup", 0)):
            step()
        started = time.perf_counter()
        for _ in range(request["steps"]):
            loss = step()
        loss = loss.detach().item()
        print(json.dumps({"seconds": time.perf_counter() - started, "loss": loss}), flush=True)


if __name__ == "__main__" and sys.argv[1:2] == ["--torch-worker"]:
    torch_worker()
    sys.exit(0)

os.environ["TF_USE_LEGACY_KERAS"] = "1"  # as tfmodels sets it, before TensorFlow loads
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

from tfmodels.models import bert  # noqa: E402
from tfmodels.tasks import classification  # noqa: E402
from tfmodels.training.fused_adamw import FusedAdamW  # noqa: E402
from tfmodels.training.trainer import Trainer  # noqa: E402


def optimizer(cls=keras.optimizers.AdamW):
    """Keras AdamW for the peers; ours gets the project's fused one (what its scripts use)."""
    return cls(learning_rate=LR, weight_decay=WEIGHT_DECAY, global_clipnorm=CLIPNORM)


def trainer_options(steps_per_loop):
    """``steps_per_loop`` for the Trainer where it has the argument (the experiment
    default unless given); {} where it does not. Returns (kwargs, description)."""
    import inspect

    if "steps_per_loop" not in inspect.signature(Trainer).parameters:
        return {}, "Trainer without steps_per_loop (one tf.function call per step)"
    if steps_per_loop is None:
        from tfmodels.training.experiment import TrainerSection

        steps_per_loop = getattr(TrainerSection(), "steps_per_loop", 1)
    return {"steps_per_loop": steps_per_loop}, f"Trainer steps_per_loop={steps_per_loop}"


class WindowTimer:
    """A Trainer ``log`` callable that times the Trainer's own progress windows.

    At each progress line (``step k/total ... steps/s``) it records steps / seconds since
    the previous line returned, then calls ``between(windows timed so far)`` -- the peers'
    turn, inside the log call, so outside every window of ours. Other lines are kept in
    ``lines``.
    """

    def __init__(self, between):
        self.between, self.rates, self.lines = between, [], []
        self._last = None

    def __call__(self, line):
        now = time.perf_counter()
        match = re.match(r"step (\d+)/\d+ ", line)
        if not match or "steps/s" not in line:
            self.lines.append(line)
            return
        step = int(match.group(1))
        if self._last is not None:
            self.rates.append((step - self._last[0]) / (now - self._last[1]))
        self.between(len(self.rates))
        self._last = step, time.perf_counter()


def train_in_windows(trainer, dataset, steps, rounds, between):
    """One ``trainer.train(dataset)`` call of ``steps * (rounds + 1)`` steps with a progress
    line every ``steps``: the first window (the trace) is warm-up, the next ``rounds`` are
    timed; ``between(i)`` runs after window i (0: after the warm-up). Returns steps/s of
    the timed windows."""
    timer = WindowTimer(between)
    trainer.log, trainer.log_every = timer, steps
    trainer.checkpoint_every = 10**9  # only the one at the last step, after the last window
    trainer.total_steps = trainer.step + steps * (rounds + 1)
    trainer.train(dataset)
    if len(timer.rates) != rounds:
        raise RuntimeError(f"expected {rounds} progress windows, got: {timer.lines}")
    return timer.rates


def ours(arrays, options):
    """(Trainer of BertForSequenceClassification, its dataset)."""
    ids, mask, segments, labels = arrays
    features = {"input_ids": ids, "input_mask": mask, "segment_ids": segments}
    dataset = tf.data.Dataset.from_tensors((features, labels)).repeat()
    config = bert.Config(
        vocab_size=VOCAB, hidden_size=H, num_layers=L, num_heads=A, intermediate_size=FFN
    )
    model = bert.BertForSequenceClassification(config, num_labels=2)
    model({k: tf.constant(v) for k, v in features.items()}, training=False)
    trainer = Trainer(
        tf.distribute.get_strategy(),
        temp_dir("train_throughput_"),
        model,
        optimizer(FusedAdamW),
        classification.loss_fn,
        1,
        global_batch_size=BATCH,
        **options,
    )
    return trainer, dataset


@contextlib.contextmanager
def missing_modules_stubbed(names):
    """Empty modules for the ``names`` that are not installed, during the ``with`` only."""
    added = [n for n in names if n not in sys.modules and importlib.util.find_spec(n) is None]
    for n in added:
        sys.modules[n] = types.ModuleType(n)
    try:
        yield added
    finally:
        for n in added:
            sys.modules.pop(n, None)


class ModelGardenOrbit:
    """SentencePredictionTask + base_trainer.Trainer (Orbit), one ``train(n)`` call timed.

    ``output_range`` (None: the task's default, the whole sequence) is the encoder's
    option to compute the last block at the first positions only."""

    def __init__(self, arrays, warmup, output_range=None):
        self.name = "model_garden (Orbit Trainer)"
        if output_range is not None:
            self.name = f"model_garden (output_range={output_range})"
        # The task's model ignores the batch's label_ids input, and says so at every trace.
        warnings.filterwarnings("ignore", message="Input dict contained keys")
        with missing_modules_stubbed(("tensorflow_datasets", "tensorflow_hub", "sentencepiece")):
            from official.core import base_trainer
            from official.core import config_definitions as cfg
            from official.nlp.configs import encoders
            from official.nlp.tasks import sentence_prediction

        ids, mask, segments, labels = arrays
        task_config = sentence_prediction.SentencePredictionConfig(
            model=sentence_prediction.ModelConfig(
                num_classes=2,
                use_encoder_pooler=True,  # the pooler + dropout + Dense, as ours and HF's
                encoder=encoders.EncoderConfig(
                    type="bert_v2",
                    bert_v2=encoders.BertEncoderConfig(
                        vocab_size=VOCAB,
                        hidden_size=H,
                        num_layers=L,
                        num_attention_heads=A,
                        intermediate_size=FFN,
                        max_position_embeddings=512,
                        type_vocab_size=2,
                        output_range=output_range,
                    ),
                ),
            ),
            train_data=cfg.DataConfig(global_batch_size=BATCH),
        )
        task = sentence_prediction.SentencePredictionTask(task_config)
        batch = {
            "input_word_ids": ids,
            "input_mask": mask,
            "input_type_ids": segments,
            "label_ids": labels,
        }
        dataset = tf.data.Dataset.from_tensors(batch).repeat()
        self.trainer = base_trainer.Trainer(
            cfg.ExperimentConfig(task=task_config),
            task,
            task.build_model(),
            optimizer(),
            train=True,
            evaluate=False,
            train_dataset=dataset,
        )
        self.steps_per_second(warmup)

    def steps_per_second(self, steps):
        started = time.perf_counter()
        logs = self.trainer.train(tf.constant(steps, tf.int32))
        float(logs["training_loss"])
        return steps / (time.perf_counter() - started)


class ModelGardenKeras:
    """Fallback peer: BertEncoderV2 + pooler dropout + Dense in a hand-written step."""

    name = "model_garden (Keras step)"

    def __init__(self, arrays, warmup):
        from official.nlp.modeling.networks import BertEncoderV2

        ids, mask, segments, labels = arrays
        encoder = BertEncoderV2(
            vocab_size=VOCAB,
            hidden_size=H,
            num_layers=L,
            num_attention_heads=A,
            inner_dim=FFN,
            max_sequence_length=512,
            type_vocab_size=2,
        )
        head, dropout = keras.layers.Dense(2), keras.layers.Dropout(0.1)
        features = {"input_word_ids": ids, "input_mask": mask, "input_type_ids": segments}
        self.iterator = iter(tf.data.Dataset.from_tensors((features, labels)).repeat())
        opt = optimizer()

        def logits(f, training):
            pooled = encoder(f, training=training)["pooled_output"]
            return tf.cast(head(dropout(pooled, training=training)), tf.float32)

        logits({k: tf.constant(v) for k, v in features.items()}, False)
        variables = encoder.trainable_variables + head.trainable_variables

        @tf.function
        def step(iterator):
            f, y = next(iterator)
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(
                    keras.losses.sparse_categorical_crossentropy(
                        y, logits(f, True), from_logits=True
                    )
                )
            opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
            return loss

        self.step = step
        self.steps_per_second(warmup)

    def steps_per_second(self, steps):
        started = time.perf_counter()
        for _ in range(steps):
            loss = self.step(self.iterator)
        float(loss)
        return steps / (time.perf_counter() - started)


def model_garden(arrays, warmup):
    try:
        return ModelGardenOrbit(arrays, warmup), None
    except Exception as e:  # an Orbit/Model Garden version this code does not fit
        return ModelGardenKeras(arrays, warmup), f"{type(e).__name__}: {e}"


class TorchPeer:
    """The child process running :func:`torch_worker`."""

    name = "hf_torch (transformers)"

    def __init__(self, threads):
        env = dict(os.environ, TRANSFORMERS_VERBOSITY="error", TOKENIZERS_PARALLELISM="false")
        self.process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--torch-worker", str(threads)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.info = self._read()
        if "error" in self.info:
            self.close()
        self.warm = set()

    def _read(self):
        line = self.process.stdout.readline()
        if not line:
            return {"error": f"the torch child exited ({self.process.wait()})"}
        return json.loads(line)

    def steps_per_second(self, precision, steps, warmup):
        request = {"precision": precision, "steps": steps}
        if precision not in self.warm:
            request["warmup"] = warmup
            self.warm.add(precision)
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        answer = self._read()
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return steps / answer["seconds"]

    def close(self):
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait(timeout=60)


def precisions_to_run(choice, flags):
    if choice != "auto":
        return choice.split(",")
    return ["float32"] + (["mixed_bfloat16"] if flags & set(BF16_FLAGS) else [])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8, help="timed steps per side and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per side first")
    parser.add_argument(
        "--precisions",
        default="auto",
        help="float32,mixed_bfloat16 or auto (mixed_bfloat16 only on CPUs with bf16)",
    )
    parser.add_argument("--steps_per_loop", type=int, default=None)
    parser.add_argument("--skip_torch", action="store_true")
    parser.add_argument(
        "--model_garden_output_range",
        type=int,
        default=None,
        help="also time Model Garden with this encoder output_range (1: the last block at "
        "[CLS] only, which ours does for classifiers); its task's default computes all rows",
    )
    parser.add_argument(
        "--torch_threads",
        type=int,
        default=os.cpu_count(),
        help="torch.set_num_threads (default: os.cpu_count())",
    )
    args = parser.parse_args()

    print_machine()
    options, loop_text = trainer_options(args.steps_per_loop)
    print(
        f"BERT L{L}/H{H}/A{A}/I{FFN}, seq {SEQ}, batch {BATCH}; TF {tf.__version__}; "
        f"{loop_text}; median of {args.rounds} interleaved rounds of {args.steps} steps"
    )
    torch_peer = None
    if not args.skip_torch:
        torch_peer = TorchPeer(args.torch_threads)
        if "error" in torch_peer.info:
            why = torch_peer.info["error"]
            print(f"hf_torch skipped: torch/transformers not importable ({why})")
            torch_peer = None
        else:
            info = torch_peer.info
            print(
                f"hf_torch: torch {info['torch']}, transformers {info['transformers']}, "
                f"{info['threads']} threads"
            )
    arrays = random_batch()
    flags = cpu_info()[1]
    try:
        for index, policy in enumerate(precisions_to_run(args.precisions, flags)):
            keras.mixed_precision.set_global_policy(policy)
            peer, why = model_garden(arrays, args.warmup)
            if why:
                print(f"{policy}: Model Garden's Orbit trainer failed ({why}); Keras step instead")
            peers = {peer.name: lambda: peer.steps_per_second(args.steps)}
            if args.model_garden_output_range is not None and not why:  # Orbit imported
                ranged = ModelGardenOrbit(arrays, args.warmup, args.model_garden_output_range)
                peers[ranged.name] = lambda: ranged.steps_per_second(args.steps)
            if torch_peer:
                precision = "bfloat16" if policy == "mixed_bfloat16" else "float32"
                peers[torch_peer.name] = lambda: torch_peer.steps_per_second(
                    precision, args.steps, args.warmup
                )
            sides = {OURS: [], **{name: [] for name in peers}}

            def between(windows):
                if windows:  # a window of ours was timed: the peers' round
                    for name, run in peers.items():
                        sides[name].append(run())

            trainer, dataset = ours(arrays, options)
            sides[OURS] = train_in_windows(trainer, dataset, args.steps, args.rounds, between)
            keras.mixed_precision.set_global_policy("float32")
            print_table(policy, sides, header=index == 0)
    finally:
        if torch_peer:
            torch_peer.close()
    print(f"load average at the end: {load_average()}")


def print_table(policy, sides, header=True, unit=("examples/s", BATCH)):
    """One row per side: median steps/s, ``unit`` = (name, per step), and ours / side as
    the median of the rounds' ratios (each of ours' windows against the peer's round run
    right after it, so a change of machine load between rounds cancels)."""
    if header:
        print(
            f"{'precision':15s} {'side':32s} {'steps/s':>8s} {unit[0]:>11s} "
            f"{'ours/side':>9s}  rounds (steps/s)"
        )
    for side, rates in sides.items():
        rate = statistics.median(rates)
        ratio = statistics.median(a / b for a, b in zip(sides[OURS], rates))
        ratio = "" if side == OURS else f"{ratio:9.2f}"
        shown = " ".join(f"{r:.3f}" for r in rates)
        print(f"{policy:15s} {side:32s} {rate:8.3f} {rate * unit[1]:11.1f} {ratio:>9s}  {shown}")


if __name__ == "__main__":
    main()
