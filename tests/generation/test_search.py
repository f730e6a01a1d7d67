"""Decoding: the key/value cache changes nothing, and the searches do what they claim."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

import tfmodels
from tests.conftest import fixture_path
from tfmodels.errors import ConfigError
from tfmodels.generation import beam_search, filter_logits, generate, left_align
from tfmodels.models.transformer import Config, TransformerForConditionalGeneration


@pytest.fixture(scope="module")
def gpt2():
    model = tfmodels.from_pretrained(fixture_path("gpt2_tiny_generation"))
    reference = np.load(fixture_path("gpt2_tiny_generation/reference.npz"))
    features = {
        "input_ids": tf.constant(reference["input_ids"], tf.int32),
        "input_mask": tf.constant(reference["input_mask"], tf.int32),
    }
    return model, features, reference


@pytest.fixture(scope="module")
def transformer():
    tf.keras.utils.set_random_seed(1)
    config = Config(
        vocab_size=24,
        hidden_size=32,
        num_layers=2,
        num_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
        dropout=0.0,
        initializer_range=0.2,
    )
    model = TransformerForConditionalGeneration(config)
    for weight in model.trainable_weights:  # spread the logits: varied greedy tokens
        weight.assign(weight * 3.0)
    features = {
        "input_ids": tf.constant([[5, 6, 7, 8, 2], [9, 10, 2, 0, 0]]),
        "input_mask": tf.constant([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]),
    }
    return model, features


def test_left_align_moves_padding_to_the_left():
    ids, mask = left_align(tf.constant([[4, 5, 6], [7, 0, 0]]), tf.constant([[1, 1, 1], [1, 0, 0]]))
    np.testing.assert_array_equal(ids, [[4, 5, 6], [0, 0, 7]])
    np.testing.assert_array_equal(mask, [[1, 1, 1], [0, 0, 1]])


def test_gpt2_greedy_and_beam_equal_the_reference(gpt2):
    """HF ``generate`` on the same checkpoint: 20 greedy tokens for a batch of
    prompts of different lengths, and 3-beam search."""
    model, features, reference = gpt2
    np.testing.assert_array_equal(generate(model, features, 20), reference["greedy_ids"])
    tokens, scores = beam_search(model, features, 8, num_beams=3)
    np.testing.assert_array_equal(tokens[:, 0], reference["beam_ids"])
    assert np.all(np.diff(scores.numpy(), axis=1) <= 0)  # best first


def test_cached_decoding_equals_full_recomputation(gpt2, transformer):
    """(Random post-LN Transformers tend to repeat one token; the GPT-2 fixture's weights
    are scaled so its greedy tokens vary, and T5/BART test varied HF generations.)"""
    for model, features in ((gpt2[0], gpt2[1]), transformer):
        cached = generate(model, features, 8)
        np.testing.assert_array_equal(cached, generate(model, features, 8, use_cache=False))
    assert len(np.unique(generate(gpt2[0], gpt2[1], 8))) > 2


def test_transformer_greedy_equals_teacher_forced_argmax(transformer):
    """The cached steps give the tokens the training forward pass would predict."""
    model, features = transformer
    tokens = generate(model, features, 10)
    start = tf.fill([2, 1], model.decoder_start_id)
    logits = model({**features, "decoder_input_ids": tf.concat([start, tokens[:, :-1]], 1)})
    np.testing.assert_array_equal(tf.argmax(logits["logits"], -1, output_type=tf.int32), tokens)


def test_generation_compiles_under_tf_function_with_xla(transformer):
    """The loop traces once and XLA compiles it (fixed-shape loop variables). Beam search
    runs under tf.function in run_seq2seq's tests; it compiles with XLA too (12 s here,
    so not repeated in the suite)."""
    model, features = transformer
    compiled = tf.function(lambda f: generate(model, f, 6), jit_compile=True)
    np.testing.assert_array_equal(compiled(features), generate(model, features, 6))


def test_rows_stop_at_eos_and_then_pad(transformer):
    model, features = transformer
    free = generate(model, features, 10).numpy()
    eos = int(free[0, 3])  # a token row 0 emits at step 3 (maybe earlier too)
    tokens = generate(model, features, 10, eos_id=eos, pad_id=0).numpy()
    for row, out in zip(free, tokens):
        hits = np.flatnonzero(row == eos)
        if len(hits):
            end = hits[0]
            np.testing.assert_array_equal(out[: end + 1], row[: end + 1])
            assert np.all(out[end + 1 :] == 0)
        else:
            np.testing.assert_array_equal(out, row)


def test_beam_search_with_enough_beams_is_exhaustive(transformer):
    """With num_beams >= V^(T-1) no prefix is ever dropped: the best beam is the
    argmax over all V^T sequences."""
    model, features = transformer
    features = {k: v[:1] for k, v in features.items()}
    steps, vocab = 3, model.config.vocab_size
    tokens, scores = beam_search(
        model, features, steps, num_beams=vocab * vocab, length_penalty=0.0
    )
    start = tf.constant([[model.decoder_start_id]])
    best, best_logp = None, -np.inf
    prefixes = [()]
    logp = {(): 0.0}
    for _ in range(steps):  # score every sequence by teacher forcing its prefixes
        batch = (
            tf.constant([list(p) for p in prefixes], tf.int32)
            if prefixes[0]
            else tf.zeros([1, 0], tf.int32)
        )
        decoder = tf.concat([tf.repeat(start, len(prefixes), 0), batch], 1)
        out = model(
            {
                "input_ids": tf.repeat(features["input_ids"], len(prefixes), 0),
                "input_mask": tf.repeat(features["input_mask"], len(prefixes), 0),
                "decoder_input_ids": decoder,
            }
        )["logits"][:, -1]
        step_logp = tf.nn.log_softmax(out).numpy()
        prefixes = [p + (t,) for p in prefixes for t in range(vocab)]
        for i, p in enumerate(prefixes):
            logp[p] = logp[p[:-1]] + step_logp[i // vocab, p[-1]]
    for p in prefixes:
        if logp[p] > best_logp:
            best, best_logp = p, logp[p]
    assert tuple(tokens[0, 0].numpy()) == best
    np.testing.assert_allclose(scores[0, 0], best_logp, rtol=1e-4)


def test_length_penalty_prefers_longer_finished_hypotheses():
    """A model whose only choices are 'end now' or 'one more token, then end':
    with length_penalty 0 the short hypothesis wins, with a large one the long."""
    eos, other = 1, 2

    class TwoChoices(tfmodels.generation.IncrementalDecoding):
        decoder_blocks = ()

        def start_generation(self, features, max_new_tokens):
            ids = tf.convert_to_tensor(features["input_ids"])
            return ids, {"mask": tf.ones_like(ids), "layers": []}

        def decode_step(self, ids, cache, index):
            first = tf.equal(index, 0)
            # step 0: P(eos) = 0.6, P(other) = 0.4; afterwards P(eos) = 0.9
            probs = tf.where(first, [[1e-9, 0.6, 0.4]], [[1e-9, 0.9, 0.1]])
            return tf.math.log(tf.tile(probs, [tf.shape(ids)[0], 1])), cache

    features = {"input_ids": tf.constant([[0]])}
    short = beam_search(TwoChoices(), features, 4, num_beams=2, length_penalty=0.0, eos_id=eos)
    long = beam_search(TwoChoices(), features, 4, num_beams=2, length_penalty=2.0, eos_id=eos)
    assert short[0][0, 0, 0] == eos
    assert list(long[0][0, 0, :2].numpy()) == [other, eos]


def test_filters_keep_what_they_promise():
    logits = tf.math.log(tf.constant([[0.5, 0.2, 0.15, 0.1, 0.05]]))
    kept = lambda out: set(np.flatnonzero(np.isfinite(out.numpy()[0])))  # noqa: E731
    assert kept(filter_logits(logits, top_k=2)) == {0, 1}
    assert kept(filter_logits(logits, top_p=0.6)) == {0, 1}  # 0.5 < 0.6 <= 0.7
    assert kept(filter_logits(logits, top_p=0.5)) == {0}  # the first alone reaches it
    assert kept(filter_logits(logits, top_p=0.99)) == {0, 1, 2, 3, 4}
    np.testing.assert_allclose(filter_logits(logits, temperature=2.0), logits / 2.0)


def test_sampling_is_reproducible_and_respects_top_k(gpt2):
    model, features, _ = gpt2
    a = generate(model, features, 6, method="sample", top_k=3, seed=7)
    np.testing.assert_array_equal(a, generate(model, features, 6, method="sample", top_k=3, seed=7))
    assert not np.array_equal(a, generate(model, features, 6, method="sample", top_k=3, seed=8))
    greedy_k1 = generate(model, features, 6, method="sample", top_k=1, seed=3)
    np.testing.assert_array_equal(greedy_k1, generate(model, features, 6))


def test_bad_settings_are_config_errors(gpt2):
    model, features, _ = gpt2
    with pytest.raises(ConfigError, match="unknown decoding method"):
        generate(model, features, 2, method="nucleus")
    with pytest.raises(ConfigError, match="temperature"):
        generate(model, features, 2, method="sample", temperature=0.0)
    with pytest.raises(ConfigError, match="num_beams"):
        beam_search(model, features, 2, num_beams=0)


def test_decode_step_cache_has_fixed_shapes(gpt2):
    model, features, _ = gpt2
    ids, cache = model.start_generation(features, 5)
    shapes = [c["key"].shape for c in cache["layers"]]
    _, cache = model.decode_step(ids, cache, 0)
    _, cache = model.decode_step(ids[:, :1], cache, ids.shape[1])
    assert [c["key"].shape for c in cache["layers"]] == shapes
    assert shapes[0][2] == ids.shape[1] + 5
    assert list(itertools.chain(*[[s[1]] for s in shapes])) == [4, 4]
