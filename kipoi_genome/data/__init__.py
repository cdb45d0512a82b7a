"""Genomic data pipelines: extractors → pure transforms → consumers.

Extractors read files (`FastaExtractor`, `read_bed`, `read_vcf`); transforms
are pure NumPy (`one_hot_encode`, `reverse_complement`, ...); consumers build
model inputs (`variant_windows`, tf.data datasets, TFRecords, Kipoi
dataloaders).
"""

from kipoi_genome.data.errors import DamagedFileError, InputFileError, RefMismatchError
from kipoi_genome.data.fasta import FastaExtractor
from kipoi_genome.data.intervals import Interval, binned_coverage, check_intervals, iter_bed, parse_region, read_bed
from kipoi_genome.data.transforms import (
    augment,
    check_sequence,
    one_hot_decode,
    one_hot_encode,
    pad_or_trim,
    resize_interval,
    reverse_complement,
    reverse_complement_codes,
    shift_one_hot,
)
from kipoi_genome.data.variants import VariantWindow, variant_window, variant_windows
from kipoi_genome.data.vcf import Variant, iter_vcf, read_vcf
from kipoi_genome.data.kipoi_datasets import (
    IntervalOneHotDataset,
    VariantRefAltDataset,
)

# TensorFlow-backed names load on first use, so that importing the NumPy
# readers and transforms does not import TensorFlow.
_LAZY = {
    "interval_dataset": "kipoi_genome.data.tf_datasets",
    "tfrecord_dataset": "kipoi_genome.data.tf_datasets",
    "augment_example": "kipoi_genome.data.tf_datasets",
    "augment_batch": "kipoi_genome.data.tf_datasets",
    "reverse_complement_one_hot": "kipoi_genome.data.tf_datasets",
    "shift_sequence": "kipoi_genome.data.tf_datasets",
    "random_augmentation": "kipoi_genome.data.tf_datasets",
    "write_tfrecords": "kipoi_genome.data.tfrecords",
    "read_tfrecords": "kipoi_genome.data.tfrecords",
    "read_statistics": "kipoi_genome.data.tfrecords",
    "parse_example": "kipoi_genome.data.tfrecords",
    "serialize_example": "kipoi_genome.data.tfrecords",
    "BigWigTargets": "kipoi_genome.data.tfrecords",
    "BedTargets": "kipoi_genome.data.tfrecords",
}


def __getattr__(name):
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'kipoi_genome.data' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
