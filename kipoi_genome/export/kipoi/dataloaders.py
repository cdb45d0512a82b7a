"""The `kipoi_genome.data` datasets as Kipoi dataloaders (kipoi 0.8.6).

Each class adds Kipoi's `Dataset` base (and its batching: `batch_iter`,
`load_all`, `num_workers`) to a dataset of `kipoi_genome.data.kipoi_datasets`;
the samples are unchanged. The k-mer dataset (`IntervalKmer`) lives here, not in
`data`, because it tokenizes and `data` does not import `tokenizers`
(docs/architecture.md). `dataloaders/<name>/dataloader.py` re-exports
one class and `dataloader.yaml` describes its arguments and outputs.
Importing this module imports kipoi and applies `compat`.
"""

from kipoi_genome.export.kipoi import compat as kipoi_compat  # noqa: F401  (patches kipoi on import)

import kipoi.data  # noqa: E402

import numpy as np  # noqa: E402

from kipoi_genome.data import kipoi_datasets as _datasets  # noqa: E402
from kipoi_genome.tokenizers import KmerTokenizer  # noqa: E402


class IntervalOneHot(_datasets.IntervalOneHotDataset, kipoi.data.Dataset):
    """BED intervals -> one-hot DNA `[L, 4]` (see `IntervalOneHotDataset`)."""

    batch_iter = kipoi.data.Dataset.batch_iter
    load_all = kipoi.data.Dataset.load_all


class IntervalKmer(_datasets.IntervalDataset, kipoi.data.Dataset):
    """BED intervals -> LOGO k-mer token ids through `kipoi_genome.tokenizers.KmerTokenizer`.

    Args:
        intervals_file: str. BED file.
        fasta_file: str or FastaExtractor. Reference genome.
        k: int. k-mer size (3 to 6). Defaults to 5.
        auto_resize_len: int or None. Resize intervals around their centre.
        use_strand: bool. Reverse-complement minus-strand intervals.
        check_bounds: bool. Reject intervals off the FASTA contigs.

    Sample:
        ``inputs`` int32 (k, m) with ``m = (L - (k - 1)) // k``;
        ``metadata.ranges``.
    """

    batch_iter = kipoi.data.Dataset.batch_iter
    load_all = kipoi.data.Dataset.load_all

    def __init__(self, intervals_file, fasta_file, k=5, auto_resize_len=None, use_strand=False, check_bounds=True):
        super().__init__(intervals_file, fasta_file, auto_resize_len, use_strand, check_bounds)
        self.k = k
        self.tokenizer = KmerTokenizer(k=k)

    def __getitem__(self, index):
        interval = self.intervals[index]
        tokens = self.tokenizer.tokenize(self._sequence(interval))
        return {"inputs": np.asarray(tokens, dtype=np.int32), "metadata": self._metadata(index, interval)}

    def __getstate__(self):  # worker processes rebuild the tokenizer (a Keras layer)
        state = dict(self.__dict__)
        state.pop("tokenizer", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.tokenizer = KmerTokenizer(k=self.k)


class VariantRefAlt(_datasets.VariantRefAltDataset, kipoi.data.Dataset):
    """VCF variants -> `{"ref": [L, 4], "alt": [L, 4]}` (see `VariantRefAltDataset`)."""

    batch_iter = kipoi.data.Dataset.batch_iter
    load_all = kipoi.data.Dataset.load_all


class IntervalString(_datasets.IntervalDataset, kipoi.data.Dataset):
    """BED intervals -> upper-case DNA strings (LOGO models tokenize them).

    Args:
        intervals_file: str. BED file.
        fasta_file: str. Reference genome FASTA.
        auto_resize_len: int or None. Resize intervals around their centre.
        use_strand: bool. Reverse-complement minus-strand intervals.
        check_bounds: bool. Reject intervals off the FASTA contigs.

    Sample:
        ``inputs`` str (N-padded past contig ends); ``metadata.ranges``.
    """

    batch_iter = kipoi.data.Dataset.batch_iter
    load_all = kipoi.data.Dataset.load_all

    def __getitem__(self, index):
        interval = self.intervals[index]
        sequence = self._sequence(interval).upper()
        return {"inputs": sequence, "metadata": self._metadata(index, interval)}


class VariantRefAltString(_datasets.VariantRefAltDataset, kipoi.data.Dataset):
    """VCF variants -> `{"ref": str, "alt": str}` windows (see `VariantRefAltDataset`).

    Args:
        vcf_file: str. VCF / VCF.gz.
        fasta_file: str. Reference genome FASTA.
        sequence_length: int. Window length (the variant at `length // 2`).

    Sample:
        ``inputs`` ``{"ref": str, "alt": str, "ref_allele": str,
        "alt_allele": str, "offset": int}``: the windows (upper case), the
        REF / ALT alleles and the index of the first REF base in the windows
        (what an indel's score needs, `zero_shot_variant_scores(variants=)`);
        ``metadata`` with ``variant`` (chrom, pos, id, ref, alt) and
        ``ranges``.
    """

    batch_iter = kipoi.data.Dataset.batch_iter
    load_all = kipoi.data.Dataset.load_all

    def __init__(self, vcf_file, fasta_file, sequence_length=1004):
        super().__init__(vcf_file, fasta_file, sequence_length)

    def __getitem__(self, index):
        from kipoi_genome.data.variants import variant_window

        variant = self.variants[index]
        window = variant_window(self.fasta, variant, self.sequence_length)
        return {
            "inputs": {
                "ref": window.reference.upper(),
                "alt": window.alternative.upper(),
                "ref_allele": window.ref.upper(),
                "alt_allele": window.alt.upper(),
                "offset": np.int64(window.variant.start - window.start),
            },
            "metadata": _datasets.variant_metadata(variant, window),
        }
