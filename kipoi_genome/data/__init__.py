"""Genomic data pipelines: extractors → pure transforms → consumers.

Extractors read files (`FastaExtractor`, `read_bed`, `read_vcf`); transforms
are pure NumPy (`one_hot_encode`, `reverse_complement`, ...); consumers build
model inputs (`variant_windows`, tf.data datasets, TFRecords, Kipoi
dataloaders).
"""

from kipoi_genome.data.errors import InputFileError
from kipoi_genome.data.fasta import FastaExtractor
from kipoi_genome.data.intervals import Interval, check_intervals, iter_bed, read_bed
from kipoi_genome.data.transforms import (
    augment,
    check_sequence,
    one_hot_decode,
    one_hot_encode,
    pad_or_trim,
    resize_interval,
    reverse_complement,
    shift_one_hot,
)
from kipoi_genome.data.variants import VariantWindow, variant_window, variant_windows
from kipoi_genome.data.vcf import Variant, iter_vcf, read_vcf
