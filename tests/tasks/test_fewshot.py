"""GPT-3-style few-shot scoring: log-likelihoods, batching, prompts, truncation, TSV errors."""

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import fixture_path
from tfmodels.errors import ConfigError, DataError
from tfmodels.models import gpt2
from tfmodels.tasks import fewshot
from tfmodels.tokenizers import ByteBPETokenizer

SEQ = 32


@pytest.fixture(scope="module")
def tokenizer():
    return ByteBPETokenizer(
        fixture_path("roberta_bpe", "vocab.json"), fixture_path("roberta_bpe", "merges.txt")
    )


@pytest.fixture(scope="module")
def model(tokenizer):
    tf.keras.utils.set_random_seed(0)
    # A large init range gives peaked, position-dependent logits (near-uniform ones
    # would let wrong position bookkeeping pass unnoticed).
    config = gpt2.Config(
        vocab_size=tokenizer.vocab_size,
        hidden_size=16,
        num_layers=1,
        num_heads=2,
        max_position_embeddings=SEQ,
        initializer_range=0.5,
    )
    return gpt2.GPT2LMHeadModel(config)


@pytest.fixture(scope="module")
def scorer(model, tokenizer):
    return fewshot.Scorer(model, tokenizer, SEQ, batch_size=4)


def by_hand(model, prompt, candidate):
    """Sum of log p(candidate token) from one unpadded forward pass's log-softmax."""
    ids = np.array([prompt + candidate], np.int32)
    logits = model({"input_ids": ids, "input_mask": np.ones_like(ids)})["logits"][0].numpy()
    shifted = logits.astype(np.float64) - logits.max(-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    return sum(log_probs[len(prompt) + j - 1, token] for j, token in enumerate(candidate))


def items(*rows):
    return [
        fewshot.Item(context, choices, label, f"test line {n}")
        for n, (context, choices, label) in enumerate(rows, start=2)
    ]


def test_score_is_the_sum_of_the_candidate_log_probs(model, scorer):
    prompt, candidate = [5, 17, 230, 41, 9], [77, 301, 12]
    got = scorer.score([prompt], [candidate])[0]
    assert abs(got - by_hand(model, prompt, candidate)) < 1e-4
    # The prompt's own tokens are not counted: a one-token prompt scores differently.
    assert abs(scorer.score([prompt[-1:]], [candidate])[0] - got) > 1e-3


def test_padding_and_batching_do_not_change_scores(model, tokenizer):
    rng = np.random.default_rng(1)
    prompts = [list(rng.integers(0, 800, n)) for n in (1, 9, 3, 20, 6, 14)]
    candidates = [list(rng.integers(0, 800, n)) for n in (4, 1, 7, 2, 11, 3)]
    alone = fewshot.Scorer(model, tokenizer, SEQ, batch_size=1).score(prompts, candidates)
    batched = fewshot.Scorer(model, tokenizer, SEQ, batch_size=6).score(prompts, candidates)
    assert np.max(np.abs(alone - batched)) <= 1e-5
    assert np.ptp(alone) > 1.0  # different sequences, different scores


def test_prompt_has_exactly_k_demonstrations():
    pool = items(*[(f"question {i}", ["yes", "no"], i % 2) for i in range(10)])
    fmt = fewshot.PromptFormat(separator="\n", choice_prefix=" ", description="Answer:")
    for k in (0, 1, 4, 9):
        demos = fewshot.sample_demonstrations(pool, k, np.random.default_rng(k), exclude=3)
        assert len({d.context for d in demos}) == k and pool[3] not in demos
        lines = fewshot.format_prompt(pool[3], demos, fmt).split("\n")
        assert lines[0] == "Answer:" and lines[-1] == "question 3" and len(lines) == k + 2
        assert lines[1:-1] == [f"{d.context} {d.choices[d.label]}" for d in demos]
    with pytest.raises(ConfigError, match="10-shot needs 10 demonstrations"):
        fewshot.sample_demonstrations(pool, 10, np.random.default_rng(0), exclude=3)


def test_predictions_are_the_brute_force_argmax(model, scorer, tokenizer):
    data = items(
        ("The cat sat on the", ["mat", "dog", "sky is blue"], 0),
        ("Two plus two is", ["four", "five"], 1),
        ("Water is", ["wet", "dry", "made of fire", "cold"], 3),
    )
    fmt = fewshot.PromptFormat()
    demos = [[data[(i + 1) % 3]] for i in range(3)]
    scores, dropped, cut = fewshot.score_items(scorer, data, demos, fmt)
    assert dropped == cut == [0, 0, 0]
    prompts = scorer.tokenize([fewshot.format_prompt(q, d, fmt) for q, d in zip(data, demos)])
    for item, prompt, got in zip(data, prompts, scores):
        choices = scorer.tokenize([" " + c for c in item.choices])
        brute = [by_hand(model, prompt, c) for c in choices]
        np.testing.assert_allclose(got, brute, atol=1e-4)
        assert np.argmax(got) == np.argmax(brute)
    per_token, _, _ = fewshot.score_items(scorer, data, demos, fmt, normalize="token")
    lengths = [len(scorer.tokenize([" " + c])[0]) for c in data[2].choices]
    np.testing.assert_allclose(per_token[2], scores[2] / lengths, rtol=1e-6)


class FavoursOneToken:
    """A 'language model' whose next token is ``favoured`` with probability ~1 everywhere."""

    def __init__(self, vocab_size, favoured):
        self.bias = np.zeros(vocab_size, np.float32)
        self.bias[favoured] = 20.0

    def __call__(self, features, training=False):
        shape = tf.concat([tf.shape(features["input_ids"]), [len(self.bias)]], 0)
        return {"logits": tf.broadcast_to(tf.constant(self.bias), shape)}


def test_a_model_that_favours_a_candidate_picks_it(tokenizer):
    favoured = tokenizer(tf.constant([" people"])).to_list()[0]
    assert len(favoured) == 1
    scorer = fewshot.Scorer(FavoursOneToken(tokenizer.vocab_size, favoured[0]), tokenizer, SEQ)
    data = items(
        ("Who is it? It is", ["you", "people", "man"], 1),
        ("Who is it? It is", ["people", "one"], 0),
        ("Who is it? It is", ["people", "man"], 1),
    )
    results = fewshot.evaluate(scorer, data, shots=(0, 1))
    assert [r["correct"] for r in results.values()] == [2, 2]


def test_demonstrations_are_dropped_from_the_left_to_fit(scorer):
    data = items(*[(f"Sentence number {i} is here", ["yes", "no"], i % 2) for i in range(6)])
    fmt = fewshot.PromptFormat()
    demos = [[d for d in data if d is not q] for q in data]  # 5 demonstrations each
    prompts, dropped, cut = fewshot._fit_prompts(scorer, data, demos, fmt, [[[1]] for _ in data])
    for q, demo, ids, n in zip(data, demos, prompts, dropped):
        assert 0 < n < 5 and cut == [0] * 6
        assert len(ids) + 1 <= SEQ
        assert ids == scorer.tokenize([fewshot.format_prompt(q, demo[n:], fmt)])[0]
        longer = scorer.tokenize([fewshot.format_prompt(q, demo[n - 1 :], fmt)])[0]
        assert len(longer) + 1 > SEQ  # one demonstration fewer dropped would not fit
    long_query = items((" ".join(["word"] * 40), ["yes", "no"], 0))
    prompts, dropped, cut = fewshot._fit_prompts(scorer, long_query, [[]], fmt, [[[1, 2]]])
    assert cut[0] > 0 and len(prompts[0]) == SEQ - 2


def test_a_candidate_that_cannot_fit_names_its_line(scorer):
    data = items(("Short", ["yes", " ".join(["word"] * 40)], 0))
    with pytest.raises(DataError, match="test line 2: choice 'word word"):
        fewshot.score_items(scorer, data, [[]])


def test_read_items_formats_and_errors(tmp_path):
    mc = tmp_path / "mc.tsv"
    mc.write_text("context\tchoices\tlabel\nQ one\ta|b|c\tb\nQ two\tx|y\t1\n", encoding="utf-8")
    got = fewshot.read_items(str(mc))
    assert [(i.context, i.choices, i.label) for i in got] == [
        ("Q one", ["a", "b", "c"], 1),
        ("Q two", ["x", "y"], 1),
    ]
    cls = tmp_path / "cls.tsv"
    cls.write_text("label\tcontext\nneg\tBad film.\npos\tGood film.\n", encoding="utf-8")
    assert [i.label for i in fewshot.read_items(str(cls), ["pos", "neg"])] == [1, 0]
    bad = tmp_path / "bad.tsv"
    bad.write_text(
        "context\tchoices\tlabel\nQ one\ta|b\t0\nQ two has no label\ta|b\n", encoding="utf-8"
    )
    with pytest.raises(DataError, match=r"bad.tsv:3: expected 3 columns \(tab-separated: context,"):
        fewshot.read_items(str(bad))
    bad.write_text("context\tchoices\tlabel\nQ\ta|b\tc\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.tsv:2: label 'c' is neither"):
        fewshot.read_items(str(bad))
    with pytest.raises(DataError, match="no 'choices' column"):
        fewshot.read_items(str(cls))
