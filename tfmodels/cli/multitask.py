r"""MT-DNN: multi-task learning on several GLUE tasks, then per-task fine-tuning.

    python run_multitask.py --config=configs/experiments/mtdnn_glue.yaml \
        --init_from=all-minilm-l6-v2 --model_dir=runs/mtdnn
"""
from absl import flags

from tfmodels.cli import run_script
from tfmodels.tasks import multitask_experiment
from tfmodels.training import flags as common

FLAGS = flags.FLAGS


def define_flags():
    common.define_common_flags()
    flags.DEFINE_string("init_from", None,
                        "The shared encoder: a HF checkpoint dir or packaged name.")
    flags.DEFINE_string("glue_dir", None, "GLUE root, for tasks listed without data_dir.")
    flags.DEFINE_integer("finetune_steps", None, "Stage 2 steps per task (0: multi-task only).")


def run():
    overrides = list(FLAGS.set) + common.flag_overrides({
        "init_from": "model.init_from", "glue_dir": "multitask.glue_dir",
        "finetune_steps": "multitask.finetune_steps"})
    cfg = multitask_experiment.load_multitask_experiment(FLAGS.config, overrides)
    multitask_experiment.run(cfg, FLAGS.model_dir, FLAGS.distribution_strategy, FLAGS.tpu,
                             FLAGS.mixed_precision, FLAGS.jit_compile)


def main():
    run_script(__name__)
