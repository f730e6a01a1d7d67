"""Every bad input is one line: each training script, fed one broken file, flag or config
value, prints exactly one ``error: ...`` line naming the file and line (or the flag/key),
exits with code 2, shows no traceback, and leaves nothing in its --model_dir.

The table :data:`CASES` holds, per case, the script, its arguments, the files changed
from a good data set (content, or None: the file is removed) and the words the error
line must hold. Most cases run the script's ``main`` body in-process
(:func:`run_in_process`: absl flags parsed, ``run_main`` catching the error); the cases
marked ``subprocess`` run the real script file (TensorFlow import included, ~8 s each).
"""

import contextlib
import dataclasses
import importlib
import io
import json
import os
import shutil
from typing import Callable, Dict, List, Optional

import pytest
from absl import flags

from tests.conftest import ROOT, fixture_path, run_script
from tests.glue_data import write_glue_task

FLAGS = flags.FLAGS
LONG = "x" * 1_000_001  # over tfmodels.text_files.MAX_LINE_CHARS
LATIN1 = "caf\xe9".encode("latin-1")  # not UTF-8

SQUAD = {
    "version": "1.1",
    "data": [
        {
            "title": "t",
            "paragraphs": [
                {
                    "context": "Anna Smith opened the shop in 1999.",
                    "qas": [
                        {
                            "id": f"q{i}",
                            "question": "Who opened it?",
                            "answers": [{"text": "Anna Smith", "answer_start": 0}],
                        }
                        for i in range(3)
                    ],
                }
            ],
        }
    ],
}
CONLL = "-DOCSTART- -X- -X- O\n\nJohn NNP B-NP B-PER\nran VBD B-VP O\n.  . O O\n\n"
TSV = "text\tlabel\n" + "".join(f"text number {i}\t{'pos' if i % 2 else 'neg'}\n" for i in range(6))
PAIRS = "source\ttarget\na b\tb a\nc d\td c\n"
ITEMS = "context\tchoices\tlabel\nIs it?\tyes|no\tyes\nIs it not?\tyes|no\tno\n"


def good_data(root, ckpt):
    """The good files every case starts from, under ``root``."""
    write_glue_task(root, "SST-2")
    for folder, files in {
        "tsv": {"train.tsv": TSV, "dev.tsv": TSV},
        "squad": {"train.json": json.dumps(SQUAD, indent=1), "dev.json": json.dumps(SQUAD)},
        "conll": {"train.txt": CONLL, "valid.txt": CONLL, "test.txt": CONLL},
        "pairs": {"train.tsv": PAIRS, "dev.tsv": PAIRS, "test.tsv": PAIRS},
        "fewshot": {"items.tsv": ITEMS},
    }.items():
        os.makedirs(os.path.join(root, folder))
        for name, text in files.items():
            with open(os.path.join(root, folder, name), "w", encoding="utf-8") as f:
                f.write(text)
    os.makedirs(os.path.join(root, "records"))
    write_records(os.path.join(root, "records", "one.tfrecord"), seq_length=32)


def write_records(path, seq_length, count=4):
    """BERT-layout pre-training records (unmasked ids, for dynamic masking)."""
    import tensorflow as tf

    def ints(values):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=values))

    with tf.io.TFRecordWriter(path) as writer:
        for _ in range(count):
            features = {
                "input_ids": ints([101] + [1996] * (seq_length - 2) + [102]),
                "input_mask": ints([1] * seq_length),
                "segment_ids": ints([0] * seq_length),
                "next_sentence_labels": ints([0]),
            }
            example = tf.train.Example(features=tf.train.Features(feature=features))
            writer.write(example.SerializeToString())


def escaping_shards(root, ckpt):
    """A checkpoint whose index names a shard outside its folder."""
    folder = os.path.join(root, "escaping")
    os.makedirs(folder)
    shutil.copy(os.path.join(ckpt, "config.json"), folder)
    shutil.copy(os.path.join(ckpt, "vocab.txt"), folder)
    shutil.copy(os.path.join(ckpt, "model.safetensors"), os.path.join(root, "x.safetensors"))
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"weight_map": {"embeddings.word_embeddings.weight": "../x.safetensors"}}, f)


# The arguments of each script on the good data ({root}, {run}, {ckpt}, {fixtures}).
BASE = {
    "classifier": ["--task=sst2", "--data_dir={root}/SST-2", "--init_from={ckpt}"],
    "classifier_tsv": ["--task=tsv", "--data_dir={root}/tsv", "--init_from={ckpt}"],
    "squad": [
        "--train_file={root}/squad/train.json",
        "--predict_file={root}/squad/dev.json",
        "--init_from={ckpt}",
    ],
    "tagger": ["--data_dir={root}/conll", "--init_from={ckpt}"],
    "seq2seq": ["--data_dir={root}/pairs", "--init_from={ckpt}"],
    "multitask": ["--set=task.tasks=[{name: sst2, data_dir: {root}/SST-2}]", "--init_from={ckpt}"],
    "distillation": ["--task=sst2", "--data_dir={root}/SST-2", "--teacher={ckpt}"],
    "distillation_tsv": ["--task=tsv", "--data_dir={root}/tsv", "--teacher={ckpt}"],
    "pretraining": [
        "--set=task.input_files={root}/records/*.tfrecord",
        "--set=model.name={fixtures}/bert_test_tiny.yaml",
        "--set=model.vocab_file={ckpt}/vocab.txt",
        "--set=model.seq_length=32",
        "--set=trainer.train_steps=2",
    ],
    "fewshot": ["--model={ckpt}", "--eval_file={root}/fewshot/items.tsv"],
}


@dataclasses.dataclass
class Case:
    name: str
    base: str  # a BASE key: the script (tfmodels.cli.<script>) and its good arguments
    files: Dict[str, Optional[object]] = dataclasses.field(default_factory=dict)
    args: List[str] = dataclasses.field(default_factory=list)
    expected: List[str] = dataclasses.field(default_factory=list)  # words of the error line
    setup: Optional[Callable] = None  # setup(root, ckpt): more files
    subprocess: bool = False  # run the real script file

    @property
    def script(self):
        return self.base.split("_")[0]


CASES = [
    # -- run_classifier.py, GLUE SST-2 (header: sentence, label) and --task=tsv
    Case(
        "classifier-dev-not-utf8",
        "classifier",
        {"SST-2/dev.tsv": b"sentence\tlabel\n" + LATIN1 + b" film\t1\n"},
        expected=["SST-2/dev.tsv:2: not UTF-8 text (byte 0xe9"],
        subprocess=True,
    ),
    Case(
        "classifier-train-empty",
        "classifier",
        {"SST-2/train.tsv": ""},
        expected=["SST-2/train.tsv: the file is empty"],
    ),
    Case(
        "classifier-train-header-only",
        "classifier",
        {"SST-2/train.tsv": "sentence\tlabel\r\n"},
        expected=["SST-2/train.tsv: only a header line (sentence, label), no rows"],
    ),
    Case(
        "classifier-dev-header-only",
        "classifier",
        {"SST-2/dev.tsv": "\ufeffsentence\tlabel\n"},
        expected=["SST-2/dev.tsv: only a header line (sentence, label)"],
    ),
    Case(
        "classifier-dev-missing",
        "classifier",
        {"SST-2/dev.tsv": None},
        expected=["sst2: data file not found: ", "SST-2/dev.tsv"],
    ),
    Case(
        "classifier-test-missing-for-predict",
        "classifier",
        {"SST-2/test.tsv": None},
        args=["--mode=predict"],
        expected=["data file not found: ", "SST-2/test.tsv"],
    ),
    Case(
        "classifier-row-width",
        "classifier",
        {"SST-2/train.tsv": "sentence\tlabel\na film\t1\nanother\tfilm\t0\n"},
        expected=[
            "SST-2/train.tsv:3: expected 2 columns (tab-separated: sentence, label), found 3"
        ],
    ),
    Case(
        "classifier-long-line",
        "classifier",
        {"SST-2/train.tsv": f"sentence\tlabel\na film\t1\n{LONG}\t0\n"},
        expected=["SST-2/train.tsv:3: a line of 1,000,003 characters, more than the 1,000,000"],
    ),
    Case(
        "classifier-unknown-label",
        "classifier",
        {"SST-2/dev.tsv": "sentence\tlabel\na film\t1\nanother film\t2\n"},
        expected=["SST-2/dev.tsv:3: label '2' is not one of 0, 1 (sst2)"],
    ),
    Case(
        "tsv-unlabelled-dev",
        "classifier_tsv",
        {"tsv/dev.tsv": "text\nsome text\n"},
        expected=["tsv/dev.tsv: no label column 'label' (columns: text); a dev file needs labels"],
    ),
    Case(
        "tsv-label-outside-given-labels",
        "classifier_tsv",
        {"tsv/dev.tsv": "text\tlabel\na\tpos\nb\tmeh\n"},
        args=["--set=task.labels=[pos, neg]"],
        expected=["tsv/dev.tsv:3: label 'meh' is not one of pos, neg (tsv)"],
    ),
    Case(
        "tsv-unknown-column",
        "classifier_tsv",
        args=["--text_a_column=body"],
        expected=["--text_a_column='body': no such column in ", "(columns: text, label)"],
    ),
    Case(
        "tsv-dev-not-utf8",
        "classifier_tsv",
        {"tsv/dev.tsv": b"text\tlabel\nok\tpos\n" + LATIN1 + b"\tneg\n"},
        expected=["tsv/dev.tsv:3: not UTF-8 text"],
    ),
    Case(
        "classifier-checkpoint-every-0",
        "classifier",
        args=["--set=trainer.checkpoint_every=0"],
        expected=["'trainer.checkpoint_every' must be >= 1, got 0"],
    ),
    Case(
        "classifier-unknown-key",
        "classifier",
        args=["--set=data.seq_length=32"],
        expected=[
            "unknown key 'data.seq_length'; known keys: data.eval_batch_size, "
            "data.shuffle_buffer, data.train_batch_size"
        ],
    ),
    Case(
        "classifier-config-not-utf8",
        "classifier",
        {"exp.yaml": b"trainer:\n  log_every: 5 # " + LATIN1 + b"\n"},
        args=["--config={root}/exp.yaml"],
        expected=["exp.yaml:2: not UTF-8 text"],
    ),
    Case(
        "classifier-config-bad-yaml",
        "classifier",
        {"exp.yaml": "trainer:\n  log_every: [5\n"},
        args=["--config={root}/exp.yaml"],
        expected=["exp.yaml:", ": not valid YAML: "],
    ),
    Case(
        "classifier-shard-outside-checkpoint",
        "classifier",
        args=["--init_from={root}/escaping"],
        setup=escaping_shards,
        expected=["index.json: shard '../x.safetensors' lies outside the checkpoint folder"],
    ),
    # -- run_squad.py
    Case(
        "squad-train-not-utf8",
        "squad",
        {"squad/train.json": b'{"version": "1.1",\n "data": [],\n "title": "' + LATIN1 + b'"}'},
        expected=["squad/train.json:3: not UTF-8 text"],
    ),
    Case(
        "squad-train-empty",
        "squad",
        {"squad/train.json": ""},
        expected=["squad/train.json: the file is empty (expected JSON)"],
    ),
    Case(
        "squad-train-broken-json",
        "squad",
        {"squad/train.json": '{"version": "1.1",\n "data": [\n'},
        expected=["squad/train.json:3: not valid JSON: "],
    ),
    Case(
        "squad-dev-no-questions",
        "squad",
        {"squad/dev.json": '\ufeff{"version": "1.1", "data": []}\r\n'},
        expected=["squad/dev.json holds no questions"],
    ),
    Case(
        "squad-dev-missing",
        "squad",
        {"squad/dev.json": None},
        expected=["SQuAD file not found: ", "squad/dev.json"],
    ),
    Case(
        "squad-batch-size-0",
        "squad",
        args=["--set=data.train_batch_size=0"],
        expected=["'data.train_batch_size' must be >= 1, got 0"],
    ),
    Case(
        "squad-doc-stride-0",
        "squad",
        args=["--set=task.doc_stride=0"],
        expected=["'task.doc_stride' must be >= 1, got 0"],
    ),
    # -- run_tagger.py (CoNLL: token ... tag, blank lines between sentences)
    Case(
        "tagger-train-not-utf8",
        "tagger",
        {"conll/train.txt": b"John NNP B-NP B-PER\n" + LATIN1 + b" NN B-NP O\n"},
        expected=["conll/train.txt:2: not UTF-8 text"],
    ),
    Case(
        "tagger-train-empty",
        "tagger",
        {"conll/train.txt": "-DOCSTART- -X- -X- O\n\n"},
        expected=["conll/train.txt: no sentences"],
    ),
    Case(
        "tagger-dev-missing",
        "tagger",
        {"conll/valid.txt": None},
        expected=["dev file not found: ", "valid.txt or ", "dev.txt"],
    ),
    Case(
        "tagger-row-width",
        "tagger",
        {"conll/train.txt": "John NNP B-NP B-PER\nran O\n"},
        expected=["conll/train.txt:2: expected 4 columns (as the first token line), got 2"],
    ),
    Case(
        "tagger-long-line",
        "tagger",
        {"conll/train.txt": f"John NNP B-NP B-PER\r\n\r\n{LONG} O\r\n"},
        expected=["conll/train.txt:3: a line of 1,000,003 characters"],
        subprocess=True,
    ),
    Case(
        "tagger-unknown-tag",
        "tagger",
        {"conll/valid.txt": "Bonn NNP B-NP S-CITY\n"},
        expected=["conll/valid.txt:1: tag 'B-CITY' is not in the label set from train"],
    ),
    Case(
        "tagger-negative-lr",
        "tagger",
        args=["--set=optimizer.lr=-1e-3"],
        expected=["'optimizer.lr' must be >= 0, got -0.001"],
    ),
    # -- run_seq2seq.py (source<TAB>target, or JSON Lines)
    Case(
        "seq2seq-jsonl-not-utf8",
        "seq2seq",
        {
            "pairs/train.tsv": None,
            "pairs/train.jsonl": b'{"source": "a", "target": "b"}\n{"source": "'
            + LATIN1
            + b'", "target": "b"}\n',
        },
        expected=["pairs/train.jsonl:2: not UTF-8 text"],
    ),
    Case(
        "seq2seq-train-empty",
        "seq2seq",
        {"pairs/train.tsv": "\n"},
        expected=["pairs/train.tsv: the file is empty"],
    ),
    Case(
        "seq2seq-train-header-only",
        "seq2seq",
        {"pairs/train.tsv": "source\ttarget\n"},
        expected=["pairs/train.tsv: only a header line (source, target)"],
    ),
    Case(
        "seq2seq-dev-missing",
        "seq2seq",
        {"pairs/dev.tsv": None},
        expected=["pairs: no dev file (dev.tsv/.jsonl or valid.tsv/.jsonl"],
    ),
    Case(
        "seq2seq-row-width",
        "seq2seq",
        {"pairs/dev.tsv": "a b\tb a\nc d\n"},
        expected=["pairs/dev.tsv:2: expected 2 columns (tab-separated: source, target), found 1"],
    ),
    Case(
        "seq2seq-jsonl-long-line",
        "seq2seq",
        {"pairs/train.tsv": None, "pairs/train.jsonl": f'{{"source": "{LONG}", "target": "b"}}\n'},
        expected=["pairs/train.jsonl:1: a line of 1,000,0"],
    ),
    Case(
        "seq2seq-num-beams-0",
        "seq2seq",
        args=["--num_beams=0"],
        expected=["'task.num_beams' must be >= 1, got 0"],
    ),
    # -- run_multitask.py
    Case(
        "multitask-train-not-utf8",
        "multitask",
        {"SST-2/train.tsv": b"sentence\tlabel\n" + LATIN1 + b"\t1\n"},
        expected=["SST-2/train.tsv:2: not UTF-8 text"],
    ),
    Case(
        "multitask-dev-header-only",
        "multitask",
        {"SST-2/dev.tsv": "sentence\tlabel\n\n"},
        expected=["SST-2/dev.tsv: only a header line"],
    ),
    Case(
        "multitask-dev-missing",
        "multitask",
        {"SST-2/dev.tsv": None},
        expected=["sst2: data file not found: ", "SST-2/dev.tsv"],
    ),
    Case(
        "multitask-unknown-label",
        "multitask",
        {"SST-2/train.tsv": "sentence\tlabel\ngood\t1\nbad\tnegative\n"},
        expected=["SST-2/train.tsv:3: label 'negative' is not one of 0, 1 (sst2)"],
    ),
    Case(
        "multitask-accumulation-0",
        "multitask",
        args=["--set=trainer.accumulation_steps=0"],
        expected=["'trainer.accumulation_steps' must be >= 1, got 0"],
    ),
    # -- run_distillation.py (task stage on GLUE/TSV, general stage on records)
    Case(
        "distillation-train-empty",
        "distillation",
        {"SST-2/train.tsv": ""},
        expected=["SST-2/train.tsv: the file is empty"],
    ),
    Case(
        "distillation-unlabelled-dev",
        "distillation_tsv",
        {"tsv/dev.tsv": "text\nsome text\n"},
        expected=["tsv/dev.tsv: no label column 'label'"],
    ),
    Case(
        "distillation-dev-missing",
        "distillation",
        {"SST-2/dev.tsv": None},
        expected=["sst2: data file not found: ", "SST-2/dev.tsv"],
    ),
    Case(
        "distillation-row-width",
        "distillation",
        {"SST-2/dev.tsv": "sentence\tlabel\nfine\t1\nno label\n"},
        expected=["SST-2/dev.tsv:3: expected 2 columns"],
    ),
    Case(
        "distillation-general-empty-records",
        "distillation",
        {"records/one.tfrecord": ""},
        args=[
            "--stage=general",
            "--set=task.input_files={root}/records/*.tfrecord",
            "--set=trainer.train_steps=2",
        ],
        expected=["the TFRecord files of ", "hold no records"],
    ),
    Case(
        "distillation-mask-rate",
        "distillation",
        args=["--set=task.mask_rate=1.5"],
        expected=["'task.mask_rate' must be in (0, 1), got 1.5"],
    ),
    # -- run_pretraining.py (TFRecords)
    Case(
        "pretraining-no-files",
        "pretraining",
        args=["--set=task.input_files={root}/nothing*.tfrecord"],
        expected=["no TFRecord files match ", "nothing*.tfrecord"],
    ),
    Case(
        "pretraining-not-a-tfrecord",
        "pretraining",
        {"records/one.tfrecord": "a text file, not records\n" * 4},
        expected=["records/one.tfrecord: not a TFRecord file"],
    ),
    Case(
        "pretraining-empty-records",
        "pretraining",
        {"records/one.tfrecord": ""},
        expected=["hold no records"],
        subprocess=True,
    ),
    Case(
        "pretraining-records-of-another-length",
        "pretraining",
        args=["--set=task.input_files={root}/records16/*.tfrecord"],
        setup=lambda root, ckpt: (
            os.makedirs(os.path.join(root, "records16")),
            write_records(os.path.join(root, "records16", "a.tfrecord"), seq_length=16),
        ),
        expected=["records16/a.tfrecord: its records do not hold the features objective mlm_nsp"],
    ),
    Case(
        "pretraining-train-steps-0",
        "pretraining",
        args=["--set=trainer.train_steps=0"],
        expected=["'trainer.train_steps' must be >= 1, got 0"],
    ),
    Case(
        "pretraining-mask-rate-0",
        "pretraining",
        args=["--set=task.mask_rate=0"],
        expected=["'task.mask_rate' must be in (0, 1), got 0.0"],
    ),
    Case(
        "pretraining-dropout-out-of-range",
        "pretraining",
        {"model.yaml": "family: bert\nhidden_size: 16\nnum_layers: 1\nhidden_dropout: 1.0\n"},
        args=["--set=model.name={root}/model.yaml"],
        expected=["model.yaml: 'hidden_dropout' must be in [0, 1), got 1.0"],
    ),
    Case(
        "pretraining-log-every-negative",
        "pretraining",
        args=["--set=trainer.log_every=-1"],
        expected=["'trainer.log_every' must be >= 1, got -1"],
    ),
    # -- run_fewshot.py (writes to --output_dir, the {run} folder here)
    Case(
        "fewshot-not-utf8",
        "fewshot",
        {"fewshot/items.tsv": b"context\tchoices\tlabel\n" + LATIN1 + b"?\tyes|no\tyes\n"},
        expected=["fewshot/items.tsv:2: not UTF-8 text"],
    ),
    Case(
        "fewshot-empty",
        "fewshot",
        {"fewshot/items.tsv": ""},
        expected=["fewshot/items.tsv: the file is empty"],
    ),
    Case(
        "fewshot-header-only",
        "fewshot",
        {"fewshot/items.tsv": "context\tchoices\tlabel\r\n"},
        expected=["fewshot/items.tsv: only a header line (context, choices, label)"],
    ),
    Case(
        "fewshot-row-width",
        "fewshot",
        {"fewshot/items.tsv": ITEMS + "No label\tyes|no\n"},
        expected=["fewshot/items.tsv:4: expected 3 columns (tab-separated: context, choices"],
    ),
    Case(
        "fewshot-long-line",
        "fewshot",
        {"fewshot/items.tsv": ITEMS + f"{LONG}\tyes|no\tyes\n"},
        expected=["fewshot/items.tsv:4: a line of 1,000,0"],
    ),
    Case(
        "fewshot-unknown-label",
        "fewshot",
        {"fewshot/items.tsv": "context\tchoices\tlabel\nIs it?\tyes|no\tmaybe\n"},
        expected=["fewshot/items.tsv:2: label 'maybe' is neither one of the choices"],
    ),
    Case(
        "fewshot-batch-size-0",
        "fewshot",
        args=["--batch_size=0"],
        expected=["--batch_size must be >= 1, got 0"],
    ),
]


def test_the_table_covers_every_training_script():
    scripts = {c.script for c in CASES}
    assert scripts == {
        "classifier",
        "squad",
        "tagger",
        "seq2seq",
        "multitask",
        "distillation",
        "pretraining",
        "fewshot",
    }
    assert len({c.name for c in CASES}) == len(CASES)
    assert sum(c.subprocess for c in CASES) == 3


def run_in_process(script, args):
    """``tfmodels.cli.<script>``'s main in this process: its flags defined and parsed from
    ``args``, ``run()`` under ``run_main``; returns (exit code, stdout, stderr). The flags
    are forgotten afterwards (the scripts reuse names; absl defines a name once)."""
    import tensorflow as tf
    from absl import logging

    from tfmodels.training import flags as common

    module = importlib.import_module(f"tfmodels.cli.{script}")
    before = set(FLAGS)
    module.define_flags()
    names = set(FLAGS) - before
    out, err = io.StringIO(), io.StringIO()
    verbosity, tf_level = logging.get_verbosity(), tf.get_logger().level
    code = 0
    try:
        FLAGS([script, *args])
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                common.run_main(module.run)
            except SystemExit as e:
                code = e.code
    finally:
        for name in names:
            delattr(FLAGS, name)
        logging.set_verbosity(verbosity)
        tf.get_logger().setLevel(tf_level)
    return code, out.getvalue(), err.getvalue()


def prepare(case, tmp_path, ckpt):
    root = str(tmp_path / "data")
    good_data(root, ckpt)
    for name, content in case.files.items():
        path = os.path.join(root, name)
        if content is None:
            os.remove(path)
            continue
        with open(path, "wb") as f:
            f.write(content if isinstance(content, bytes) else content.encode("utf-8"))
    if case.setup:
        case.setup(root, ckpt)
    run = str(tmp_path / "run")
    out_flag = "--output_dir" if case.script == "fewshot" else "--model_dir"
    values = {"{root}": root, "{run}": run, "{ckpt}": ckpt, "{fixtures}": fixture_path()}
    args = []
    for arg in BASE[case.base] + case.args + [f"{out_flag}={{run}}"]:
        for key, value in values.items():
            arg = arg.replace(key, value)
        args.append(arg)
    return args, run, [e.replace("{root}", root) for e in case.expected]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_bad_input_is_one_error_line_and_nothing_written(case, tmp_path, tiny_checkpoint):
    args, run, expected = prepare(case, tmp_path, tiny_checkpoint)
    if case.subprocess:
        result = run_script(f"run_{case.script}.py", *args, timeout=300)
        code, stdout, stderr = result.returncode, result.stdout, result.stderr
    else:
        code, stdout, stderr = run_in_process(case.script, args)
    context = f"exit {code}\nstdout: {stdout[-2000:]}\nstderr: {stderr[-3000:]}"
    assert code == 2, context
    assert "Traceback" not in stderr, context
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, context
    for words in expected:
        assert words in errors[0], f"{words!r} not in {errors[0]!r}"
    assert "\n" not in errors[0]
    assert not os.path.exists(run) or os.listdir(run) == [], os.listdir(run)


def test_the_subprocess_cases_run_the_real_scripts():
    for case in CASES:
        if case.subprocess:
            assert os.path.isfile(os.path.join(ROOT, f"run_{case.script}.py"))
