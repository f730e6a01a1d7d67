"""run_fewshot.py end to end on a tiny GPT-2 folder with a byte-level BPE tokenizer."""

import json
import shutil

import pytest

import tfmodels
from tests.conftest import fixture_path, one_line_error, run_script
from tfmodels.models import gpt2

ITEMS = [
    ("The cat sat on the", "mat|dog|sky", "mat"),
    ("Two plus two is", "four|five", "0"),
    ("The sky is", "blue|green|loud", "blue"),
    ("Water is", "wet|dry", "1"),
    ("Fire is", "hot|cold", "hot"),
    ("Ice is", "cold|hot", "cold"),
]


@pytest.fixture(scope="module")
def gpt2_dir(tmp_path_factory):
    """A random GPT-2 in the HF layout whose vocabulary is roberta_bpe's plus <|endoftext|>."""
    path = tmp_path_factory.mktemp("tiny_gpt2")
    with open(fixture_path("roberta_bpe", "vocab.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    vocab["<|endoftext|>"] = len(vocab)
    config = gpt2.Config(
        vocab_size=len(vocab), hidden_size=16, num_layers=1, num_heads=2, max_position_embeddings=32
    )
    tfmodels.save_pretrained(gpt2.GPT2LMHeadModel(config), str(path))
    (path / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    shutil.copy(fixture_path("roberta_bpe", "merges.txt"), path / "merges.txt")
    return str(path)


def write_tsv(path, rows):
    path.write_text(
        "context\tchoices\tlabel\n" + "".join("\t".join(r) + "\n" for r in rows), encoding="utf-8"
    )
    return str(path)


def test_writes_accuracy_for_each_k(gpt2_dir, tmp_path):
    items = write_tsv(tmp_path / "items.tsv", ITEMS)
    out = tmp_path / "out"
    result = run_script(
        "run_fewshot.py",
        f"--model={gpt2_dir}",
        f"--eval_file={items}",
        "--shots=0,1,4",
        f"--output_dir={out}",
        "--normalize=token",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((out / "fewshot_results.json").read_text())
    assert set(report["results"]) == {"0", "1", "4"} and report["seq_length"] == 32
    for k, r in report["results"].items():
        assert r["examples"] == 6 and r["accuracy"] == r["correct"] / 6
        assert f"{k}-shot accuracy {r['accuracy']:.4f} on 6 items" in result.stdout
    # 4 demonstrations of about 6 tokens do not fit 32 positions with the query: dropped.
    assert report["results"]["4"]["prompts_with_dropped_demonstrations"] > 0
    assert report["results"]["0"]["prompts_with_dropped_demonstrations"] == 0
    assert "lost demonstrations" in result.stdout
    assert not list(out.glob("*.tmp*"))


def test_a_malformed_row_is_one_clear_error(gpt2_dir, tmp_path):
    items = write_tsv(tmp_path / "items.tsv", ITEMS[:2] + [("No label here", "a|b")])
    result = run_script(
        "run_fewshot.py",
        f"--model={gpt2_dir}",
        f"--eval_file={items}",
        f"--output_dir={tmp_path / 'out'}",
    )
    assert one_line_error(result) == (
        f"error: {items}:4: expected 3 columns (tab-separated: context, choices, label), found 2"
    )
    assert not (tmp_path / "out").exists()
