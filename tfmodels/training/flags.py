"""The absl flags the training scripts share, and the error handling of their ``main``.

A :class:`TfmodelsError` (bad path, bad data, bad config) ends the script with its
one-line message on stderr and exit code 2, never a stack trace.
"""

import sys

import tensorflow as tf
from absl import flags, logging

from tfmodels.errors import Preempted, TfmodelsError
from tfmodels.training.distribution import PRECISIONS, STRATEGIES

FLAGS = flags.FLAGS
# The flags define_common_flags() defines belong to the script module calling it: they are
# its key flags, which its --help lists (absl's --help shows only the main module's).
flags.disclaim_key_flags()


def define_common_flags():
    flags.DEFINE_string("config", None, "Experiment YAML (configs/experiments/...).")
    flags.DEFINE_multi_string("set", [], "Override a config key: --set trainer.train_steps=100.")
    flags.DEFINE_string("model_dir", None, "Where checkpoints, summaries and results go.")
    flags.DEFINE_enum("distribution_strategy", "default", STRATEGIES, "tf.distribute strategy.")
    flags.DEFINE_string("tpu", None, "TPU address for --distribution_strategy=tpu.")
    flags.DEFINE_enum(
        "mixed_precision",
        "auto",
        PRECISIONS,
        "Keras precision policy; auto: bfloat16 where the CPU/GPU/TPU computes in it.",
    )
    flags.DEFINE_bool("jit_compile", False, "Compile the training step with XLA.")
    flags.DEFINE_bool(
        "deterministic", False, "TensorFlow's op determinism (bit-equal reruns; slower)."
    )
    flags.DEFINE_bool(
        "overwrite",
        False,
        "Replace the run in --model_dir (default: resume it, if it has the same config).",
    )


def define_fine_tuning_flags(modes=("train_and_eval", "eval", "predict")):
    """--init_from and --mode, as the fine-tuning scripts (classifier, QA, tagging,
    seq2seq) take them; ``modes`` are the script's modes, ``train_and_eval`` first."""
    flags.DEFINE_string(
        "init_from", None, "A HF checkpoint dir, a packaged name, or our checkpoint."
    )
    flags.DEFINE_enum("mode", modes[0], modes, "What to do.")


# The flags that name a GLUE task or a TSV's columns, and the config keys they set
# (sentence classification and task distillation).
TEXT_TASK_KEYS = {
    "task": "task.name",
    "data_dir": "task.data_dir",
    "text_a_column": "task.text_a_column",
    "text_b_column": "task.text_b_column",
    "label_column": "task.label_column",
}


def define_text_task_flags():
    """--task, --data_dir and the --task=tsv column flags (:data:`TEXT_TASK_KEYS`)."""
    flags.DEFINE_string("task", None, "cola, sst2, mrpc, stsb, qqp, mnli, qnli, rte, wnli or tsv.")
    flags.DEFINE_string("data_dir", None, "The task's data folder (official GLUE layout, or TSV).")
    flags.DEFINE_string("text_a_column", None, "--task=tsv: column of the first text.")
    flags.DEFINE_string("text_b_column", None, "--task=tsv: column of the second text, if any.")
    flags.DEFINE_string("label_column", None, "--task=tsv: column of the label.")


# The shared flags that set the config's runtime section.
RUNTIME_KEYS = {
    "distribution_strategy": "runtime.distribution_strategy",
    "tpu": "runtime.tpu",
    "mixed_precision": "runtime.mixed_precision",
    "jit_compile": "runtime.jit_compile",
    "deterministic": "runtime.deterministic",
}


def run_task(task_type, flag_keys, default_model_dir=None, mode=None):
    """What a script's ``run()`` does: the experiment of ``--config`` with ``--set`` and
    the script's dedicated flags (``flag_keys``: flag -> config key) applied, run by
    :func:`run_experiment` in ``mode``. ``default_model_dir(cfg)``: the folder used
    when a --config is given without --model_dir."""
    from tfmodels.training.driver import run_experiment
    from tfmodels.training.experiment import load_experiment
    from tfmodels.training.task import make_task

    overrides = list(FLAGS.set) + flag_overrides({**RUNTIME_KEYS, **flag_keys})
    cfg = load_experiment(FLAGS.config, overrides, task_type=task_type)
    model_dir = FLAGS.model_dir
    if not model_dir and FLAGS.config and default_model_dir:
        model_dir = default_model_dir(cfg)
    return run_experiment(make_task(cfg), model_dir, mode, overwrite=FLAGS.overwrite)


def flag_overrides(mapping):
    """``--set`` strings for the dedicated flags the user gave (they win over the YAML)."""
    overrides = []
    for flag_name, key in mapping.items():
        value = getattr(FLAGS, flag_name)
        if value is not None and FLAGS[flag_name].present:
            overrides.append(f"{key}={value}")
    return overrides


def run_main(fn):
    """Calls ``fn()``; user errors print one line and exit 2."""
    logging.set_verbosity(logging.WARNING)  # our progress lines, not TensorFlow's INFO logs
    tf.get_logger().setLevel("ERROR")
    try:
        fn()
    except TfmodelsError as e:
        print("error: " + " ".join(str(e).split("\n")), file=sys.stderr)  # one line
        sys.exit(2)
    except Preempted as e:  # SIGTERM or Ctrl-C during training: saved, resumable
        print(e, file=sys.stderr)
        sys.exit(0)
    except KeyboardInterrupt:
        print(
            "interrupted; the checkpoints written so far are kept and a new start resumes "
            "from the last one",
            file=sys.stderr,
        )
        sys.exit(130)
