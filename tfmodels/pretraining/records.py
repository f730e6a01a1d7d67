"""Pre-training examples as TFRecords in BERT's feature layout, written and read back.

Features: ``input_ids``, ``input_mask``, ``segment_ids`` [seq_length],
``next_sentence_labels`` [1] (NSP: 1 = B is random; SOP: 1 = swapped; absent
where the objective has no sentence task), and with static masking
``masked_lm_positions``, ``masked_lm_ids``, ``masked_lm_weights`` [max_predictions].
Records written for dynamic masking carry the unmasked ids; the masks are drawn
in ``tf.data`` each time they are read. Which examples an objective writes is
its ``examples`` hook in :mod:`tfmodels.pretraining.registry`; the special
tokens (``[CLS]``/``<s>``, ...) come from the tokenizer: :class:`Vocabulary`.
A ``records.json`` beside the shards says how they were written, so
``run_pretraining`` can refuse records of another objective or masking.
"""

import contextlib
import dataclasses
import glob
import json
import os
import re
from typing import List, Optional

import tensorflow as tf

from tfmodels.atomic import atomic_path, atomic_write
from tfmodels.errors import ConfigError, DataError
from tfmodels.pretraining import sentence_order
from tfmodels.pretraining.masking import dynamic_masking, mask_tokens
from tfmodels.pretraining.sentence_pairs import instances_from_document

MANIFEST = "records.json"
MASK_TOKENS = ("[MASK]", "<mask>")  # where the tokenizer files name none
# The family a tokenizer directory without config.json most likely belongs to.
TOKENIZER_FAMILIES = {
    "ByteBPETokenizer": "roberta",
    "SentencePieceTokenizer": "albert",
    "WordPieceTokenizer": "bert",
}


def _int_feature(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))


def _float_feature(values):
    return tf.train.Feature(float_list=tf.train.FloatList(value=list(values)))


def _pad(values, length, value=0):
    return list(values) + [value] * (length - len(values))


@dataclasses.dataclass
class Vocabulary:
    """A tokenizer's pieces and the special tokens pre-training needs.

    ``word_start`` is the prefix of a word's first piece (``"Ġ"`` byte-level BPE,
    ``"▁"`` SentencePiece) or None for WordPiece, whose continuations start ``##``.
    """

    tokens: List[str]
    cls_token: Optional[str] = "[CLS]"  # None where the tokenizer has none (GPT-2, T5)
    sep_token: str = "[SEP]"
    pad_token: str = "[PAD]"
    mask_token: Optional[str] = "[MASK]"  # None for objectives that mask nothing
    word_start: Optional[str] = None

    def __post_init__(self):
        self.ids = {t: i for i, t in enumerate(self.tokens)}
        for token in (self.cls_token, self.sep_token, self.pad_token, self.mask_token):
            if token is not None and token not in self.ids:
                raise ConfigError(f"special token {token!r} is not in the vocabulary")

    @property
    def special_tokens(self):
        return tuple(t for t in (self.cls_token, self.sep_token, self.pad_token) if t)

    def dynamic_masking(self, mask_rate):
        """The ``dynamic`` argument of :func:`pretraining_dataset`."""
        return {
            "vocab_size": len(self.tokens),
            "mask_id": self.ids[self.mask_token],
            "special_ids": [self.ids[t] for t in self.special_tokens],
            "mask_rate": mask_rate,
        }


def vocabulary_of(preprocessor, vocab_dir=None, needs_mask=True):
    """The :class:`Vocabulary` of a preprocessor (``tfmodels.preprocessor_from_pretrained``).

    [CLS]/[SEP]/[PAD] are the packer's; the mask token is ``mask_token`` of the
    directory's ``tokenizer_config.json``/``special_tokens_map.json``, else the first
    of ``[MASK]``/``<mask>`` the vocabulary has; ConfigError when there is none and
    ``needs_mask`` (the objective masks tokens).
    """
    from tfmodels.tokenizers.byte_bpe import ByteBPETokenizer, bytes_to_unicode
    from tfmodels.tokenizers.sentencepiece import (
        SPIECE_UNDERLINE,
        SentencePieceTokenizer,
        T5Preprocessor,
    )

    tokenizer = preprocessor.tokenizer
    vocab = list(tokenizer.vocab)
    mask, extra_ids = None, 100  # HF T5Tokenizer's default extra_ids
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        path = os.path.join(vocab_dir or "", name)
        if vocab_dir and os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                settings = json.load(f)
            value = settings.get("mask_token")
            mask = mask or (value.get("content") if isinstance(value, dict) else value)
            extra_ids = settings.get("extra_ids", extra_ids)
    if isinstance(preprocessor, T5Preprocessor) and "<extra_id_0>" not in vocab:
        # T5's sentinels are not in spiece.model: they follow its pieces, <extra_id_0>
        # last (id vocab_size - 1 - i, as t5.data's sentinel_id and HF's T5Tokenizer).
        vocab += [f"<extra_id_{i}>" for i in reversed(range(extra_ids))]
    present = set(vocab)
    mask = mask or next((t for t in MASK_TOKENS if t in present), None)
    if mask is None and needs_mask:
        raise ConfigError(
            f"the vocabulary in {vocab_dir} has no mask token "
            f"({' or '.join(MASK_TOKENS)}) for masked-LM pre-training"
        )
    word_start = (
        bytes_to_unicode()[ord(" ")]
        if isinstance(tokenizer, ByteBPETokenizer)
        else SPIECE_UNDERLINE
        if isinstance(tokenizer, SentencePieceTokenizer)
        else None
    )
    return Vocabulary(
        vocab,
        getattr(preprocessor, "cls_token", None),
        preprocessor.sep_token,
        preprocessor.pad_token,
        mask,
        word_start,
    )


@dataclasses.dataclass
class RecordOptions:
    """How create_pretraining_data.py writes examples (its flags)."""

    seq_length: int = 128
    static_masking: Optional[bool] = True  # None: the objective's default
    max_predictions: int = 20
    mask_rate: float = 0.15
    whole_word: bool = False
    dupe_factor: int = 5
    short_seq_prob: float = 0.1


def encode_tokens(tokens, segment_ids, vocab, options, rng, sentence_label=None):
    """One ``tf.train.Example`` of token strings (special tokens included)."""
    seq_length = options.seq_length
    features = {
        "segment_ids": _int_feature(_pad(segment_ids, seq_length)),
        "input_mask": _int_feature(_pad([1] * len(tokens), seq_length)),
    }
    if sentence_label is not None:
        features["next_sentence_labels"] = _int_feature([int(sentence_label)])
    if options.static_masking:
        tokens, positions, originals = mask_tokens(
            tokens,
            vocab.tokens,
            rng,
            mask_rate=options.mask_rate,
            max_predictions=options.max_predictions,
            whole_word=options.whole_word,
            special_tokens=vocab.special_tokens,
            mask_token=vocab.mask_token,
            word_start=vocab.word_start,
        )
        features["masked_lm_positions"] = _int_feature(_pad(positions, options.max_predictions))
        features["masked_lm_ids"] = _int_feature(
            _pad([vocab.ids[t] for t in originals], options.max_predictions)
        )
        features["masked_lm_weights"] = _float_feature(
            _pad([1.0] * len(positions), options.max_predictions)
        )
    features["input_ids"] = _int_feature(
        _pad([vocab.ids[t] for t in tokens], seq_length, vocab.ids[vocab.pad_token])
    )
    return tf.train.Example(features=tf.train.Features(feature=features))


def encode_pair(tokens_a, tokens_b, vocab, options, rng, sentence_label=None):
    """``[CLS] a [SEP] b [SEP]``, segments 0 then 1 (BERT's pair layout, section 3)."""
    tokens = [vocab.cls_token, *tokens_a, vocab.sep_token, *tokens_b, vocab.sep_token]
    segments = [0] * (len(tokens_a) + 2) + [1] * (len(tokens_b) + 1)
    return encode_tokens(tokens, segments, vocab, options, rng, sentence_label)


def encode_example(
    tokens_a,
    tokens_b,
    is_random_next,
    vocab,
    token_ids,
    seq_length,
    rng,
    static_masking=True,
    max_predictions=20,
    mask_rate=0.15,
    whole_word=False,
):
    """One BERT-vocabulary pair example; tokens are strings, ``token_ids`` maps them to ids."""
    del token_ids  # the ids are the vocabulary's order
    options = RecordOptions(seq_length, static_masking, max_predictions, mask_rate, whole_word)
    return encode_pair(tokens_a, tokens_b, Vocabulary(list(vocab)), options, rng, is_random_next)


def next_sentence_examples(documents, vocab, options, rng):
    """mlm_nsp: BERT's sentence pairs, B random half of the time (appendix A.2)."""
    for a, b, random_next in shuffled_instances(
        documents, options.seq_length, options.dupe_factor, rng, options.short_seq_prob
    ):
        yield encode_pair(a, b, vocab, options, rng, random_next)


def sentence_order_examples(documents, vocab, options, rng):
    """mlm_sop: ALBERT's segment pairs, swapped half of the time (Lan et al. 2020, 3.1)."""
    for a, b, swapped in sentence_order.sentence_order_instances(
        documents, options.seq_length, options.dupe_factor, rng, options.short_seq_prob
    ):
        yield encode_pair(a, b, vocab, options, rng, swapped)


def segment_pair_examples(documents, vocab, options, rng):
    """rtd: two contiguous segments in their order and no sentence label, as ELECTRA's
    ``build_pretraining_dataset.py`` writes (the SOP instances, never swapped)."""
    for a, b, _ in sentence_order.sentence_order_instances(
        documents,
        options.seq_length,
        options.dupe_factor,
        rng,
        options.short_seq_prob,
        swap_prob=0.0,
    ):
        yield encode_pair(a, b, vocab, options, rng)


def full_sentence_examples(documents, vocab, options, rng):
    """mlm: RoBERTa's FULL-SENTENCES inputs ``<s> ... </s>``, one token type (Liu et al.
    2019, 4.2); ``dupe_factor`` passes only with static masks (dynamic ones differ anyway)."""
    from tfmodels.pretraining import full_sentences  # it imports this module

    examples = full_sentences.pack_full_sentences(
        documents, options.seq_length, vocab.cls_token, vocab.sep_token
    )
    for _ in range(options.dupe_factor if options.static_masking else 1):
        for i in rng.permutation(len(examples)):
            yield encode_tokens(examples[i], [0] * len(examples[i]), vocab, options, rng)


def write_shards(examples, output_prefix, num_shards):
    """Writes serialized examples round-robin into ``{prefix}-0000i-of-0000n.tfrecord``.

    Each shard is written under a temporary name and renamed when complete.
    """
    paths = [f"{output_prefix}-{i:05d}-of-{num_shards:05d}.tfrecord" for i in range(num_shards)]
    count = 0
    with contextlib.ExitStack() as stack:
        tmp = [stack.enter_context(atomic_path(p)) for p in paths]
        writers = [tf.io.TFRecordWriter(t) for t in tmp]
        try:
            for count, example in enumerate(examples, start=1):
                writers[(count - 1) % num_shards].write(example.SerializeToString())
        finally:
            for w in writers:
                w.close()
    return paths, count


def write_manifest(output_dir, **facts):
    """``records.json``: how the shards in ``output_dir`` were written (objective, masking,
    seq_length, ...), checked by :func:`check_manifests`."""
    path = os.path.join(output_dir, MANIFEST)
    with atomic_write(path) as f:
        json.dump(facts, f, indent=2, sort_keys=True)
    return path


def check_manifests(file_pattern, objective, dynamic, seq_length):
    """ConfigError when the records' ``records.json`` says they were written for another
    objective, with other masking, or for another sequence length."""
    from tfmodels.text_files import read_json

    folders = {
        os.path.dirname(f)
        for pattern in file_pattern.split(",")
        for f in glob.glob(pattern.strip())
    }
    for folder in sorted(folders):
        path = os.path.join(folder, MANIFEST)
        if not os.path.isfile(path):
            continue  # records from elsewhere: nothing to check
        facts = read_json(path)
        if not isinstance(facts, dict):
            raise DataError(f"{path}: not a {MANIFEST} (a JSON object) of create_pretraining_data")
        if facts.get("objective", objective) != objective:
            raise ConfigError(
                f"objective {objective!r}: the records in {folder} were written "
                f"for {facts['objective']!r} (create_pretraining_data.py "
                f"--objective={objective})"
            )
        if facts.get("masking") == "dynamic" and not dynamic:
            raise ConfigError(
                f"task.dynamic_masking=false: the records in {folder} hold no "
                "masks (written with --masking=dynamic)"
            )
        if facts.get("seq_length", seq_length) != seq_length:
            raise ConfigError(
                f"model.seq_length {seq_length}: the records in {folder} are "
                f"{facts['seq_length']} long"
            )


def record_files(file_pattern):
    """The files of a comma-separated list of globs (DataError: none)."""
    files = sorted(
        f
        for pattern in (file_pattern or "").split(",")
        if pattern.strip()
        for f in glob.glob(pattern.strip())
    )
    if not files:
        raise DataError(f"no TFRecord files match {file_pattern!r}")
    return files


def _tf_message(error):
    """A TensorFlow error's message on one short line, without the op's internals."""
    text = str(getattr(error, "message", None) or error)
    text = re.sub(r"\{\{function_node [^}]*\}\}|\[Op:[^\]]*\].*$", "", text, flags=re.S)
    return " ".join(text.split())[:200] or type(error).__name__


def check_records(file_pattern):
    """Before a run starts: the files exist, are TFRecord files (each one's first record
    is read), and at least one holds a record (else the endless training input would
    wait forever); a DataError names the file."""
    files = record_files(file_pattern)
    found = False
    for path in files:
        if os.path.isdir(path):
            raise DataError(f"{path}: a folder, not a TFRecord file (task.input_files)")
        try:
            for _ in tf.data.TFRecordDataset(path).take(1):
                found = True
        except tf.errors.OpError as e:
            raise DataError(f"{path}: not a TFRecord file ({_tf_message(e)})") from None
    if not found:
        raise DataError(f"the TFRecord files of {file_pattern!r} hold no records")
    return files


def check_features(
    files,
    seq_length,
    max_predictions,
    static,
    sentence_labels=True,
    extra_features=None,
    masked_lm=True,
    what="this run",
):
    """The first record of ``files`` parses with the features :func:`pretraining_dataset`
    reads with these arguments: records written for another sequence length or
    objective are a DataError naming the file, before a run starts."""
    spec = _feature_spec(seq_length, max_predictions, static, sentence_labels, masked_lm)
    spec.update(extra_features or {})
    for path in files:
        for serialized in tf.data.TFRecordDataset(path).take(1):
            try:
                tf.io.parse_single_example(serialized, spec)
            except (tf.errors.InvalidArgumentError, ValueError) as e:
                raise DataError(
                    f"{path}: its records do not hold the features {what} reads "
                    f"({_tf_message(e)}); write them with create_pretraining_data.py for it"
                ) from None
            return


def _feature_spec(seq_length, max_predictions, static, sentence_labels=True, masked_lm=True):
    spec = {
        name: tf.io.FixedLenFeature([seq_length], tf.int64)
        for name in ("input_ids", "input_mask", "segment_ids")
    }
    if sentence_labels:
        spec["next_sentence_labels"] = tf.io.FixedLenFeature([1], tf.int64)
    if static and masked_lm:
        spec["masked_lm_positions"] = tf.io.FixedLenFeature([max_predictions], tf.int64)
        spec["masked_lm_ids"] = tf.io.FixedLenFeature([max_predictions], tf.int64)
        spec["masked_lm_weights"] = tf.io.FixedLenFeature([max_predictions], tf.float32)
    return spec


def pretraining_dataset(
    file_pattern,
    batch_size,
    seq_length,
    max_predictions=20,
    dynamic=None,
    seed=0,
    shuffle_buffer=10000,
    training=True,
    sentence_labels=True,
    extra_features=None,
    masked_lm=True,
):
    """Batches of pre-training features from TFRecords.

    ``dynamic`` = ``{"vocab_size", "mask_id", "special_ids", "mask_rate"}`` (see
    :meth:`Vocabulary.dynamic_masking`) re-masks every batch; records must then hold
    unmasked ids. Without it, the records' static masks are used, unless
    ``masked_lm=False`` (objectives without masked-LM positions: causal LM, span
    corruption, denoising, permutation LM).
    ``sentence_labels``: parse ``next_sentence_labels`` (NSP/SOP objectives);
    ``extra_features``: more ``tf.io`` specs an objective's records carry.
    """
    files = record_files(file_pattern)
    spec = _feature_spec(seq_length, max_predictions, dynamic is None, sentence_labels, masked_lm)
    spec.update(extra_features or {})
    ds = tf.data.Dataset.from_tensor_slices(files)
    if training:
        ds = ds.shuffle(len(files), seed=seed).repeat()
    ds = ds.interleave(
        tf.data.TFRecordDataset,
        cycle_length=min(4, len(files)),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    if training:
        ds = ds.shuffle(shuffle_buffer, seed=seed)
    # The batch's index keys its dynamic masks: stateless, so the input position is
    # checkpointed with the run and a resumed run masks as an uninterrupted one.
    ds = ds.batch(batch_size, drop_remainder=training).enumerate()

    @tf.autograph.experimental.do_not_convert  # plain TF ops: nothing to convert
    def parse(index, serialized):
        parsed = tf.io.parse_example(serialized, spec)
        out = {
            k: tf.cast(v, tf.float32 if v.dtype == tf.float32 else tf.int32)
            for k, v in parsed.items()
        }
        if dynamic is not None:
            out.update(
                dynamic_masking(
                    out["input_ids"],
                    out["input_mask"],
                    seed=tf.stack([tf.constant(seed, tf.int64), index]),
                    max_predictions=max_predictions,
                    **dynamic,
                )
            )
        return out

    return ds.map(parse, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def shuffled_instances(documents, seq_length, dupe_factor, rng, short_seq_prob=0.1):
    """All (a, b, is_random_next) instances, ``dupe_factor`` passes, shuffled."""
    instances = []
    for _ in range(dupe_factor):
        for index in range(len(documents)):
            instances.extend(
                instances_from_document(documents, index, seq_length, rng, short_seq_prob)
            )
    order = rng.permutation(len(instances))
    return [instances[i] for i in order]


def create_records(
    input_paths, vocab_dir, output_dir, objective=None, options=None, num_shards=2, seed=12345
):
    """Text files (a sentence a line, a blank line between documents) -> TFRecord shards
    of ``objective``'s examples and their ``records.json``; what create_pretraining_data.py
    runs. ``objective`` defaults to the family default of ``vocab_dir``'s config.json,
    else of the family its tokenizer comes from (:data:`TOKENIZER_FAMILIES`);
    ``options.static_masking=None`` to the objective's masking.
    Returns (shard paths, the ``records.json`` facts).
    """
    import numpy as np

    import tfmodels
    from tfmodels.convert.pretrained import read_json
    from tfmodels.pretraining import registry
    from tfmodels.pretraining.sentence_pairs import read_documents

    options = options or RecordOptions()
    if objective:
        registry.get_objective(objective, source="--objective")  # before any slow work
    pre = tfmodels.preprocessor_from_pretrained(vocab_dir, options.seq_length)
    if not objective:
        config = os.path.join(vocab_dir, "config.json")
        family = (
            read_json(config).get("model_type")
            if os.path.isfile(config)
            else TOKENIZER_FAMILIES.get(type(pre.tokenizer).__name__, "bert")
        )
        objective = registry.family_default(family) or "mlm_nsp"
    spec = registry.get_objective(objective, source="--objective")
    if options.static_masking is None:
        options = dataclasses.replace(options, static_masking=spec.masking == "static")
    vocab = vocabulary_of(pre, vocab_dir, needs_mask=spec.masking != "none")

    def tokenize(lines):
        out = []
        for start in range(0, len(lines), 512):
            ids = pre.tokenizer(lines[start : start + 512]).to_list()
            out.extend([vocab.tokens[i] for i in row] for row in ids)
        return out

    rng = np.random.default_rng(seed)
    documents = read_documents(input_paths, tokenize)
    examples = spec.hook("examples")(documents, vocab, options, rng)
    os.makedirs(output_dir, exist_ok=True)
    paths, count = write_shards(examples, os.path.join(output_dir, "pretrain"), num_shards)
    facts = {
        "objective": objective,
        "examples": count,
        "documents": len(documents),
        "masking": (
            "none" if spec.masking == "none" else "static" if options.static_masking else "dynamic"
        ),
        "tokenizer": os.path.abspath(vocab_dir),
        "vocab_size": len(vocab.tokens),
        **{k: v for k, v in dataclasses.asdict(options).items() if k != "static_masking"},
    }
    write_manifest(output_dir, **facts)
    return paths, facts
