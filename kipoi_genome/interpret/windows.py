"""Model input windows and the genomic span of their output bins."""

import dataclasses

from kipoi_genome.data import FastaExtractor, Interval, one_hot_encode


@dataclasses.dataclass(frozen=True)
class ModelWindow:
    """A region prepared for a track model.

    Attributes:
        input: Interval read by the model (its input length, centred on the region).
        one_hot: float32 `[L, 4]` of `input`, N (and off-chromosome) as zeros.
        output: Interval covered by the output bins.
        bin_size: bp per output bin.
    """

    input: Interval
    one_hot: object
    output: Interval
    bin_size: int


def model_window(model, fasta, region):
    """Centres `region` in the model's input and locates its output bins.

    Args:
        model: an `Enformer` (or any model with `sequence_length`,
            `num_conv_tower_blocks` and `target_length`).
        fasta: path or `FastaExtractor`.
        region: Interval.

    Returns:
        ModelWindow.
    """
    fasta = fasta if isinstance(fasta, FastaExtractor) else FastaExtractor(fasta)
    length = model.sequence_length
    window = region.resize(length)
    bin_size = 2 ** (model.num_conv_tower_blocks + 1)
    bins = model.target_length or length // bin_size
    offset = (length - bins * bin_size) // 2
    output = Interval(region.chrom, window.start + offset, window.start + offset + bins * bin_size)
    one_hot = one_hot_encode(fasta.extract(window.chrom, window.start, window.end))
    return ModelWindow(window, one_hot, output, bin_size)
