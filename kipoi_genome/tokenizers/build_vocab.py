"""Regenerates the frozen LOGO k-mer vocabulary files in `vocab/`.

Usage: `python -m kipoi_genome.tokenizers.build_vocab` (writes
`kipoi_genome/tokenizers/vocab/logo_kmer_{3,4,5,6}.txt`).

The files are the single source of truth for the token ids; this script
only documents how they were produced. It enumerates the k-mers the way LOGO
does (LOGO.md §3.3), written from the description, not from the original
code:

- alphabet order N, A, G, C, T;
- level 1 is the five letters N, A, G, C, T;
- level l >= 2 appends each letter (outer loop, in alphabet order) to every
  level-(l - 1) entry that does not start with N (inner loop, in list order);
- the dictionary is levels 1..k concatenated, numbered from 10.

Ids 0-9 are reserved (0 pad/unk, 1 cls, 2 mask, 3 sep, 4-9 unused) and the
three ids after the dictionary are unused, so each file has `5**k + 13`
lines; line i holds the token with id i. `tests/test_tokenizer.py` checks the
files against the closed form.
"""

import argparse
import pathlib

ALPHABET = "NAGCT"
FIRST_KMER_ID = 10
RESERVED = ["[PAD]", "[CLS]", "[MASK]", "[SEP]"] + [f"[unused{i}]" for i in range(4, 10)]
NUM_TRAILING_UNUSED = 3
SUPPORTED_K = (3, 4, 5, 6)
VOCAB_DIR = pathlib.Path(__file__).resolve().parent / "vocab"


def enumerate_kmers(k):
    """All 1- to k-mers in LOGO's order (a list of `5**k` strings)."""
    level = list(ALPHABET)
    tokens = list(level)
    for _ in range(2, k + 1):
        level = [
            prefix + last for last in ALPHABET for prefix in level if not prefix.startswith("N")
        ]
        tokens.extend(level)
    return tokens


def vocabulary_tokens(k):
    """The full id-ordered token list for `k`: reserved, k-mers, unused."""
    kmers = enumerate_kmers(k)
    trailing = [f"[unused{len(RESERVED) + len(kmers) + i}]" for i in range(NUM_TRAILING_UNUSED)]
    return RESERVED + kmers + trailing


def vocab_path(k, directory=VOCAB_DIR):
    return pathlib.Path(directory) / f"logo_kmer_{k}.txt"


def write_vocabularies(directory=VOCAB_DIR, ks=SUPPORTED_K):
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for k in ks:
        vocab_path(k, directory).write_text("\n".join(vocabulary_tokens(k)) + "\n")
    return [vocab_path(k, directory) for k in ks]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", default=str(VOCAB_DIR))
    args = parser.parse_args(argv)
    for path in write_vocabularies(args.output_dir):
        print(path)


if __name__ == "__main__":
    main()
