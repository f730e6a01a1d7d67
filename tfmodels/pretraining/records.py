"""Pre-training examples as TFRecords in BERT's feature layout, written and read back.

Features: ``input_ids``, ``input_mask``, ``segment_ids`` [seq_length],
``next_sentence_labels`` [1] (1 = B is random), and with static masking
``masked_lm_positions``, ``masked_lm_ids``, ``masked_lm_weights`` [max_predictions].
Records written for dynamic masking carry the unmasked ids; the masks are drawn
in ``tf.data`` each time they are read.
"""
import glob
import os

import tensorflow as tf

from tfmodels.errors import DataError
from tfmodels.pretraining.masking import dynamic_masking, mask_tokens
from tfmodels.pretraining.sentence_pairs import instances_from_document


def _int_feature(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))


def _float_feature(values):
    return tf.train.Feature(float_list=tf.train.FloatList(value=list(values)))


def _pad(values, length):
    return list(values) + [0] * (length - len(values))


def encode_example(tokens_a, tokens_b, is_random_next, vocab, token_ids, seq_length, rng,
                   static_masking=True, max_predictions=20, mask_rate=0.15, whole_word=False):
    """One ``tf.train.Example``; tokens are strings, ``token_ids`` maps them to ids."""
    tokens = ["[CLS]", *tokens_a, "[SEP]", *tokens_b, "[SEP]"]
    segments = [0] * (len(tokens_a) + 2) + [1] * (len(tokens_b) + 1)
    features = {"segment_ids": _int_feature(_pad(segments, seq_length)),
                "input_mask": _int_feature(_pad([1] * len(tokens), seq_length)),
                "next_sentence_labels": _int_feature([int(is_random_next)])}
    if static_masking:
        tokens, positions, originals = mask_tokens(
            tokens, vocab, rng, mask_rate=mask_rate, max_predictions=max_predictions,
            whole_word=whole_word)
        features["masked_lm_positions"] = _int_feature(_pad(positions, max_predictions))
        features["masked_lm_ids"] = _int_feature(
            _pad([token_ids[t] for t in originals], max_predictions))
        features["masked_lm_weights"] = _float_feature(
            _pad([1.0] * len(positions), max_predictions))
    features["input_ids"] = _int_feature(_pad([token_ids[t] for t in tokens], seq_length))
    return tf.train.Example(features=tf.train.Features(feature=features))


def write_shards(examples, output_prefix, num_shards):
    """Writes serialized examples round-robin into ``{prefix}-0000i-of-0000n.tfrecord``.

    Each shard is written under a temporary name and renamed when complete.
    """
    paths = [f"{output_prefix}-{i:05d}-of-{num_shards:05d}.tfrecord" for i in range(num_shards)]
    tmp = [f"{p}.tmp-{os.getpid()}" for p in paths]
    writers = [tf.io.TFRecordWriter(p) for p in tmp]
    count = 0
    try:
        for count, example in enumerate(examples, start=1):
            writers[(count - 1) % num_shards].write(example.SerializeToString())
    finally:
        for w in writers:
            w.close()
    for t, p in zip(tmp, paths):
        os.replace(t, p)
    return paths, count


def _feature_spec(seq_length, max_predictions, static):
    spec = {name: tf.io.FixedLenFeature([seq_length], tf.int64)
            for name in ("input_ids", "input_mask", "segment_ids")}
    spec["next_sentence_labels"] = tf.io.FixedLenFeature([1], tf.int64)
    if static:
        spec["masked_lm_positions"] = tf.io.FixedLenFeature([max_predictions], tf.int64)
        spec["masked_lm_ids"] = tf.io.FixedLenFeature([max_predictions], tf.int64)
        spec["masked_lm_weights"] = tf.io.FixedLenFeature([max_predictions], tf.float32)
    return spec


def pretraining_dataset(file_pattern, batch_size, seq_length, max_predictions=20,
                        dynamic=None, seed=0, shuffle_buffer=10000, training=True):
    """Batches of pre-training features from TFRecords.

    ``dynamic`` = ``{"vocab_size", "mask_id", "special_ids", "mask_rate"}`` re-masks every
    batch; records must then hold unmasked ids. Without it, the records' static masks
    are used.
    """
    files = sorted(f for pattern in file_pattern.split(",") for f in glob.glob(pattern.strip()))
    if not files:
        raise DataError(f"no TFRecord files match {file_pattern!r}")
    spec = _feature_spec(seq_length, max_predictions, static=dynamic is None)
    ds = tf.data.Dataset.from_tensor_slices(files)
    if training:
        ds = ds.shuffle(len(files), seed=seed).repeat()
    ds = ds.interleave(tf.data.TFRecordDataset, cycle_length=min(4, len(files)),
                       num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if training:
        ds = ds.shuffle(shuffle_buffer, seed=seed)
    ds = ds.batch(batch_size, drop_remainder=training)

    def parse(serialized):
        parsed = tf.io.parse_example(serialized, spec)
        out = {k: tf.cast(v, tf.float32 if v.dtype == tf.float32 else tf.int32)
               for k, v in parsed.items()}
        if dynamic is not None:
            out.update(dynamic_masking(out["input_ids"], out["input_mask"],
                                       max_predictions=max_predictions, **dynamic))
        return out

    return ds.map(parse, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def shuffled_instances(documents, seq_length, dupe_factor, rng, short_seq_prob=0.1):
    """All (a, b, is_random_next) instances, ``dupe_factor`` passes, shuffled."""
    instances = []
    for _ in range(dupe_factor):
        for index in range(len(documents)):
            instances.extend(instances_from_document(documents, index, seq_length, rng,
                                                     short_seq_prob))
    order = rng.permutation(len(instances))
    return [instances[i] for i in order]


