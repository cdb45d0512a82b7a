"""LOGO's k-mer tokenizer with a frozen vocabulary."""

import functools
import importlib.resources

import keras
import numpy as np
import tensorflow as tf

from kipoi_genome.data.transforms import reverse_complement_codes
from kipoi_genome.serialization import register

PAD_ID = 0
CLS_ID = 1
MASK_ID = 2
SEP_ID = 3
FIRST_KMER_ID = 10
SUPPORTED_K = (3, 4, 5, 6)

# Byte -> base code a(c) of LOGO.md §3.3: N 0, A 1, G 2, C 3, T 4. Lower case is
# accepted; every other byte (IUPAC ambiguity codes, '-', ...) counts as N.
_CODES = np.zeros(256, dtype=np.int32)
for _letter, _code in zip("AGCT", (1, 2, 3, 4)):
    _CODES[ord(_letter)] = _code
    _CODES[ord(_letter.lower())] = _code


@functools.lru_cache(maxsize=None)
def load_vocabulary(k):
    """The frozen id-ordered token list for `k` shipped in the package."""
    if k not in SUPPORTED_K:
        raise ValueError(f"`k` must be one of {SUPPORTED_K}. Received: k={k!r}")
    text = (
        importlib.resources.files("kipoi_genome.tokenizers")
        .joinpath("vocab", f"logo_kmer_{k}.txt")
        .read_text()
    )
    return tuple(text.split())


def base_codes(sequence):
    """uint8 base codes of a str (N 0, A 1, G 2, C 3, T 4; other letters N)."""
    return _CODES[np.frombuffer(sequence.encode("ascii"), dtype=np.uint8)].astype(np.uint8)


def _kmer_ids_from_codes(codes, k, xp):
    """Overlapping k-mer ids from base codes `[..., L]` -> `[..., L - k + 1]`.

    Closed form (LOGO.md §3.3): `10 + 5**(k-1) + (a(c1) - 1) + 4 * sum_j
    a(cj) * 5**(j-2)`, and 0 (pad/unk) when the first base is N. `xp` is a
    namespace with `slice_last`, `where` and the array type's arithmetic.
    """
    first = xp.slice_last(codes, 0, k)
    value = first - 1
    for j in range(1, k):
        value = value + 4 * (5 ** (j - 1)) * xp.slice_last(codes, j, k)
    value = value + FIRST_KMER_ID + 5 ** (k - 1)
    return xp.where(first > 0, value, xp.zeros_like(value))


class _NumpyOps:
    @staticmethod
    def slice_last(codes, start, k):
        stop = codes.shape[-1] - (k - 1) + start
        return codes[..., start:stop]

    where = staticmethod(np.where)
    zeros_like = staticmethod(np.zeros_like)


class _TensorFlowOps:
    @staticmethod
    def slice_last(codes, start, k):
        # Clamped: with fewer than k bases a negative stop would count from the end.
        stop = tf.maximum(tf.shape(codes)[-1] - (k - 1) + start, start)
        return codes[..., start:stop]

    where = staticmethod(tf.where)
    zeros_like = staticmethod(tf.zeros_like)


@register
class KmerTokenizer(keras.layers.Layer):
    """LOGO k-mer tokenizer: k non-overlapping reading frames per sequence.

    A DNA sequence of length L is cut into overlapping k-mers (stride 1),
    which are split into k reading frames: frame f holds the non-overlapping
    k-mers starting at f, f + k, f + 2k, ... Every frame is truncated to the
    same length `m = (L - (k - 1)) // k`, so a sequence gives an int32 array
    `[k, m]` (1,004 bp -> `[5, 200]` at k = 5; 600 bp -> `[5, 119]`).

    Ids follow LOGO's vocabulary (LOGO.md §3): ids 0-9 are reserved (0 pad and
    unknown, 1 cls, 2 mask, 3 sep), all 1- to k-mers over N, A, G, C, T follow
    from id 10 in the official order, and the vocabulary has `5**k + 13` ids
    (138 / 638 / 3,138 / 15,638 for k = 3 / 4 / 5 / 6). The vocabulary is read
    from the frozen file `kipoi_genome/tokenizers/vocab/logo_kmer_{k}.txt`;
    token ids are computed with its closed form (tested to agree).

    **N handling.** Lower case is accepted; any letter other than A, C, G, T
    is treated as N. A k-mer whose *first* base is N maps to id 0 (pad/unk),
    as in LOGO: backbones mask id 0 out of attention and the masked LM never
    masks it. A k-mer with N at a later position keeps its vocabulary id
    (e.g. `ANNNN` -> 635).

    The layer's `call` runs on TensorFlow string tensors and can be used in
    `tf.data` pipelines; `tokenize` is the NumPy equivalent for Python
    strings.

    Args:
        k: int. k-mer length, one of 3, 4, 5, 6. Defaults to 5.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: string tensor, a scalar or `[B]` (equal lengths within a
            batch).
        reverse_complement: bool. Tokenize the reverse complement instead.

    Returns:
        int32 tensor `[k, m]` for a scalar input, `[B, k, m]` for a batch.

    Example:
    >>> tokenizer = KmerTokenizer(k=5)
    >>> tokenizer.tokenize("AAAAATTTTTACGTAGGGG").tolist()[0]
    [1259, 3134, 1587]
    """

    def __init__(self, k=5, **kwargs):
        if k not in SUPPORTED_K or isinstance(k, bool):
            raise ValueError(f"`k` must be one of {SUPPORTED_K}. Received: k={k!r}")
        kwargs.setdefault("dtype", "int32")
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        self.k = k
        self._vocabulary = load_vocabulary(k)
        self._token_to_id = {token: i for i, token in enumerate(self._vocabulary)}
        self.built = True

    # Vocabulary -------------------------------------------------------------

    @property
    def vocabulary(self):
        """Tuple of tokens; position = id."""
        return self._vocabulary

    @property
    def vocabulary_size(self):
        """Number of ids, `5**k + 13`."""
        return len(self._vocabulary)

    @property
    def pad_id(self):
        return PAD_ID

    @property
    def cls_id(self):
        return CLS_ID

    @property
    def mask_id(self):
        return MASK_ID

    @property
    def first_kmer_id(self):
        """Smallest id of a full-length k-mer (`10 + 5**(k-1)`)."""
        return FIRST_KMER_ID + 5 ** (self.k - 1)

    @property
    def last_kmer_id(self):
        """Largest id a k-mer can have (`5**k + 9`)."""
        return FIRST_KMER_ID + 5**self.k - 1

    def token_to_id(self, token):
        """Id of a token (k-mer or special); k-mers starting with N give 0."""
        token = token.upper() if not token.startswith("[") else token
        if token in self._token_to_id:
            return self._token_to_id[token]
        if len(token) == self.k and token[0] not in "ACGT":
            return PAD_ID
        raise KeyError(f"{token!r} is not in the k={self.k} vocabulary.")

    def id_to_token(self, token_id):
        return self._vocabulary[int(token_id)]

    def num_tokens(self, length):
        """Tokens per frame `m` for a sequence of `length` bases."""
        return max(0, (length - (self.k - 1)) // self.k)

    # NumPy path ---------------------------------------------------------------

    def kmer_ids(self, sequence, reverse_complement=False):
        """Overlapping (stride-1) k-mer ids, int32 `[L - k + 1]`."""
        codes = _CODES[np.frombuffer(sequence.encode("ascii"), dtype=np.uint8)]
        if reverse_complement:
            codes = reverse_complement_codes(codes)
        if codes.shape[-1] < self.k:
            return np.zeros((0,), np.int32)
        return _kmer_ids_from_codes(codes, self.k, _NumpyOps).astype(np.int32)

    def tokenize(self, sequences, reverse_complement=False):
        """Tokenizes a string (-> `[k, m]`) or a list of equal-length strings.

        Args:
            sequences: str, or list of str of one length.
            reverse_complement: bool. Tokenize the reverse complement.

        Returns:
            int32 array `[k, m]`, or `[N, k, m]` for a list.
        """
        if isinstance(sequences, str):
            ids = self.kmer_ids(sequences, reverse_complement)
            m = self.num_tokens(len(sequences))
            return np.ascontiguousarray(ids[: m * self.k].reshape(m, self.k).T)
        arrays = [self.tokenize(s, reverse_complement) for s in sequences]
        if len({a.shape for a in arrays}) > 1:
            raise ValueError("All sequences of a batch must have the same length.")
        if not arrays:
            return np.zeros((0, self.k, 0), np.int32)
        return np.stack(arrays)

    def detokenize(self, token_ids):
        """One frame of ids `[m]` -> the DNA string they spell (pad -> 'N')."""
        return "".join(
            self._vocabulary[i] if i >= FIRST_KMER_ID else "N" * self.k
            for i in np.asarray(token_ids).tolist()
        )

    # TensorFlow path ----------------------------------------------------------

    def call(self, inputs, reverse_complement=False):
        inputs = tf.convert_to_tensor(inputs, dtype=tf.string)
        scalar = inputs.shape.rank == 0
        batch = tf.reshape(inputs, [-1])
        raw = tf.io.decode_raw(batch, tf.uint8)  # [B, L]
        ids = self.tokenize_codes(tf.gather(tf.constant(_CODES), tf.cast(raw, tf.int32)), reverse_complement)
        return ids[0] if scalar else ids

    def tokenize_codes(self, codes, reverse_complement=False):
        """TensorFlow tokenization of base codes (N 0, A 1, G 2, C 3, T 4).

        Args:
            codes: int tensor `[B, L]` (see `base_codes`).
            reverse_complement: bool. Tokenize the reverse complement.

        Returns:
            int32 tensor `[B, k, m]`.
        """
        codes = tf.cast(codes, tf.int32)
        if reverse_complement:
            codes = reverse_complement_codes(codes)
        ids = _kmer_ids_from_codes(codes, self.k, _TensorFlowOps)  # [B, n]
        m = tf.maximum(tf.shape(codes)[1] - (self.k - 1), 0) // self.k
        # The batch size is explicit: -1 cannot be inferred when m = 0.
        ids = tf.reshape(ids[:, : m * self.k], [tf.shape(codes)[0], m, self.k])
        return tf.transpose(ids, [0, 2, 1])  # [B, k, m]

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.k, None)

    def get_config(self):
        config = super().get_config()
        config.update(k=self.k)
        return config
