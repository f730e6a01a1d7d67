r"""Distils a BERT teacher into a smaller student (DistilBERT or TinyBERT recipe).

    # task distillation of a fine-tuned classifier into 3 of its 6 layers
    python run_distillation.py --config=configs/experiments/distill_minilm_fortunes_tinybert.yaml \
        --teacher=runs/demo/hf_model --model_dir=runs/distill_tinybert
    # DistilBERT-style, on GLUE data
    python run_distillation.py --method=distilbert --task=sst2 --data_dir=glue_data/SST-2 \
        --teacher=runs/sst2/hf_model --student_layers=6 --model_dir=runs/sst2_distil

Only the student is written (model_dir/hf_model); a killed run resumes from its
last checkpoint.
"""

from absl import flags

from tfmodels.cli import run_script
from tfmodels.training import flags as common

FLAGS = flags.FLAGS


def define_flags():
    common.define_common_flags()
    flags.DEFINE_string("method", None, "distilbert or tinybert (task.method).")
    flags.DEFINE_string("stage", None, "task (GLUE/TSV data) or general (pre-training records).")
    flags.DEFINE_string("teacher", None, "The teacher's checkpoint directory (HF layout).")
    flags.DEFINE_integer("student_layers", None, "Student depth; default half the teacher's.")
    flags.DEFINE_string("init_from", None, "A checkpoint to start the student from.")
    common.define_text_task_flags()


def run():
    common.run_task(
        "distillation",
        {
            "method": "task.method",
            "stage": "task.stage",
            "teacher": "task.teacher",
            "student_layers": "task.student_layers",
            "init_from": "model.init_from",
            **common.TEXT_TASK_KEYS,
        },
    )


def main():
    run_script(__name__)
