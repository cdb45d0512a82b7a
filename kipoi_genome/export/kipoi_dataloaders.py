"""The `kipoi_genome.data` datasets as Kipoi dataloaders (kipoi 0.8.6).

Each class adds Kipoi's `Dataset` base (and its batching: `batch_iter`,
`load_all`, `num_workers`) to a dataset of `kipoi_genome.data.kipoi_dataloaders`;
the samples are unchanged. `dataloaders/<name>/dataloader.py` re-exports
one class and `dataloader.yaml` describes its arguments and outputs.
Importing this module imports kipoi and applies `kipoi_compat`.
"""

from kipoi_genome.export import kipoi_compat  # noqa: F401  (patches kipoi on import)

import kipoi.data  # noqa: E402

from kipoi_genome.data import kipoi_dataloaders as _datasets  # noqa: E402


class IntervalOneHot(_datasets.IntervalOneHotDataset, kipoi.data.Dataset):
    """BED intervals -> one-hot DNA `[L, 4]` (see `IntervalOneHotDataset`)."""

    batch_iter = kipoi.data.Dataset.batch_iter
    load_all = kipoi.data.Dataset.load_all


class IntervalKmer(_datasets.IntervalKmerDataset, kipoi.data.Dataset):
    """BED intervals -> LOGO k-mer token ids (see `IntervalKmerDataset`)."""

    batch_iter = kipoi.data.Dataset.batch_iter
    load_all = kipoi.data.Dataset.load_all


class VariantRefAlt(_datasets.VariantRefAltDataset, kipoi.data.Dataset):
    """VCF variants -> `{"ref": [L, 4], "alt": [L, 4]}` (see `VariantRefAltDataset`)."""

    batch_iter = kipoi.data.Dataset.batch_iter
    load_all = kipoi.data.Dataset.load_all
