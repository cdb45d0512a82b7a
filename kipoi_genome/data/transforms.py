"""Pure NumPy sequence transforms shared by every consumer.

Everything here works on in-memory strings or arrays and does no I/O:
one-hot encoding (ACGT order, configurable value for N), reverse complement
of strings and one-hot arrays, interval resizing, padding/trimming to a fixed
length, and the shift / reverse-complement augmentation used in training.

Encoding rules of ``one_hot_encode``:

* ``A``, ``C``, ``G``, ``T`` (either case) are one-hot rows in ACGT order.
* ``N`` and the IUPAC ambiguity codes ``R Y S W K M B D H V`` (either case)
  are "neutral": a row filled with ``neutral_value`` (0 by default, which is
  what Enformer expects; kipoiseq uses 0.25). With ``ambiguity="fractional"``
  the IUPAC codes instead spread probability over the bases they stand for
  (``R`` = 0.5 A + 0.5 G); ``N`` stays neutral.
* Any other character (``-``, ``*``, ``U``, digits, ...) is an error naming
  the character and its position, unless ``strict=False`` (then it is
  encoded like ``N``, as the official Enformer code does).
"""

import functools

import numpy as np

ALPHABET = "ACGT"

# IUPAC nucleotide codes and the bases they stand for.
IUPAC_CODES = {
    "A": "A",
    "C": "C",
    "G": "G",
    "T": "T",
    "R": "AG",
    "Y": "CT",
    "S": "CG",
    "W": "AT",
    "K": "GT",
    "M": "AC",
    "B": "CGT",
    "D": "AGT",
    "H": "ACT",
    "V": "ACG",
    "N": "ACGT",
}

_COMPLEMENT = str.maketrans(
    "ACGTRYSWKMBDHVNacgtryswkmbdhvn", "TGCAYRSWMKVHDBNtgcayrswmkvhdbn"
)

_VALID_CHARS = ("".join(IUPAC_CODES) + "".join(IUPAC_CODES).lower()).encode("ascii")


@functools.lru_cache(maxsize=64)
def _one_hot_table(neutral_value, ambiguity, dtype_name):
    """256-row lookup table from ASCII code to a one-hot row (read-only).

    Cached on the arguments as given (a dtype name, type or np.dtype), so the
    per-call cost stays at a dictionary lookup.
    """
    table = np.full((256, 4), neutral_value, dtype=np.float64)
    for code, bases in IUPAC_CODES.items():
        if len(bases) == 1:
            row = np.array([float(b == bases) for b in ALPHABET])
        elif code == "N" or ambiguity == "neutral":
            row = np.full(4, neutral_value)
        else:
            row = np.array([float(b in bases) / len(bases) for b in ALPHABET])
        table[ord(code)] = row
        table[ord(code.lower())] = row
    table = table.astype(dtype_name)
    table.setflags(write=False)
    return table


@functools.lru_cache(maxsize=16)
def _one_hot_pair_table(neutral_value, ambiguity, dtype):
    """65,536-row table from two ASCII codes (a little-endian uint16) to two one-hot rows.

    Encoding two bases per lookup halves the number of indices NumPy has to
    convert and gather, which is most of the cost of a one-hot pass.
    """
    table = _one_hot_table(neutral_value, ambiguity, dtype)
    index = np.arange(1 << 16)
    pairs = np.concatenate([table[index & 0xFF], table[index >> 8]], axis=1)  # (65536, 8)
    pairs.setflags(write=False)
    return pairs


def _encode_codes(data, neutral_value, ambiguity, dtype):
    """One-hot rows for ASCII bytes `data`: (len(data), 4)."""
    try:
        table = _one_hot_table(neutral_value, ambiguity, dtype)
    except TypeError:  # an unhashable dtype spec
        dtype = np.dtype(dtype).name
        table = _one_hot_table(neutral_value, ambiguity, dtype)
    length = len(data)
    if length < 256:
        return table.take(np.frombuffer(data, dtype=np.uint8), axis=0)
    pairs = _one_hot_pair_table(neutral_value, ambiguity, dtype)
    half = length // 2
    out = np.empty((length, 4), dtype=table.dtype)
    codes = np.frombuffer(data, dtype="<u2", count=half)
    pairs.take(codes, axis=0, out=out[: 2 * half].reshape(half, 8), mode="clip")
    if length % 2:
        out[-1] = table[data[-1]]
    return out


def _as_bytes(sequence):
    if isinstance(sequence, str):
        try:
            return sequence.encode("ascii")
        except UnicodeEncodeError as error:
            bad = sequence[error.start]
            raise ValueError(
                f"Sequence contains a non-ASCII character {bad!r} at position "
                f"{error.start}. Received: sequence of length {len(sequence)}"
            ) from None
    if isinstance(sequence, (bytes, bytearray, memoryview)):
        return bytes(sequence)
    raise TypeError(
        "`sequence` must be a str or bytes. "
        f"Received: sequence of type {type(sequence).__name__}"
    )


def check_sequence(sequence):
    """Raises a ValueError if `sequence` holds a non-IUPAC character.

    Args:
        sequence: str or bytes. DNA; upper or lower case; ACGTN and IUPAC codes.

    Raises:
        ValueError: naming the first bad character and its 0-based position.
    """
    _check_bytes(_as_bytes(sequence))


def _check_bytes(data):
    # bytes.translate with a delete set is a single C pass; it leaves only
    # the invalid characters.
    leftover = data.translate(None, _VALID_CHARS)
    if leftover:
        bad = leftover[:1]
        position = data.index(bad)
        raise ValueError(
            f"Sequence contains a non-ACGTN character {bad.decode('latin-1')!r} "
            f"at position {position}. Only ACGTN and IUPAC codes "
            "(RYSWKMBDHV), in either case, are allowed"
        )


def one_hot_encode(
    sequence,
    neutral_value=0.0,
    dtype="float32",
    ambiguity="neutral",
    strict=True,
):
    """One-hot encodes DNA in ACGT order.

    Args:
        sequence: str or bytes, or a list of equal-length strings. Case is
            ignored.
        neutral_value: float. Value of every channel for ``N`` (and for IUPAC
            codes when ``ambiguity="neutral"``). Defaults to 0.0 (Enformer).
        dtype: str or numpy dtype. Output dtype. Defaults to ``"float32"``.
        ambiguity: str. ``"neutral"`` (IUPAC codes encoded like N) or
            ``"fractional"`` (spread over the bases they stand for).
        strict: bool. If True (default), characters that are neither ACGTN nor
            IUPAC codes raise a ValueError; if False they are encoded like N.

    Returns:
        np.ndarray of shape (L, 4) (or (B, L, 4) for a list), ACGT order.

    Raises:
        ValueError: on a bad argument, or (with ``strict``) a bad character.

    Example:
        >>> one_hot_encode("ACgN").tolist()
        [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]]
    """
    if ambiguity not in ("neutral", "fractional"):
        raise ValueError(
            "`ambiguity` must be 'neutral' or 'fractional'. "
            f"Received: ambiguity={ambiguity!r}"
        )
    try:
        neutral_value = float(neutral_value)
    except (TypeError, ValueError):
        raise ValueError(
            f"`neutral_value` must be a number. Received: neutral_value={neutral_value!r}"
        ) from None
    if isinstance(sequence, (list, tuple)):
        if not sequence:
            raise ValueError("Received an empty list of sequences")
        datas = [_as_bytes(s) for s in sequence]
        if strict:
            for data in datas:
                _check_bytes(data)
        lengths = {len(data) for data in datas}
        if len(lengths) != 1:
            raise ValueError(
                "All sequences in a batch must have the same length. "
                f"Received: lengths {sorted(lengths)}"
            )
        # One lookup pass over the concatenation instead of one per sequence.
        encoded = _encode_codes(b"".join(datas), neutral_value, ambiguity, dtype)
        return encoded.reshape(len(datas), lengths.pop(), 4)
    data = _as_bytes(sequence)
    if strict:
        _check_bytes(data)
    return _encode_codes(data, neutral_value, ambiguity, dtype)


def one_hot_decode(one_hot, neutral_char="N"):
    """Inverse of `one_hot_encode` for exact one-hot rows.

    Args:
        one_hot: array-like of shape (L, 4), ACGT order.
        neutral_char: str. Character for rows that are not one-hot
            (e.g. all zeros or all 0.25). Defaults to ``"N"``.

    Returns:
        str of length L, upper case.
    """
    one_hot = np.asarray(one_hot)
    if one_hot.ndim != 2 or one_hot.shape[-1] != 4:
        raise ValueError(
            f"`one_hot` must have shape (L, 4). Received: shape {one_hot.shape}"
        )
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    is_base = (one_hot == 1).sum(axis=-1) == 1
    is_base &= (one_hot == 0).sum(axis=-1) == 3
    codes = np.where(is_base, letters[one_hot.argmax(axis=-1)], ord(neutral_char))
    return codes.astype(np.uint8).tobytes().decode("ascii")


def reverse_complement(sequence):
    """Reverse complement of a DNA string or of one-hot arrays.

    Args:
        sequence: str (IUPAC codes complemented, case kept), or an array of
            shape (..., L, 4) in ACGT order (length and channel axes flipped,
            since the complement of ACGT is TGCA).

    Returns:
        Same type and shape as the input.
    """
    if isinstance(sequence, str):
        return sequence.translate(_COMPLEMENT)[::-1]
    if isinstance(sequence, (bytes, bytearray)):
        return sequence.decode("ascii").translate(_COMPLEMENT)[::-1].encode("ascii")
    array = np.asarray(sequence)
    if array.ndim < 2 or array.shape[-1] != 4:
        raise ValueError(
            "One-hot input to `reverse_complement` must have shape (..., L, 4). "
            f"Received: shape {array.shape}"
        )
    return np.ascontiguousarray(array[..., ::-1, ::-1])


def reverse_complement_codes(codes):
    """Reverse complement of integer base codes (N 0, A 1, G 2, C 3, T 4).

    These are the codes of LOGO's k-mer tokenizer, chosen so that the
    complement of a base is ``5 - code`` and N (0) stays N. Uses only
    slicing and arithmetic, so it works on NumPy arrays and on TensorFlow
    tensors alike (in tf.data and `tf.function` graphs too).

    Args:
        codes: integer array or tensor of shape (..., L) with values 0-4.

    Returns:
        Array or tensor of the same type, shape and dtype: ``(5 - c) % 5``
        along the reversed last axis.

    Example:
        >>> reverse_complement_codes(np.array([1, 2, 3, 4, 0])).tolist()
        [0, 1, 2, 3, 4]
    """
    return (5 - codes[..., ::-1]) % 5


def resize_interval(start, end, length):
    """New coordinates of a window of `length` bp around an interval's centre.

    The centre is ``start + (end - start) // 2`` (rounded down) and the new
    window is ``[centre - length // 2, centre - length // 2 + length)``. The
    result may lie partly outside the chromosome; extraction pads with N.

    Args:
        start: int. 0-based start.
        end: int. End (exclusive).
        length: int. Positive output length.

    Returns:
        tuple (new_start, new_end) with ``new_end - new_start == length``.
    """
    length = _positive_int(length, "length")
    centre = start + (end - start) // 2
    new_start = centre - length // 2
    return new_start, new_start + length


def pad_or_trim(sequence, length, pad_char="N"):
    """Pads (with `pad_char`) or trims a string symmetrically to `length`.

    Extra characters are removed (or added) half on each side; when the
    difference is odd, the right side gets the extra one.

    Args:
        sequence: str.
        length: int. Non-negative target length.
        pad_char: str. One padding character. Defaults to ``"N"``.

    Returns:
        str of length `length`.
    """
    if not isinstance(length, (int, np.integer)) or length < 0:
        raise ValueError(f"`length` must be a non-negative integer. Received: length={length!r}")
    if len(pad_char) != 1:
        raise ValueError(f"`pad_char` must be one character. Received: pad_char={pad_char!r}")
    diff = length - len(sequence)
    if diff >= 0:
        left = diff // 2
        return pad_char * left + sequence + pad_char * (diff - left)
    left = (-diff) // 2
    return sequence[left : left + length]


def shift_one_hot(one_hot, shift, fill_value=0.0):
    """Moves sequence content by `shift` positions along the length axis.

    ``out[i] = one_hot[i - shift]``; positions that come from outside the
    array get `fill_value` (0 = N for Enformer). Positive shifts move content
    to the right (towards higher coordinates).

    Args:
        one_hot: array of shape (L, C) (or (..., L, C)).
        shift: int. Any integer; |shift| >= L gives an all-fill array.
        fill_value: float. Defaults to 0.

    Returns:
        array of the same shape and dtype.
    """
    array = np.asarray(one_hot)
    shift = int(shift)
    out = np.full_like(array, fill_value)
    length = array.shape[-2]
    if abs(shift) >= length:
        return out
    if shift >= 0:
        out[..., shift:, :] = array[..., : length - shift, :]
    else:
        out[..., : length + shift, :] = array[..., -shift:, :]
    return out


def augment(one_hot, targets, shift=0, reverse=False, pool_width=1):
    """Shift / reverse-complement augmentation applied to a (sequence, targets) pair.

    The reference implementation for the tf.data augmentation in
    `kipoi_genome.data.tf_datasets`. The sequence is shifted with N fill
    (`shift_one_hot`) and then, if `reverse`, reverse-complemented. Targets
    follow the sequence: with base-resolution targets (``pool_width == 1``)
    they shift by the same amount (zero fill); with binned targets the shift
    must be smaller than one bin (``|shift| < pool_width``), as in Enformer's
    training (±3 bp with 128-bp bins), and the targets stay in place. On
    reverse complement the targets' length axis is reversed.

    Args:
        one_hot: array of shape (L, 4).
        targets: array of shape (T, C).
        shift: int. Shift in bp.
        reverse: bool. Whether to reverse-complement.
        pool_width: int. Bin width of the targets in bp.

    Returns:
        tuple (one_hot, targets) with the input shapes.
    """
    pool_width = _positive_int(pool_width, "pool_width")
    if pool_width > 1 and abs(int(shift)) >= pool_width:
        raise ValueError(
            "With binned targets the shift must be smaller than one bin. "
            f"Received: shift={shift}, pool_width={pool_width}"
        )
    one_hot = shift_one_hot(one_hot, shift)
    targets = np.asarray(targets)
    if pool_width == 1:
        targets = shift_one_hot(targets, shift)
    if reverse:
        one_hot = reverse_complement(one_hot)
        targets = np.ascontiguousarray(targets[..., ::-1, :])
    return one_hot, targets


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    return int(value)
