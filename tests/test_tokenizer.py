"""KmerTokenizer: LOGO vocabulary, reading frames, reverse complement, tf.data."""

import numpy as np
import pytest
import tensorflow as tf

from kipoi_genome.tokenizers import KmerTokenizer, reverse_complement
from kipoi_genome.tokenizers.build_vocab import vocabulary_tokens
from kipoi_genome.tokenizers.kmer_tokenizer import load_vocabulary

A_CODE = {"N": 0, "A": 1, "G": 2, "C": 3, "T": 4}
R_CODE = {"A": 0, "G": 1, "C": 2, "T": 3}


def closed_form(kmer):
    """LOGO.md §3.3: id = 10 + 5^(k-1) + r(c1) + 4 * sum_j a(cj) 5^(j-2)."""
    k = len(kmer)
    return 10 + 5 ** (k - 1) + R_CODE[kmer[0]] + 4 * sum(
        A_CODE[c] * 5 ** (j - 2) for j, c in enumerate(kmer[1:], start=2)
    )


@pytest.mark.parametrize("k, size", [(3, 138), (4, 638), (5, 3138), (6, 15638)])
def test_vocabulary_sizes(k, size):
    assert KmerTokenizer(k=k).vocabulary_size == size


@pytest.mark.parametrize(
    "k, kmer, token_id",
    [
        (5, "ANNNN", 635),
        (5, "AAAAA", 1259),
        (5, "GAAAA", 1260),
        (5, "CAAAA", 1261),
        (5, "TAAAA", 1262),
        (5, "AGAAA", 1263),
        (5, "AAAAC", 2259),
        (5, "ACGTA", 1587),
        (5, "CGCGC", 2405),
        (5, "TTTTT", 3134),
        (5, "NAAAA", 0),
        (3, "AAA", 59),
        (3, "ACG", 87),
        (3, "TTT", 134),
        (4, "AAAA", 259),
        (4, "TTTT", 634),
        (6, "AAAAAA", 6259),
        (6, "TTTTTT", 15634),
    ],
)
def test_known_kmer_ids(k, kmer, token_id):
    assert KmerTokenizer(k=k).token_to_id(kmer) == token_id


def test_short_kmers_and_specials_in_file():
    vocab = load_vocabulary(5)
    assert vocab[:3] == ("[PAD]", "[CLS]", "[MASK]")
    assert vocab[10:22] == tuple("N A G C T AN GN CN TN AA GA CA".split())


@pytest.mark.parametrize("k", [3, 4, 5, 6])
def test_frozen_files_match_closed_form_and_generator(k):
    vocab = load_vocabulary(k)
    assert vocab == tuple(vocabulary_tokens(k))
    full = [(i, t) for i, t in enumerate(vocab) if len(t) == k and not t.startswith("[")]
    assert len(full) == 4 * 5 ** (k - 1)
    for token_id, kmer in full:
        assert closed_form(kmer) == token_id
    assert full[0][0] == KmerTokenizer(k=k).first_kmer_id
    assert full[-1][0] == KmerTokenizer(k=k).last_kmer_id


def test_reading_frames():
    tokenizer = KmerTokenizer(k=3)
    sequence = "ACGTTGCAAGCT"  # 12 bp -> m = (12 - 2) // 3 = 3
    ids = tokenizer.tokenize(sequence)
    assert ids.shape == (3, 3) and ids.dtype == np.int32
    for frame in range(3):
        expected = [tokenizer.token_to_id(sequence[frame + 3 * i : frame + 3 * i + 3]) for i in range(3)]
        assert ids[frame].tolist() == expected
    assert tokenizer.detokenize(ids[0]) == sequence[:9]


def test_n_handling_and_lower_case():
    tokenizer = KmerTokenizer(k=5)
    ids = tokenizer.tokenize("NAAAAANNNNacgtaRRRRR")
    assert ids[0].tolist() == [0, 635, 1587]  # leading N -> 0; inner N keeps its id
    assert ids[1, 0] == tokenizer.token_to_id("AAAAA")


def test_reverse_complement():
    tokenizer = KmerTokenizer(k=4)
    sequence = "ACGTTTGCANNCAGGT"
    np.testing.assert_array_equal(
        tokenizer.tokenize(sequence, reverse_complement=True),
        tokenizer.tokenize(reverse_complement(sequence)),
    )
    assert reverse_complement("AACGTN") == "NACGTT"


def test_tensorflow_path_matches_numpy_in_tf_data():
    tokenizer = KmerTokenizer(k=5)
    rng = np.random.default_rng(0)
    sequences = ["".join(rng.choice(list("ACGTN"), size=64, p=[0.24] * 4 + [0.04])) for _ in range(4)]
    dataset = tf.data.Dataset.from_tensor_slices(sequences).map(
        lambda s: (tokenizer(s), tokenizer(s, reverse_complement=True))
    )
    for sequence, (forward, reverse) in zip(sequences, dataset):
        np.testing.assert_array_equal(forward.numpy(), tokenizer.tokenize(sequence))
        np.testing.assert_array_equal(reverse.numpy(), tokenizer.tokenize(sequence, reverse_complement=True))
    batched = tokenizer(tf.constant(sequences))
    assert batched.shape == (4, 5, 12)
    np.testing.assert_array_equal(batched.numpy(), tokenizer.tokenize(sequences))


def test_config_round_trip_and_validation():
    tokenizer = KmerTokenizer(k=6)
    assert KmerTokenizer.from_config(tokenizer.get_config()).k == 6
    with pytest.raises(ValueError, match="Received: k=7"):
        KmerTokenizer(k=7)
