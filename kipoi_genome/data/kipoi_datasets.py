"""Kipoi-style dataloaders built on the shared extractors and transforms.

Kipoi is optional (and is not imported here): each class is a plain
map-style dataset with ``__len__`` and ``__getitem__`` returning a Kipoi
sample dict ``{"inputs": ..., "targets": ... (optional), "metadata": {...}}``
(leaves without a batch axis), plus ``batch_iter`` and ``load_all`` that
collate samples like Kipoi does. ``metadata["ranges"]`` holds the Kipoi
GenomicRanges fields ``chr``, ``start``, ``end``, ``id``, ``strand``.

Unlike kipoiseq's ``SeqIntervalDl``, windows are N-padded at chromosome ends
(never truncated or wrapped) and N is encoded with an explicit
``neutral_value`` (0 by default, as Enformer expects).

FASTA handles are opened lazily per process, so ``num_workers > 0`` is safe.
"""

import multiprocessing
import os

import numpy as np

from kipoi_genome.data.errors import InputFileError
from kipoi_genome.data.fasta import FastaExtractor
from kipoi_genome.data.intervals import check_intervals, read_bed
from kipoi_genome.data.transforms import one_hot_encode
from kipoi_genome.data.variants import variant_window
from kipoi_genome.data.vcf import read_vcf


def collate(samples):
    """Stacks a list of (nested) samples into a batch, as Kipoi does.

    Arrays and numbers are stacked with a new leading axis; dicts and lists
    are collated element-wise; strings and None become lists.

    Args:
        samples: non-empty list of samples with the same structure.

    Returns:
        The batch, with the structure of one sample.
    """
    first = samples[0]
    if isinstance(first, dict):
        return {key: collate([sample[key] for sample in samples]) for key in first}
    if isinstance(first, (list, tuple)) and not isinstance(first, str):
        return [collate([sample[i] for sample in samples]) for i in range(len(first))]
    if isinstance(first, (np.ndarray, np.generic, int, float, bool)) and not isinstance(first, str):
        return np.stack([np.asarray(sample) for sample in samples])
    return list(samples)


_WORKER_DATASET = None


def _init_worker(dataset):
    global _WORKER_DATASET
    _WORKER_DATASET = dataset


def _load_batch(indices):
    return collate([_WORKER_DATASET[i] for i in indices])


class MapDataset:
    """Base class: ``__len__`` + ``__getitem__`` + Kipoi-like batch iteration."""

    def __len__(self):
        raise NotImplementedError

    def __getitem__(self, index):
        raise NotImplementedError

    def _index_batches(self, batch_size, shuffle, drop_last, seed):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"`batch_size` must be a positive integer. Received: batch_size={batch_size!r}")
        order = np.arange(len(self))
        if shuffle:
            np.random.default_rng(seed).shuffle(order)
        batches = [order[i : i + batch_size].tolist() for i in range(0, len(order), batch_size)]
        if drop_last and batches and len(batches[-1]) < batch_size:
            batches.pop()
        return batches

    def batch_iter(self, batch_size=32, shuffle=False, drop_last=False, num_workers=0, seed=None):
        """Yields collated batches.

        Args:
            batch_size: int. Samples per batch.
            shuffle: bool. Shuffle sample order.
            drop_last: bool. Drop the last incomplete batch.
            num_workers: int. Worker processes (0: load in this process).
            seed: int or None. Shuffle seed.

        Yields:
            dict batches with a leading batch axis on every array.
        """
        batches = self._index_batches(batch_size, shuffle, drop_last, seed)
        if num_workers <= 0:
            for indices in batches:
                yield collate([self[i] for i in indices])
            return
        context = multiprocessing.get_context("spawn" if os.name == "nt" else "fork")
        with context.Pool(num_workers, initializer=_init_worker, initargs=(self,)) as pool:
            yield from pool.imap(_load_batch, batches)

    def load_all(self, batch_size=32, num_workers=0):
        """All samples collated into one batch."""
        return collate([self[i] for i in range(len(self))])


def _all_numbers(fields):
    try:
        [float(field) for field in fields]
    except ValueError:
        return False
    return True


def _ranges(chrom, start, end, name, strand):
    return {"chr": chrom, "start": int(start), "end": int(end), "id": name or "", "strand": strand}


def variant_metadata(variant, window):
    """Kipoi metadata of one variant's window: the variant's fields and its window as ranges."""
    return {
        "variant": {
            "chrom": variant.chrom,
            "pos": variant.pos,
            "id": variant.id or "",
            "ref": variant.ref,
            "alt": variant.alt,
        },
        "ranges": _ranges(variant.chrom, window.start, window.end, variant.id or str(variant), "*"),
    }


class IntervalDataset(MapDataset):
    """BED intervals of a FASTA, checked against its contigs and optionally resized; subclasses encode them."""

    def __init__(self, intervals_file, fasta_file, auto_resize_len=None, use_strand=False, check_bounds=True):
        self.fasta = fasta_file if isinstance(fasta_file, FastaExtractor) else FastaExtractor(fasta_file)
        self.intervals = read_bed(intervals_file)
        if check_bounds:
            check_intervals(self.intervals, self.fasta)
        if auto_resize_len is not None:
            self.intervals = [interval.resize(auto_resize_len) for interval in self.intervals]
        self.auto_resize_len = auto_resize_len
        self.use_strand = bool(use_strand)

    def __len__(self):
        return len(self.intervals)

    def _sequence(self, interval):
        strand = interval.strand if self.use_strand and interval.strand == "-" else "+"
        return self.fasta.extract(interval.chrom, interval.start, interval.end, strand)

    def _metadata(self, index, interval):
        name = interval.name if interval.name is not None else str(index)
        return {"ranges": _ranges(interval.chrom, interval.start, interval.end, name, interval.strand)}


class IntervalOneHotDataset(IntervalDataset):
    """BED intervals → one-hot DNA (Kipoi ``SeqIntervalDl`` equivalent).

    Args:
        intervals_file: str. BED file (3+ columns; columns after the sixth are
            numeric targets unless `ignore_targets`).
        fasta_file: str or FastaExtractor. Reference genome.
        auto_resize_len: int or None. Resize every interval to this length
            around its centre (N-padded past chromosome ends).
        use_strand: bool. Reverse-complement minus-strand intervals.
        neutral_value: float. One-hot value of N. Defaults to 0 (Enformer).
        ignore_targets: bool or None. True: never return targets. False:
            BED columns 7+ are targets and must be numbers (else an
            InputFileError names the line). None (default): use them as
            targets if every one is a number, otherwise ignore them (e.g. the
            gene-type column of a TSS BED).
        dtype: str. Output dtype. Defaults to float32.
        check_bounds: bool. Reject intervals on absent contigs or past contig
            ends (before resizing). Defaults to True.

    Sample:
        ``inputs`` (L, 4); ``targets`` (n,) float32 if the BED has extra
        columns; ``metadata.ranges``.
    """

    def __init__(
        self,
        intervals_file,
        fasta_file,
        auto_resize_len=None,
        use_strand=False,
        neutral_value=0.0,
        ignore_targets=None,
        dtype="float32",
        check_bounds=True,
    ):
        super().__init__(intervals_file, fasta_file, auto_resize_len, use_strand, check_bounds)
        self.neutral_value = float(neutral_value)
        self.dtype = np.dtype(dtype)
        self.ignore_targets = bool(ignore_targets) or not any(iv.extra for iv in self.intervals)
        if not self.ignore_targets:
            bad = next((iv for iv in self.intervals if not _all_numbers(iv.extra)), None)
            if bad is not None and ignore_targets is None:
                self.ignore_targets = True
            elif bad is not None:
                raise InputFileError(
                    bad.source, bad.line, "BED target columns must be numbers", "\t".join(bad.extra)
                )
            else:
                widths = {len(iv.extra) for iv in self.intervals}
                if len(widths) > 1:
                    raise InputFileError(
                        self.intervals[0].source, None,
                        "BED lines have different numbers of target columns", sorted(widths),
                    )

    def __getitem__(self, index):
        interval = self.intervals[index]
        strand = interval.strand if self.use_strand and interval.strand == "-" else "+"
        one_hot = self.fasta.extract_one_hot(
            interval.chrom, interval.start, interval.end, strand, self.neutral_value
        ).astype(self.dtype, copy=False)
        sample = {"inputs": one_hot, "metadata": self._metadata(index, interval)}
        if not self.ignore_targets:
            sample["targets"] = np.array([float(v) for v in interval.extra], dtype=np.float32)
        return sample


class VariantRefAltDataset(MapDataset):
    """VCF variants → one-hot reference / alternative windows.

    Windows follow `kipoi_genome.data.variants` (variant at index
    ``sequence_length // 2``, length-preserving indel rule, REF checked
    against the FASTA). Multi-allelic records give one sample per ALT.

    Args:
        vcf_file: str. VCF / VCF.gz / BCF.
        fasta_file: str or FastaExtractor.
        sequence_length: int. Window length.
        neutral_value: float. One-hot value of N. Defaults to 0.
        dtype: str. Output dtype. Defaults to float32.

    Sample:
        ``inputs`` ``{"ref": (L, 4), "alt": (L, 4)}``; ``metadata``
        ``{"variant": {"chrom", "pos", "id", "ref", "alt"}, "ranges": ...}``.
    """

    def __init__(self, vcf_file, fasta_file, sequence_length, neutral_value=0.0, dtype="float32"):
        self.fasta = fasta_file if isinstance(fasta_file, FastaExtractor) else FastaExtractor(fasta_file)
        self.variants = read_vcf(vcf_file)
        self.sequence_length = sequence_length
        self.neutral_value = float(neutral_value)
        self.dtype = np.dtype(dtype)

    def __len__(self):
        return len(self.variants)

    def __getitem__(self, index):
        variant = self.variants[index]
        window = variant_window(self.fasta, variant, self.sequence_length)
        encode = lambda s: one_hot_encode(s, self.neutral_value, self.dtype)  # noqa: E731
        return {
            "inputs": {"ref": encode(window.reference), "alt": encode(window.alternative)},
            "metadata": variant_metadata(variant, window),
        }
