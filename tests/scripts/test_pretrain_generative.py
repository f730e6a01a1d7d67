"""The generative objectives end to end: text -> records -> pre-training steps -> hf_model.

One run per objective (causal_lm GPT-2, span_corruption T5, denoising BART,
permutation_lm XLNet), each with its family's tokenizer: records.json, the loss going
down, and the saved ``hf_model`` reloading as the family's LM class. In-process
(``create_records`` / ``run_experiment`` are the scripts' bodies) to skip the
~10 s start-up of a subprocess.

XLNet's own tokenizer (SentencePiece, ``<sep> <cls>`` at the END of the sequence) is not
packed by tfmodels yet; the permutation records only need the pieces, the separator
and the pad token, so the ALBERT SentencePiece fixture stands in for it (the same
algorithm, ``▁`` word starts) behind an XLNet config.json.
"""

import json
import shutil

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import fixture_path
from tests.scripts.test_run_pretraining import write_corpus

SEQ = 16
STEPS = 10
T5_SPIECE_SIZE = 68  # t5_spiece's pieces; HF's T5Tokenizer adds 100 <extra_id_N> after them

TINY = {  # family, objective it defaults to, tiny model YAML, the class hf_model reloads as
    "gpt2": (
        "causal_lm",
        "GPT2LMHeadModel",
        dict(
            vocab_size=801, hidden_size=16, num_layers=1, num_heads=2, max_position_embeddings=SEQ
        ),
    ),
    "t5": (
        "span_corruption",
        "T5ForConditionalGeneration",
        dict(
            vocab_size=T5_SPIECE_SIZE + 100,
            hidden_size=16,
            head_size=8,
            intermediate_size=32,
            num_layers=1,
            num_decoder_layers=1,
            num_heads=2,
            num_buckets=8,
            max_distance=16,
        ),
    ),
    "bart": (
        "denoising",
        "BartForConditionalGeneration",
        dict(
            vocab_size=800,
            hidden_size=16,
            num_encoder_layers=1,
            num_decoder_layers=1,
            num_encoder_heads=2,
            num_decoder_heads=2,
            encoder_intermediate_size=32,
            decoder_intermediate_size=32,
            max_position_embeddings=SEQ,
        ),
    ),
    "xlnet": (
        "permutation_lm",
        "XLNetLMHeadModel",
        dict(vocab_size=1000, hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32),
    ),
}


def tokenizer_dir(root, family):
    """A tokenizer folder whose config.json names ``family`` (so create_records picks the
    family's default objective) and whose ids fit TINY[family]'s vocab_size."""
    if family == "t5":
        return fixture_path("t5_spiece")  # spiece.model + {"model_type": "t5"}
    path = root / f"{family}_tokenizer"
    path.mkdir()
    if family == "xlnet":
        shutil.copy(fixture_path("albert_spiece", "spiece.model"), path / "spiece.model")
    else:  # byte-level BPE: GPT-2 and BART share RoBERTa's algorithm
        with open(fixture_path("roberta_bpe", "vocab.json"), encoding="utf-8") as f:
            vocab = json.load(f)
        if family == "gpt2":  # GPT-2's only special token
            vocab["<|endoftext|>"] = len(vocab)
        (path / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
        shutil.copy(fixture_path("roberta_bpe", "merges.txt"), path / "merges.txt")
    (path / "config.json").write_text(json.dumps({"model_type": family}))
    return str(path)


def experiment(tmp_path, family, *overrides):
    import yaml

    from tfmodels.training.experiment import load_experiment

    model_yaml = tmp_path / f"{family}.yaml"
    model_yaml.write_text(yaml.safe_dump({"family": family, **TINY[family][2]}))
    return load_experiment(
        None,
        [
            f"task.input_files={tmp_path}/records/*.tfrecord",
            f"model.name={model_yaml}",
            f"model.seq_length={SEQ}",
            "data.train_batch_size=8",
            f"trainer.train_steps={STEPS}",
            "trainer.log_every=1",
            f"trainer.checkpoint_every={STEPS}",
            "optimizer.lr=5e-3",
            "schedule.warmup_steps=0",
            "data.shuffle_buffer=100",
            *overrides,
        ],
        task_type="pretraining",
    )


def first_record(records_dir):
    path = sorted(records_dir.glob("*.tfrecord"))[0]
    record = next(iter(tf.data.TFRecordDataset(str(path))))
    return {
        k: list(v.int64_list.value or v.float_list.value)
        for k, v in tf.train.Example.FromString(record.numpy()).features.feature.items()
    }


def reload_features(family):
    ids = tf.constant([[5, 6, 7, 8, 9, 10]], tf.int32)
    features = {"input_ids": ids, "input_mask": tf.ones_like(ids)}
    if family in ("t5", "bart"):
        features["decoder_input_ids"] = ids[:, :4]
    if family == "xlnet":
        features["segment_ids"] = tf.zeros_like(ids)
    return features


@pytest.mark.parametrize("family", list(TINY))
def test_generative_pretraining_end_to_end(tmp_path, family):
    import tfmodels
    from tfmodels.pretraining.records import RecordOptions, create_records
    from tfmodels.training.driver import run_experiment

    objective, architecture, model_config = TINY[family]
    corpus = tmp_path / "corpus.txt"
    write_corpus(corpus)
    records = tmp_path / "records"
    # No objective given: the tokenizer folder's config.json family decides it.
    _, facts = create_records(
        [str(corpus)],
        tokenizer_dir(tmp_path, family),
        str(records),
        options=RecordOptions(seq_length=SEQ, static_masking=None, dupe_factor=2),
    )
    with open(records / "records.json", encoding="utf-8") as f:
        manifest = json.load(f)
    assert manifest["objective"] == facts["objective"] == objective
    assert manifest["masking"] == "none" and manifest["seq_length"] == SEQ
    assert manifest["examples"] >= 8 and manifest["vocab_size"] <= model_config["vocab_size"]

    example = first_record(records)
    assert not {"masked_lm_positions", "masked_lm_ids", "next_sentence_labels"} & set(example)
    assert len(example["input_ids"]) == SEQ
    assert max(example["input_ids"]) < model_config["vocab_size"]
    if family == "t5":  # a sentinel (the HF ids after the pieces) stands for each span
        assert any(i >= T5_SPIECE_SIZE for i in example["input_ids"])
        assert example["decoder_input_ids"][0] == 0  # T5 starts the decoder with <pad>
    if family == "bart":  # <s> ... </s>, one <mask> per infilled span; decoder starts </s>
        with open(fixture_path("roberta_bpe", "vocab.json"), encoding="utf-8") as f:
            mask = json.load(f)["<mask>"]
        assert example["input_ids"][0] == 0 and mask in example["input_ids"]
        assert example["decoder_input_ids"][0] == 2 and example["labels"][0] == 0
    if family == "xlnet":
        assert len(example["perm_mask"]) == SEQ * SEQ and sum(example["target_weights"]) >= 1

    model_dir = tmp_path / "run"
    summary = run_experiment(experiment(tmp_path, family), str(model_dir))
    with open(model_dir / "history.json", encoding="utf-8") as f:
        losses = [h["loss"] for h in json.load(f) if "loss" in h]
    print(
        f"\n{family} {objective}: loss {losses[0]:.3f} -> {losses[-1]:.3f} "
        f"({', '.join(f'{x:.2f}' for x in losses)})"
    )
    assert len(losses) == STEPS and np.all(np.isfinite(losses))
    assert np.mean(losses[-3:]) < np.mean(losses[:3]) - 0.05, losses
    metric = "plm_loss" if family == "xlnet" else "lm_loss"
    assert metric in summary["train"], sorted(summary["train"])

    model = tfmodels.from_pretrained(str(model_dir / "hf_model"))
    assert model.architecture == architecture
    logits = model(reload_features(family))["logits"]
    assert logits.shape[-1] == model_config["vocab_size"]
    assert np.all(np.isfinite(logits.numpy()))


def test_generative_model_refuses_masked_lm(tmp_path):
    """mlm asked of GPT-2: one ConfigError naming the objective and the family default,
    before anything is built; check_model says the same of a built GPT-2 LM."""
    from tfmodels.errors import ConfigError
    from tfmodels.models import gpt2
    from tfmodels.pretraining import registry
    from tfmodels.training.driver import run_experiment

    with pytest.raises(
        ConfigError,
        match=r"objective 'mlm' \(RoBERTa.*\) needs a masked_lm "
        r"model, but the gpt2 family has none; pick an "
        r"objective the gpt2 family can run \(default: "
        r"causal_lm\)",
    ):
        run_experiment(experiment(tmp_path, "gpt2", "task.objective=mlm"), str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()
    model = gpt2.GPT2LMHeadModel(gpt2.Config(**TINY["gpt2"][2]))
    registry.check_model(registry.get_objective("causal_lm"), model, "gpt2")  # fits
    with pytest.raises(
        ConfigError,
        match=r"objective 'mlm_nsp' .* needs the model's mlm_head "
        r"and sentence_head, but the gpt2 model "
        r"GPT2LMHeadModel has none",
    ):
        registry.check_model(registry.get_objective("mlm_nsp"), model, "gpt2")
