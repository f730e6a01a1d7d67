"""Text -> TFRecords -> pre-training steps; a SIGKILLed run resumes from its checkpoint."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import ROOT, experiment, one_line_error, run_script

FAST = [
    "--set",
    "model.name=" + os.path.join(ROOT, "tests", "fixtures", "bert_test_tiny.yaml"),
    "--set",
    "model.seq_length=32",
    "--set",
    "data.train_batch_size=4",
    "--set",
    "task.max_predictions_per_seq=5",
    "--set",
    "trainer.log_every=1",
]


def write_corpus(path):
    rng = np.random.default_rng(0)
    words = ["alpha", "beta", "gamma", "delta", "token", "piece", "model", "layer", "head"]
    docs = []
    for _ in range(12):
        sentences = [" ".join(rng.choice(words, rng.integers(3, 8))) + "." for _ in range(6)]
        docs.append("\n".join(sentences))
    path.write_text("\n\n".join(docs) + "\n")


def make_records(tmp_path, vocab_dir, masking):
    """create_pretraining_data.py's body in-process (the script runs in the next test)."""
    from tfmodels.pretraining.records import RecordOptions, create_records

    corpus = tmp_path / "corpus.txt"
    write_corpus(corpus)
    out = tmp_path / f"records_{masking}"
    options = RecordOptions(
        seq_length=32,
        static_masking=masking == "static",
        max_predictions=5,
        whole_word=True,
        dupe_factor=2,
    )
    create_records([str(corpus)], vocab_dir, str(out), options=options)
    return out


def test_static_records_hold_consistent_masks(tmp_path, tiny_checkpoint):
    corpus = tmp_path / "corpus.txt"
    write_corpus(corpus)
    out = tmp_path / "records_static"
    result = run_script(
        "create_pretraining_data.py",
        f"--input_file={corpus}",
        f"--vocab_dir={tiny_checkpoint}",
        f"--output_dir={out}",
        "--seq_length=32",
        "--max_predictions_per_seq=5",
        "--masking=static",
        "--dupe_factor=2",
        "--whole_word_masking",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "wrote" in result.stdout
    files = sorted(out.glob("*.tfrecord"))
    assert len(files) == 2 and not list(out.glob("*.tmp*"))
    record = next(iter(tf.data.TFRecordDataset(str(files[0])))).numpy()
    example = tf.train.Example.FromString(record)
    f = {
        k: list(v.int64_list.value or v.float_list.value)
        for k, v in example.features.feature.items()
    }
    assert len(f["input_ids"]) == 32 and len(f["masked_lm_positions"]) == 5
    n = int(sum(f["masked_lm_weights"]))
    assert n >= 1
    ids = f["input_ids"]
    assert ids[0] == 101 and ids[int(sum(f["input_mask"])) - 1] == 102  # [CLS] ... [SEP]


@pytest.mark.slow
def test_pretraining_runs_and_resumes_after_sigkill(tmp_path, tiny_checkpoint):
    records = make_records(tmp_path, tiny_checkpoint, "dynamic")
    model_dir = tmp_path / "run"
    args = [
        os.path.join(ROOT, "run_pretraining.py"),
        f"--model_dir={model_dir}",
        "--set",
        f"task.input_files={records}/*.tfrecord",
        "--set",
        "task.dynamic_masking=true",
        "--set",
        f"model.vocab_file={tiny_checkpoint}/vocab.txt",
        "--set",
        "trainer.train_steps=5000",
        "--set",
        "trainer.checkpoint_every=5",
        *FAST,
    ]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
    proc = subprocess.Popen(
        [sys.executable, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    ckpt_dir = model_dir / "checkpoints"
    deadline = time.time() + 240
    while (
        time.time() < deadline
        and proc.poll() is None
        and not (ckpt_dir.is_dir() and tf.train.latest_checkpoint(str(ckpt_dir)))
    ):
        time.sleep(0.5)
    assert proc.poll() is None, proc.stdout.read()[-3000:]
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    saved = tf.train.latest_checkpoint(str(ckpt_dir))
    assert saved, "no checkpoint was written before the kill"
    saved_step = int(saved.rsplit("-", 1)[1])
    assert saved_step % 5 == 0 and saved_step < 5000

    resumed = subprocess.run(
        [
            sys.executable,
            *args[: -len(FAST) - 4],
            "--set",
            f"trainer.train_steps={saved_step + 5}",
            "--set",
            "trainer.checkpoint_every=5",
            *FAST,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
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
    from tfmodels.errors import TfmodelsError
    from tfmodels.training.driver import run_experiment

    result = run_script(
        "create_pretraining_data.py",
        f"--input_file={tmp_path}/none.txt",
        f"--vocab_dir={tiny_checkpoint}",
        f"--output_dir={tmp_path}/out",
        "--seq_length=32",
    )
    assert "input file not found" in one_line_error(result)
    sets = [s for s in FAST if s != "--set"]
    cfg = experiment(
        f"task.input_files={tmp_path}/nothing*.tfrecord",
        "trainer.train_steps=2",
        "task.dynamic_masking=false",
        *sets,
        task_type="pretraining",
    )
    with pytest.raises(TfmodelsError, match="no TFRecord files match"):
        run_experiment(cfg, str(tmp_path / "run"))
    # Records that exist and hold one example: the run gets as far as the strategy.
    with tf.io.TFRecordWriter(str(tmp_path / "one.tfrecord")) as writer:
        writer.write(tf.train.Example().SerializeToString())
    cfg = experiment(
        f"task.input_files={tmp_path / 'one.tfrecord'}",
        "trainer.train_steps=2",
        *sets,
        "runtime.distribution_strategy=tpu",
        "runtime.tpu=grpc://127.0.0.1:1",
        task_type="pretraining",
    )
    with pytest.raises(TfmodelsError, match="no TPU reachable"):
        run_experiment(cfg, str(tmp_path / "run"))


# ---- Each family's objective: records with its own tokenizer, a few steps, loss goes down.
# In-process (create_records / run_experiment are the scripts' bodies) to keep
# each under ~25 s; the scripts themselves run in the tests above and below.

TINY_MODELS = {
    "roberta": dict(
        family="roberta",
        vocab_size=800,
        hidden_size=16,
        num_layers=1,
        num_heads=2,
        intermediate_size=32,
        max_position_embeddings=34,
        type_vocab_size=1,
        pad_token_id=1,
    ),
    "albert": dict(
        family="albert",
        vocab_size=1000,
        embedding_size=16,
        hidden_size=16,
        num_layers=1,
        num_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
    ),
    "electra": dict(
        family="electra",
        vocab_size=30522,
        embedding_size=16,
        hidden_size=16,
        num_layers=1,
        num_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
    ),
    "bert": dict(
        family="bert",
        vocab_size=30522,
        hidden_size=16,
        num_layers=1,
        num_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
    ),
    "deberta": dict(
        family="deberta-v2",
        vocab_size=30522,
        hidden_size=16,
        num_layers=3,
        num_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
        type_vocab_size=0,
        relative_attention=True,
        position_buckets=8,
        norm_rel_ebd="layer_norm",
        share_att_key=True,
        pos_att_type=["p2c", "c2p"],
        position_biased_input=False,
    ),
    "deberta_generator": dict(
        family="deberta-v2",
        vocab_size=30522,
        hidden_size=16,
        num_layers=2,
        num_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
        type_vocab_size=0,
        relative_attention=True,
        position_buckets=8,
        norm_rel_ebd="layer_norm",
        share_att_key=True,
        pos_att_type=["p2c", "c2p"],
        position_biased_input=False,
    ),
    "electra_generator": dict(
        family="electra",
        vocab_size=30522,
        embedding_size=16,
        hidden_size=8,
        num_layers=1,
        num_heads=2,
        intermediate_size=16,
        max_position_embeddings=32,
    ),
}


def tiny_model_yaml(tmp_path, name):
    import yaml

    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(TINY_MODELS[name]))
    return str(path)


def pretrain(tmp_path, config, vocab_dir, objective, static, *overrides, steps=30):
    """create_records + run_pretraining's run(); returns (model_dir, history, records facts)."""
    from tfmodels.pretraining.records import RecordOptions, create_records
    from tfmodels.training.driver import run_experiment
    from tfmodels.training.experiment import load_experiment

    corpus = tmp_path / "corpus.txt"
    write_corpus(corpus)
    out = tmp_path / "records"
    options = RecordOptions(
        seq_length=32, static_masking=static, max_predictions=5, whole_word=True, dupe_factor=2
    )
    _, facts = create_records([str(corpus)], vocab_dir, str(out), objective, options)
    model_dir = tmp_path / "run"
    cfg = load_experiment(
        os.path.join(ROOT, "configs", "experiments", config),
        [
            f"task.input_files={out}/*.tfrecord",
            "model.seq_length=32",
            "data.train_batch_size=8",
            "task.max_predictions_per_seq=5",
            f"task.dynamic_masking={str(not static).lower()}",
            f"trainer.train_steps={steps}",
            "trainer.log_every=5",
            f"trainer.checkpoint_every={steps}",
            "optimizer.lr=2e-3",
            "schedule.warmup_steps=0",
            "data.shuffle_buffer=100",
            *overrides,
        ],
        task_type="pretraining",
    )
    run_experiment(cfg, str(model_dir))
    with open(model_dir / "history.json") as f:
        history = [h for h in json.load(f) if "loss" in h]
    assert tf.train.latest_checkpoint(str(model_dir / "checkpoints"))
    return model_dir, history, facts


def loss_went_down(history, *metrics):
    """The mean loss of the last logged window (5 steps) is below the first one's."""
    first, last = history[0], history[-1]
    assert len(history) >= 5 and last["step"] - first["step"] >= 20
    assert last["loss"] < first["loss"], history
    for name in metrics:
        assert name in last, sorted(last)
    return first["loss"], last["loss"]


def reload_and_run(hf_dir, seq_length=32):
    import tfmodels

    model = tfmodels.from_pretrained(str(hf_dir))
    ids = tf.constant([[5] * seq_length], tf.int32)
    return model, model(
        {"input_ids": ids, "input_mask": tf.ones_like(ids), "segment_ids": tf.zeros_like(ids)}
    )


def test_roberta_mlm_full_sentences_byte_bpe(tmp_path):
    bpe = os.path.join(ROOT, "tests", "fixtures", "roberta_bpe")
    model_dir, history, facts = pretrain(
        tmp_path,
        "pretrain_roberta_base.yaml",
        bpe,
        None,
        False,
        f"model.name={tiny_model_yaml(tmp_path, 'roberta')}",
        f"model.vocab_file={bpe}/vocab.json",
    )
    assert facts["objective"] == "mlm" and facts["masking"] == "dynamic"
    record = next(iter(tf.data.TFRecordDataset(sorted(glob_records(tmp_path)))))
    f = tf.train.Example.FromString(record.numpy()).features.feature
    ids = list(f["input_ids"].int64_list.value)
    length = int(sum(f["input_mask"].int64_list.value))
    assert ids[0] == 0 and ids[length - 1] == 2 and set(ids[length:]) <= {1}  # <s> .. </s> <pad>
    assert "next_sentence_labels" not in f and "masked_lm_ids" not in f
    print("mlm", loss_went_down(history, "mlm_loss"))
    assert "nsp_loss" not in history[-1]
    model, out = reload_and_run(model_dir / "hf_model")
    assert model.architecture == "RobertaForMaskedLM" and out["mlm_logits"].shape[-1] == 800


def glob_records(tmp_path):
    return [str(p) for p in (tmp_path / "records").glob("*.tfrecord")]


def test_albert_mlm_sop_sentencepiece_static_whole_word(tmp_path):
    spiece = os.path.join(ROOT, "tests", "fixtures", "albert_spiece")
    model_dir, history, facts = pretrain(
        tmp_path,
        "pretrain_albert_base.yaml",
        spiece,
        "mlm_sop",
        True,
        f"model.name={tiny_model_yaml(tmp_path, 'albert')}",
    )
    assert facts["objective"] == "mlm_sop" and facts["masking"] == "static"
    labels, groups_whole = [], 0
    import tfmodels

    vocab = tfmodels.preprocessor_from_pretrained(spiece, 32).tokenizer.vocab
    for record in tf.data.TFRecordDataset(sorted(glob_records(tmp_path))):
        f = tf.train.Example.FromString(record.numpy()).features.feature
        ids = list(f["input_ids"].int64_list.value)
        labels.append(f["next_sentence_labels"].int64_list.value[0])
        assert ids[0] == vocab.index("[CLS]") and vocab.index("[SEP]") in ids
        n = int(sum(f["masked_lm_weights"].float_list.value))
        positions = list(f["masked_lm_positions"].int64_list.value)[:n]
        originals = [vocab[i] for i in list(f["masked_lm_ids"].int64_list.value)[:n]]
        # Whole words: a masked piece that continues a word ("▁" marks starts) has its
        # word's previous piece masked too.
        for p, token in zip(positions, originals):
            if not token.startswith("\u2581") and p - 1 in positions:
                groups_whole += 1
            assert (
                token.startswith("\u2581")
                or p - 1 in positions
                or vocab[ids[p - 1]] in ("[CLS]", "[SEP]")
            )
    assert 0 < sum(labels) < len(labels)  # swapped and in order both occur
    print("mlm_sop", loss_went_down(history, "mlm_loss", "sop_loss", "sop_accuracy"))
    model, out = reload_and_run(model_dir / "hf_model")
    assert model.architecture == "AlbertForPreTraining" and out["sentence_logits"].shape == (1, 2)


def test_electra_rtd_generator_and_discriminator(tmp_path, tiny_checkpoint):
    model_dir, history, facts = pretrain(
        tmp_path,
        "pretrain_electra_small.yaml",
        tiny_checkpoint,
        "rtd",
        False,
        f"model.name={tiny_model_yaml(tmp_path, 'electra')}",
        f"task.generator={tiny_model_yaml(tmp_path, 'electra_generator')}",
        f"model.vocab_file={tiny_checkpoint}/vocab.txt",
    )
    assert facts["objective"] == "rtd"
    print("rtd", loss_went_down(history, "mlm_loss", "rtd_loss", "replaced_fraction"))
    assert 0.0 < history[-1]["replaced_fraction"] < 0.3
    discriminator, out = reload_and_run(model_dir / "hf_model")
    assert discriminator.architecture == "ElectraForPreTraining"
    assert out["rtd_logits"].shape == (1, 32)
    generator, out = reload_and_run(model_dir / "hf_generator")
    assert generator.architecture == "ElectraForMaskedLM" and generator.config.hidden_size == 8


def test_spanbert_span_masking_and_boundary_objective(tmp_path, tiny_checkpoint):
    model_dir, history, facts = pretrain(
        tmp_path,
        "pretrain_spanbert_base.yaml",
        tiny_checkpoint,
        "span",
        True,
        f"model.name={tiny_model_yaml(tmp_path, 'bert')}",
        "task.objective=span",
    )
    assert facts["objective"] == "span"
    for record in list(tf.data.TFRecordDataset(glob_records(tmp_path)))[:20]:
        f = tf.train.Example.FromString(record.numpy()).features.feature
        n = int(sum(f["masked_lm_weights"].float_list.value))
        positions = list(f["masked_lm_positions"].int64_list.value)[:n]
        left = list(f["span_left"].int64_list.value)[:n]
        right = list(f["span_right"].int64_list.value)[:n]
        assert all(
            a < p < b and a not in positions and b not in positions
            for p, a, b in zip(positions, left, right)
        )
    print("span", loss_went_down(history, "mlm_loss", "sbo_loss"))
    model, out = reload_and_run(model_dir / "hf_model")  # released as SpanBERT is: a BertModel
    assert model.architecture == "BertModel" and out["sequence_output"].shape == (1, 32, 16)


@pytest.mark.slow
def test_deberta_v3_rtd_with_gradient_disentangled_embeddings(tmp_path, tiny_checkpoint):
    model_dir, history, facts = pretrain(
        tmp_path,
        "pretrain_deberta_v3_base.yaml",
        tiny_checkpoint,
        "rtd_gdes",
        False,
        f"model.name={tiny_model_yaml(tmp_path, 'deberta')}",
        f"task.generator={tiny_model_yaml(tmp_path, 'deberta_generator')}",
        f"model.vocab_file={tiny_checkpoint}/vocab.txt",
    )
    assert facts["objective"] == "rtd_gdes"
    print("rtd_gdes", loss_went_down(history, "mlm_loss", "rtd_loss"))
    discriminator, out = reload_and_run(model_dir / "hf_model")
    assert discriminator.architecture == "DebertaV2Model" and discriminator.config.num_layers == 3
    generator, _ = reload_and_run(model_dir / "hf_generator")
    assert generator.config.num_layers == 2


def test_objective_errors(tmp_path, tiny_checkpoint):
    """Unknown objectives exit 2 naming the flag/field; misfits are ConfigErrors naming both."""
    from tfmodels.errors import ConfigError
    from tfmodels.pretraining import registry
    from tfmodels.pretraining.records import create_records
    from tfmodels.training.driver import run_experiment
    from tfmodels.training.experiment import load_experiment

    result = run_script(
        "run_pretraining.py",
        f"--model_dir={tmp_path}/run",
        "--objective=bogus",
        "--set",
        "task.input_files=x",
        *FAST,
    )
    assert one_line_error(result).startswith(
        "error: --objective: unknown pre-training objective 'bogus'; known: mlm_nsp, mlm,"
    )
    corpus = tmp_path / "c.txt"
    write_corpus(corpus)
    with pytest.raises(ConfigError, match="--objective: unknown pre-training objective 'nsp'"):
        create_records([str(corpus)], tiny_checkpoint, str(tmp_path / "out"), "nsp")

    # Records that exist (their features are checked after the model is built).
    records = tmp_path / "one.tfrecord"
    with tf.io.TFRecordWriter(str(records)) as writer:
        writer.write(tf.train.Example().SerializeToString())

    def config(*sets):
        return load_experiment(
            None,
            [f"task.input_files={records}", "trainer.train_steps=2", *sets],
            task_type="pretraining",
        )

    with pytest.raises(ConfigError, match="task.objective: unknown pre-training objective 'x'"):
        run_experiment(
            config("task.objective=x", "model.name=bert_tiny_l2_h128"), str(tmp_path / "run")
        )
    # Reserved entries (span, rtd_gdes) resolve their hooks lazily: a missing module or
    # function is "not wired yet", whatever state the SpanBERT/DeBERTaV3 work is in.
    pending = registry.Objective(
        "pending",
        "a paper",
        "tfmodels.pretraining.nowhere:examples",
        "tfmodels.pretraining.objectives:no_such_loss",
    )
    with pytest.raises(
        ConfigError, match="'pending' .* not wired yet: tfmodels.pretraining.nowhere does not exist"
    ):
        pending.hook("examples")
    with pytest.raises(
        ConfigError, match="not wired yet: tfmodels.pretraining.objectives has no no_such_loss"
    ):
        pending.hook("loss")
    assert {"span", "rtd_gdes"} <= set(registry.OBJECTIVES)
    roberta = tiny_model_yaml(tmp_path, "roberta")
    with pytest.raises(
        ConfigError,
        match="objective 'mlm_sop' .* needs the model's "
        "sentence_head, but the roberta model "
        "RobertaForMaskedLM has none",
    ):
        run_experiment(
            config("task.objective=mlm_sop", f"model.name={roberta}"), str(tmp_path / "run")
        )
    with pytest.raises(ConfigError, match="task.generator: objective rtd .* needs"):
        run_experiment(
            config("task.objective=rtd", f"model.name={tiny_model_yaml(tmp_path, 'electra')}"),
            str(tmp_path / "run"),
        )
    with pytest.raises(ConfigError, match="model: objective rtd .* is a roberta model"):
        run_experiment(
            config("task.objective=rtd", f"model.name={roberta}", f"task.generator={roberta}"),
            str(tmp_path / "run"),
        )
    assert registry.objective_for(None, "albert").name == "mlm_sop"
    assert registry.objective_for(None, "roberta").name == "mlm"
    assert registry.objective_for("mlm", "bert").architecture == "masked_lm"


@pytest.mark.parametrize(
    "family,fixture,tokenizer,files",
    [
        (
            "roberta",
            "roberta_tiny_classifier",
            "roberta_bpe/vocab.json",
            {"vocab.json", "merges.txt"},
        ),
        ("albert", "albert_tiny_classifier", "albert_spiece/spiece.model", {"spiece.model"}),
    ],
)
def test_run_classifier_saves_the_tokenizer_it_trained_with(
    tmp_path, family, fixture, tokenizer, files
):
    """hf_model carries the backbone's own tokenizer files (not only a vocab.txt), so
    from_pretrained + preprocessor_from_pretrained of it give the trained predictions.
    (Here because this brief owns this file; it belongs with test_run_classifier.py.)"""
    import tfmodels
    from tfmodels.training.driver import run_experiment
    from tfmodels.training.experiment import load_experiment

    data_dir = tmp_path / "data"  # the fixtures have 3 labels
    data_dir.mkdir()
    for split in ("train", "dev"):
        rows = [f"the {w} number {i} is here\t{w}" for i, w in enumerate(["cat", "dog", "owl"] * 4)]
        (data_dir / f"{split}.tsv").write_text("text\tlabel\n" + "\n".join(rows) + "\n")
    fixtures = os.path.join(ROOT, "tests", "fixtures")
    cfg = load_experiment(
        None,
        [
            "task.name=tsv",
            f"task.data_dir={data_dir}",
            "task.text_a_column=text",
            "task.label_column=label",
            f"model.init_from={os.path.join(fixtures, fixture)}",
            f"model.vocab_file={os.path.join(fixtures, tokenizer)}",
            "model.seq_length=32",
            "trainer.train_steps=3",
            "trainer.checkpoint_every=3",
            "data.train_batch_size=4",
        ],
    )
    run_experiment(cfg, str(tmp_path / "run"))
    hf_dir = tmp_path / "run" / "hf_model"
    assert files <= set(os.listdir(hf_dir)) and "vocab.txt" not in os.listdir(hf_dir)
    model = tfmodels.from_pretrained(str(hf_dir))
    pre = tfmodels.preprocessor_from_pretrained(str(hf_dir), 32)
    trained = tfmodels.preprocessor_from_pretrained(
        os.path.dirname(os.path.join(fixtures, tokenizer)), 32
    )
    texts = tf.constant(["the film number 3 is good today", "a bad show"])
    np.testing.assert_array_equal(pre(texts)["input_ids"], trained(texts)["input_ids"])
    assert model(pre(texts))["logits"].shape == (2, 3)
