r"""MT-DNN: multi-task learning on several GLUE tasks, then per-task fine-tuning.

    python run_multitask.py --config=configs/experiments/mtdnn_glue.yaml \
        --init_from=all-minilm-l6-v2 --model_dir=runs/mtdnn
"""

from absl import flags

from tfmodels.cli import run_script
from tfmodels.training import flags as common

FLAGS = flags.FLAGS


def define_flags():
    common.define_common_flags()
    flags.DEFINE_string(
        "init_from", None, "The shared encoder: a HF checkpoint dir or packaged name."
    )
    flags.DEFINE_string("glue_dir", None, "GLUE root, for tasks listed without data_dir.")
    flags.DEFINE_integer("finetune_steps", None, "Stage 2 steps per task (0: multi-task only).")


def run():
    common.run_task(
        "multitask",
        {
            "init_from": "model.init_from",
            "glue_dir": "task.glue_dir",
            "finetune_steps": "task.finetune_steps",
        },
    )


def main():
    run_script(__name__)
