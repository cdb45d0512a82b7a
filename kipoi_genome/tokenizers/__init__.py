"""Sequence tokenizers."""

from kipoi_genome.tokenizers.kmer_tokenizer import (
    CLS_ID,
    MASK_ID,
    PAD_ID,
    KmerTokenizer,
    base_codes,
)

# The DNA reverse complement has one owner, `kipoi_genome.data.transforms`;
# it is re-exported here for tokenizer users.
from kipoi_genome.data.transforms import reverse_complement
