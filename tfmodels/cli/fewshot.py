r"""GPT-3-style zero-, one- and few-shot evaluation of a causal LM (Brown et al. 2020, section 2).

    python run_fewshot.py --model=gpt2_dir --eval_file=items.tsv --demo_file=train.tsv \
        --shots=0,1,4 --output_dir=runs/fewshot

The TSV format is in tfmodels/tasks/fewshot.py. Writes fewshot_results.json (accuracy
for each k) under --output_dir.
"""

from absl import flags

from tfmodels.cli import run_script
from tfmodels.errors import ConfigError
from tfmodels.strict_config import check_flags
from tfmodels.tasks import fewshot

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("model", None, "A causal LM folder in the HF layout, with its tokenizer.")
    flags.DEFINE_string("eval_file", None, "TSV of items to evaluate.")
    flags.DEFINE_string(
        "demo_file",
        None,
        "TSV to draw demonstrations from (default: --eval_file, never the query itself).",
    )
    flags.DEFINE_list("shots", ["0", "1", "4"], "Numbers of demonstrations k to evaluate.")
    flags.DEFINE_string(
        "choices",
        None,
        "Label set for every row of files without a 'choices' "
        "column, separated by --choice_separator.",
    )
    flags.DEFINE_string("choice_separator", "|", "Separator of the choices.")
    flags.DEFINE_string("separator", r"\n", r"Between demonstrations (\n and \t are unescaped).")
    flags.DEFINE_string("choice_prefix", " ", "Between a context and its completion.")
    flags.DEFINE_string("description", "", "Task description, the prompt's first line.")
    flags.DEFINE_enum(
        "normalize",
        "none",
        fewshot.NORMALIZATIONS,
        "Compare candidates by summed log-likelihood or its mean per token.",
    )
    flags.DEFINE_integer("seq_length", None, "Context length (default: the model's).")
    flags.DEFINE_integer("batch_size", 16, "Sequences per forward pass.")
    flags.DEFINE_integer("max_examples", None, "Evaluate only the first N items.")
    flags.DEFINE_integer("seed", 0, "Seed of the demonstration draws.")
    flags.DEFINE_string("output_dir", None, "Where fewshot_results.json goes.")


def _unescape(text):
    return text.replace(r"\n", "\n").replace(r"\t", "\t")


def run():
    for name in ("model", "eval_file", "output_dir"):
        if not getattr(FLAGS, name):
            raise ConfigError(f"--{name} is required")
    try:
        shots = [int(k) for k in FLAGS.shots]
    except ValueError:
        raise ConfigError(f"--shots must be integers, got {','.join(FLAGS.shots)}") from None
    if any(k < 0 for k in shots):
        raise ConfigError("--shots must be >= 0")
    check_flags(
        FLAGS, {"batch_size": "[1, inf)", "seq_length": "[2, inf)", "max_examples": "[1, inf)"}
    )
    label_set = FLAGS.choices.split(FLAGS.choice_separator) if FLAGS.choices else None
    items = fewshot.read_items(FLAGS.eval_file, label_set, FLAGS.choice_separator)
    items = items[: FLAGS.max_examples] if FLAGS.max_examples else items
    pool = (
        fewshot.read_items(FLAGS.demo_file, label_set, FLAGS.choice_separator)
        if FLAGS.demo_file
        else None
    )
    fmt = fewshot.PromptFormat(
        _unescape(FLAGS.separator), _unescape(FLAGS.choice_prefix), _unescape(FLAGS.description)
    )
    scorer = fewshot.scorer_from_pretrained(FLAGS.model, FLAGS.seq_length, FLAGS.batch_size)
    results = fewshot.evaluate(scorer, items, shots, pool, fmt, FLAGS.normalize, FLAGS.seed)
    for k, r in results.items():
        note = ""
        if r["prompts_with_dropped_demonstrations"] or r["queries_truncated"]:
            note = (
                f" ({r['prompts_with_dropped_demonstrations']} prompts lost "
                f"demonstrations, {r['queries_truncated']} queries were cut to fit "
                f"{scorer.seq_length} tokens)"
            )
        print(f"{k}-shot accuracy {r['accuracy']:.4f} on {r['examples']} items{note}")
    path = fewshot.write_results(
        FLAGS.output_dir,
        results,
        model=FLAGS.model,
        eval_file=FLAGS.eval_file,
        demo_file=FLAGS.demo_file,
        normalize=FLAGS.normalize,
        seed=FLAGS.seed,
        seq_length=scorer.seq_length,
    )
    print(f"wrote {path}")


def main():
    run_script(__name__)
