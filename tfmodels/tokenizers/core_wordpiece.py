"""WordPiece tokenization with core TensorFlow ops only, for a stock TF Serving binary.

TF Serving's model server has no tensorflow-text kernels, so a SavedModel that uses
them cannot be served there. This layer gives the ids of
:class:`~tfmodels.tokenizers.wordpiece.WordPieceTokenizer` with string ops, lookup
tables and a ``tf.while_loop``:

* text cleaning and lower-casing as ``normalize_text``. Its one tf-text step, NFD
  before the ``\\p{Mn}`` marks are dropped, is a table (character -> canonical
  decomposition) plus the canonical reordering of the combining marks that survive
  the dropping. Both are read off ICU's NFD (through tf-text, eagerly, once per
  process) rather than Python's ``unicodedata``, whose Unicode version is older.
* tf-text ``BasicTokenizer``'s split: control and format characters become spaces,
  punctuation and CJK ideographs are tokens of their own, spaces separate words.
* tf-text's greedy longest-match-first WordPiece: from each character boundary the
  longest piece in the vocabulary (``##`` before all but the first); a word with a
  part no piece matches, or longer than ``max_chars_per_word`` bytes, is the unknown
  token. All distinct words of a batch advance one piece per loop round.
"""

import functools

import tensorflow as tf
import tf_keras as keras

from tfmodels.errors import DataError
from tfmodels.tokenizers.wordpiece import _CONTROL_CHARS, read_vocabulary

SUFFIX = "##"
# tf-text BasicTokenizer's delimiters that stay tokens (``_KEEP_DELIM_NO_WHITESPACE``).
KEEP_DELIMITERS = "|".join(
    [
        r"[!-/]",
        r"[:-@]",
        r"[\[-`]",
        r"[{-~]",
        r"[\p{P}]",
        r"[\x{4E00}-\x{9FFF}]",
        r"[\x{3400}-\x{4DBF}]",
        r"[\x{20000}-\x{2A6DF}]",
        r"[\x{2A700}-\x{2B73F}]",
        r"[\x{2B740}-\x{2B81F}]",
        r"[\x{2B820}-\x{2CEAF}]",
        r"[\x{F900}-\x{FAFF}]",
        r"[\x{2F800}-\x{2FA1F}]",
    ]
)


def _char_class(chars):
    """An RE2 character class of ``chars``, as ranges of code points."""
    ranges = []
    for code in sorted({ord(c) for c in chars}):
        if ranges and code == ranges[-1][1] + 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return (
        "["
        + "".join(rf"\x{{{a:x}}}" + (rf"-\x{{{b:x}}}" if b > a else "") for a, b in ranges)
        + "]"
    )


@functools.lru_cache(maxsize=None)
def icu_nfd_tables():
    """What NFD does to a string, per character and per pair, read off ICU.

    Returns ``(decompositions, reorderings, dropped_marks)``: ``{char: NFD(char)}``
    for the characters NFD changes; ``(mark, kept_marks)`` pairs: a mark that survives
    the ``\\p{Mn}`` dropping and the surviving marks NFD moves in front of it (lower
    canonical combining class) when they follow it within one run of combining marks;
    and an RE2 class of the combining marks ``\\p{Mn}`` drops, which need no
    reordering since they disappear.
    """
    import tensorflow_text as tf_text

    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    nfd = tf_text.normalize_utf8(tf.constant(chars), "NFD").numpy()
    decompositions, stable = {}, []
    for char, out in zip(chars, nfd):
        out = out.decode("utf-8")
        if out == char:
            stable.append(char)
        else:
            decompositions[char] = out
    # A combining mark (canonical combining class > 0) moves past U+0334 (class 1)
    # when its class is higher, and U+0301 (class 230) moves past it when lower.
    stable_t = tf.constant(stable)
    after = tf_text.normalize_utf8(tf.strings.join([stable_t, "\u0334"]), "NFD").numpy()
    before = tf_text.normalize_utf8(tf.strings.join(["\u0301", stable_t]), "NFD").numpy()
    marks = [
        c
        for c, a, b in zip(stable, after, before)
        if a.decode("utf-8") == "\u0334" + c or b.decode("utf-8") == c + "\u0301"
    ]
    dropped = tf.strings.regex_full_match(tf.constant(marks), r"\p{Mn}").numpy()
    kept = [c for c, d in zip(marks, dropped) if not d]
    pairs = [x + y for x in kept for y in kept if x != y]
    swapped = tf_text.normalize_utf8(tf.constant(pairs or [""]), "NFD").numpy()
    reorderings = {}
    for pair, out in zip(pairs, swapped):
        if out.decode("utf-8") == pair[::-1]:
            reorderings.setdefault(pair[0], []).append(pair[1])
    dropped_marks = [c for c, d in zip(marks, dropped) if d]
    return decompositions, sorted(reorderings.items()), _char_class(dropped_marks)


class _NFD(tf.Module):
    """NFD on UTF-8 strings with core ops, up to the order of the ``\\p{Mn}`` marks
    (which the caller drops right after)."""

    def __init__(self):
        super().__init__()
        decompositions, reorderings, dropped_marks = icu_nfd_tables()
        self._table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(list(decompositions)), tf.constant(list(decompositions.values()))
            ),
            default_value="",
        )
        # Bubble sort of the surviving marks of each run: swap a mark and a following
        # one of lower class that only dropped marks separate, until none is left.
        self._swaps = [
            (f"({_char_class(x)})({dropped_marks}*)({_char_class(ys)})", r"\3\2\1")
            for x, ys in reorderings
        ]
        self._unsorted = "(?s).*(?:" + "|".join(p for p, _ in self._swaps) + ").*"

    def __call__(self, texts):
        chars = tf.strings.unicode_split(texts, "UTF-8")
        mapped = tf.ragged.map_flat_values(self._table.lookup, chars)
        texts = tf.strings.reduce_join(
            tf.ragged.map_flat_values(tf.where, mapped == "", chars, mapped), axis=-1
        )
        if not self._swaps:
            return texts

        def unsorted(texts):
            return tf.strings.regex_full_match(texts, self._unsorted)

        def swap(texts):
            for pattern, rewrite in self._swaps:
                texts = tf.strings.regex_replace(texts, pattern, rewrite)
            return (texts,)

        rows = tf.where(unsorted(texts))  # almost always none: sort only those
        done = tf.while_loop(
            lambda t: tf.reduce_any(unsorted(t)), swap, (tf.gather_nd(texts, rows),)
        )[0]
        return tf.tensor_scatter_nd_update(texts, rows, done)


def basic_split(texts):
    """tf-text ``BasicTokenizer(lower_case=False)``: strings [B] -> ragged words [B, (W)].

    After the control characters become spaces, the only whitespace RE2's ``\\s``
    knows is the space itself, so splitting on spaces is its ``\\s+``.
    """
    texts = tf.strings.regex_replace(texts, r"\p{Cc}|\p{Cf}", " ")
    texts = tf.strings.regex_replace(texts, KEEP_DELIMITERS, r" \0 ")
    words = tf.strings.split(texts, sep=" ")
    return tf.ragged.boolean_mask(words, words != "")


@keras.utils.register_keras_serializable("tfmodels")
class CoreWordPieceTokenizer(keras.layers.Layer):
    """Strings [B] -> ragged int32 token ids [B, (T)]: ``WordPieceTokenizer``'s ids, core
    ops only. Same arguments; a vocab.txt path stays a SavedModel asset."""

    def __init__(
        self, vocabulary, lower_case=True, unknown_token="[UNK]", max_chars_per_word=100, **kwargs
    ):
        super().__init__(**kwargs)
        self.vocabulary = vocabulary
        self.lower_case = lower_case
        self.unknown_token = unknown_token
        self.max_chars_per_word = max_chars_per_word
        if isinstance(vocabulary, str):
            self.vocab = read_vocabulary(vocabulary)
            with open(vocabulary, "rb") as f:  # the lines as TensorFlow reads them
                entries = f.read().split(b"\n")
            # tf-text's table for a path: line -> line number, read by TensorFlow.
            initializer = tf.lookup.TextFileInitializer(
                vocabulary,
                tf.string,
                tf.lookup.TextFileIndex.WHOLE_LINE,
                tf.int64,
                tf.lookup.TextFileIndex.LINE_NUMBER,
            )
        else:
            self.vocab = list(vocabulary)
            initializer = tf.lookup.KeyValueTensorInitializer(
                tf.constant(self.vocab), tf.range(len(self.vocab), dtype=tf.int64)
            )
            entries = [token.encode("utf-8") for token in self.vocab]
        if unknown_token not in self.vocab:
            raise DataError(f"unknown token {unknown_token!r} is not in the vocabulary")
        self._table = tf.lookup.StaticHashTable(initializer, default_value=-1)
        # A piece of n characters has n bytes or more, so no piece longer (in characters)
        # than the longest entry (in bytes) is in the vocabulary: the candidates to try.
        self._max_piece_chars = max(len(entry) for entry in entries)
        self._nfd = _NFD() if lower_case else None

    @classmethod
    def from_tokenizer(cls, tokenizer):
        """The twin of a :class:`WordPieceTokenizer`."""
        return cls.from_config(tokenizer.get_config())

    @property
    def vocab_size(self):
        return len(self.vocab)

    def token_to_id(self, token):
        return self.vocab.index(token)

    def normalize(self, texts):
        """``wordpiece.normalize_text`` with core ops."""
        texts = tf.strings.regex_replace(texts, _CONTROL_CHARS, "")
        texts = tf.strings.regex_replace(texts, r"\p{Zs}", " ")
        if self.lower_case:
            texts = tf.strings.lower(texts, encoding="utf-8")
            texts = tf.strings.regex_replace(self._nfd(texts), r"\p{Mn}", "")
        return texts

    def _next_pieces(self, words, bounds, lengths, start, failed):
        """One greedy step for every word: the longest piece from char ``start`` on."""
        active = (start < lengths) & ~failed
        width = tf.minimum(self._max_piece_chars, tf.shape(bounds)[1] - 1)
        sizes = tf.range(1, width + 1)  # candidate lengths in characters
        ends = start[:, tf.newaxis] + sizes
        fits = ends <= lengths[:, tf.newaxis]
        first = tf.gather(bounds, start, batch_dims=1)
        last = tf.gather(bounds, tf.minimum(ends, lengths[:, tf.newaxis]), batch_dims=1)
        shape = tf.shape(last)
        pieces = tf.strings.substr(
            tf.broadcast_to(words[:, tf.newaxis], shape),
            tf.broadcast_to(first[:, tf.newaxis], shape),
            last - first[:, tf.newaxis],
        )
        prefix = tf.broadcast_to(tf.where(start > 0, SUFFIX, "")[:, tf.newaxis], shape)
        ids = self._table.lookup(tf.strings.join([prefix, pieces]))
        found = (ids >= 0) & fits & active[:, tf.newaxis]
        best = tf.reduce_max(tf.where(found, sizes, 0), axis=1)
        piece = tf.gather(ids, tf.maximum(best - 1, 0), batch_dims=1)
        return tf.where(best > 0, piece, -1), start + best, failed | (active & (best == 0))

    def _encode_words(self, words):
        """Distinct words [W] -> ragged int64 ids [W, (T)]."""
        starts = tf.cast(tf.strings.unicode_decode_with_offsets(words, "UTF-8")[1], tf.int32)
        lengths = tf.cast(starts.row_lengths(), tf.int32)
        n_bytes = tf.strings.length(words)
        # bounds[w, k]: the byte offset of character k of word w; k = length: the end.
        ends = tf.RaggedTensor.from_tensor(n_bytes[:, tf.newaxis])
        bounds = tf.concat([starts, ends], axis=1).to_tensor()
        failed = n_bytes > self.max_chars_per_word
        start = tf.zeros_like(lengths)
        unknown = self._table.lookup(tf.constant(self.unknown_token))
        ids = tf.fill([tf.size(words), 0], tf.constant(-1, tf.int64))

        def step(ids, start, failed):
            piece, start, failed = self._next_pieces(words, bounds, lengths, start, failed)
            return tf.concat([ids, piece[:, tf.newaxis]], axis=1), start, failed

        ids, _, failed = tf.while_loop(
            lambda ids, start, failed: tf.reduce_any((start < lengths) & ~failed),
            step,
            (ids, start, failed),
            shape_invariants=(tf.TensorShape([None, None]), start.shape, failed.shape),
        )
        none = tf.constant(-1, tf.int64)
        ids = tf.concat(
            [tf.where(failed, unknown, none)[:, tf.newaxis], tf.where(failed[:, None], none, ids)],
            axis=1,
        )
        return tf.ragged.boolean_mask(ids, ids >= 0)

    def call(self, texts):
        return self._tokenize(texts)

    @tf.autograph.experimental.do_not_convert  # plain TF ops: converting only costs time
    def _tokenize(self, texts):
        texts = tf.reshape(tf.convert_to_tensor(texts, tf.string), [-1])
        words = basic_split(self.normalize(texts))
        distinct, index = tf.unique(words.flat_values)
        ids = tf.gather(self._encode_words(distinct), index)
        return tf.cast(words.with_flat_values(ids).merge_dims(-2, -1), tf.int32)

    def detokenize(self, ids):
        return [self.vocab[i] for i in ids]

    def get_config(self):
        config = super().get_config()
        config.update(
            vocabulary=self.vocabulary,
            lower_case=self.lower_case,
            unknown_token=self.unknown_token,
            max_chars_per_word=self.max_chars_per_word,
        )
        return config
