r"""Pre-trains a Transformer from TFRecords with its family's objective (BERT masked LM +
next sentence, RoBERTa masked LM, ALBERT masked LM + sentence order, ELECTRA replaced
token detection), or the one ``--objective`` / ``task.objective`` names.

    python create_pretraining_data.py --input_file=corpus.txt --vocab_dir=VOCAB_DIR \
        --output_dir=data/pretrain
    python run_pretraining.py --config=configs/experiments/pretrain_bert_tiny.yaml \
        --set task.input_files='data/pretrain/*.tfrecord' --model_dir=runs/pretrain
"""

from absl import flags

from tfmodels.cli import run_script
from tfmodels.pretraining import registry
from tfmodels.training import flags as common

FLAGS = flags.FLAGS


def define_flags():
    common.define_common_flags()
    flags.DEFINE_string(
        "init_checkpoint",
        None,
        "Initial weights: a HF/Google checkpoint dir or a tfmodels TF checkpoint.",
    )
    flags.DEFINE_string(
        "objective",
        None,
        f"Pre-training objective ({', '.join(registry.OBJECTIVES)}); overrides "
        "task.objective. Default: the model family's.",
    )


def run():
    if FLAGS.objective is not None:
        registry.get_objective(FLAGS.objective, source="--objective")
    common.run_task(
        "pretraining", {"objective": "task.objective", "init_checkpoint": "task.init_checkpoint"}
    )


def main():
    run_script(__name__)
