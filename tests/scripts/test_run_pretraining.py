"""Text -> TFRecords -> pre-training steps; a SIGKILLed run resumes from its checkpoint."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import tensorflow as tf

from tests.conftest import ROOT, run_script

FAST = ["--set", "model.name=" + os.path.join(ROOT, "tests", "fixtures", "bert_test_tiny.yaml"),
        "--set", "model.seq_length=32", "--set", "data.train_batch_size=4",
        "--set", "data.max_predictions_per_seq=5", "--set", "trainer.log_every=1"]


def write_corpus(path):
    rng = np.random.default_rng(0)
    words = ["alpha", "beta", "gamma", "delta", "token", "piece", "model", "layer", "head"]
    docs = []
    for _ in range(12):
        sentences = [" ".join(rng.choice(words, rng.integers(3, 8))) + "." for _ in range(6)]
        docs.append("\n".join(sentences))
    path.write_text("\n\n".join(docs) + "\n")


def make_records(tmp_path, vocab_dir, masking):
    corpus = tmp_path / "corpus.txt"
    write_corpus(corpus)
    out = tmp_path / f"records_{masking}"
    result = run_script("create_pretraining_data.py", f"--input_file={corpus}",
                        f"--vocab_dir={vocab_dir}", f"--output_dir={out}", "--seq_length=32",
                        "--max_predictions_per_seq=5", f"--masking={masking}",
                        "--dupe_factor=2", "--whole_word_masking")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "wrote" in result.stdout
    return out


def test_static_records_hold_consistent_masks(tmp_path, tiny_checkpoint):
    out = make_records(tmp_path, tiny_checkpoint, "static")
    files = sorted(out.glob("*.tfrecord"))
    assert len(files) == 2 and not list(out.glob("*.tmp*"))
    example = tf.train.Example.FromString(next(iter(tf.data.TFRecordDataset(str(files[0])))).numpy())
    f = {k: list(v.int64_list.value or v.float_list.value) for k, v in example.features.feature.items()}
    assert len(f["input_ids"]) == 32 and len(f["masked_lm_positions"]) == 5
    n = int(sum(f["masked_lm_weights"]))
    assert n >= 1
    ids = f["input_ids"]
    assert ids[0] == 101 and ids[int(sum(f["input_mask"])) - 1] == 102  # [CLS] ... [SEP]


def test_pretraining_runs_and_resumes_after_sigkill(tmp_path, tiny_checkpoint):
    records = make_records(tmp_path, tiny_checkpoint, "dynamic")
    model_dir = tmp_path / "run"
    args = [os.path.join(ROOT, "run_pretraining.py"), f"--model_dir={model_dir}",
            "--set", f"task.input_files={records}/*.tfrecord", "--set", "data.dynamic_masking=true",
            "--set", f"model.vocab_file={tiny_checkpoint}/vocab.txt",
            "--set", "trainer.train_steps=5000", "--set", "trainer.checkpoint_every=5", *FAST]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    ckpt_dir = model_dir / "checkpoints"
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None and not (
            ckpt_dir.is_dir() and tf.train.latest_checkpoint(str(ckpt_dir))):
        time.sleep(0.5)
    assert proc.poll() is None, proc.stdout.read()[-3000:]
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    saved = tf.train.latest_checkpoint(str(ckpt_dir))
    assert saved, "no checkpoint was written before the kill"
    saved_step = int(saved.rsplit("-", 1)[1])
    assert saved_step % 5 == 0 and saved_step < 5000

    resumed = subprocess.run([sys.executable, *args[:-len(FAST) - 4],
                              "--set", f"trainer.train_steps={saved_step + 5}",
                              "--set", "trainer.checkpoint_every=5", *FAST],
                             env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"at step {saved_step}" in resumed.stdout
    first_logged = [line for line in resumed.stdout.splitlines() if line.startswith("step ")][0]
    assert first_logged.startswith(f"step {saved_step + 1}/")
    with open(model_dir / "metrics.json") as f:
        metrics = json.load(f)
    assert metrics["steps"] == saved_step + 5 and metrics["steps_this_run"] == 5
    assert 0.0 <= metrics["train"]["mlm_accuracy"] <= 1.0 and "nsp_loss" in metrics["train"]
    assert os.path.isfile(model_dir / "hf_model" / "model.safetensors")
    assert os.path.isdir(model_dir / "train")  # TensorBoard summaries


def test_bad_pretraining_inputs(tmp_path, tiny_checkpoint):
    result = run_script("create_pretraining_data.py", f"--input_file={tmp_path}/none.txt",
                        f"--vocab_dir={tiny_checkpoint}", f"--output_dir={tmp_path}/out",
                        "--seq_length=32")
    assert result.returncode == 2 and "input file not found" in result.stderr
    result = run_script("run_pretraining.py", f"--model_dir={tmp_path}/run",
                        "--set", f"task.input_files={tmp_path}/nothing*.tfrecord",
                        "--set", "trainer.train_steps=2", "--set", "data.dynamic_masking=false",
                        *FAST)
    assert result.returncode == 2 and "no TFRecord files match" in result.stderr
    result = run_script("run_pretraining.py", f"--model_dir={tmp_path}/run",
                        "--distribution_strategy=tpu", "--tpu=grpc://127.0.0.1:1",
                        "--set", "task.input_files=x", *FAST)
    assert result.returncode == 2 and "no TPU reachable" in result.stderr
    assert "Traceback" not in result.stderr
