"""Sequence tokenizers."""

from kipoi_genome.tokenizers.kmer_tokenizer import (
    CLS_ID,
    MASK_ID,
    PAD_ID,
    KmerTokenizer,
    base_codes,
    reverse_complement,
)
