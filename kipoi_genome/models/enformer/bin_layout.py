"""Where a track model's output bins lie in its input window (Enformer geometry).

Used by gene-level readouts (`kipoi_genome.inference.genes`), gene-level
variant effects (`kipoi_genome.interpret.gene_effects`) and genome tiling.
"""

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class BinLayout:
    """Where a track model's output bins lie in its input window.

    Attributes:
        sequence_length: int. Input bp ``L``.
        bin_size: int. bp per output bin ``b``.
        target_length: int. Output bins ``T``.
        offset: int. Input index of the first bp of bin 0.
    """

    sequence_length: int
    bin_size: int
    target_length: int
    offset: int

    @property
    def centre_bin(self):
        """int: the bin holding input index ``L // 2`` (a centred TSS)."""
        return (self.sequence_length // 2 - self.offset) // self.bin_size

    def readout_bins(self, tss_bins=3):
        """Bins read for a TSS at the window centre: `tss_bins` bins around `centre_bin`.

        Args:
            tss_bins: int >= 1. Odd counts are symmetric; an even count adds
                the extra bin downstream (higher coordinates).

        Returns:
            np.ndarray int of bin indices, ascending.
        """
        if not isinstance(tss_bins, (int, np.integer)) or isinstance(tss_bins, bool) or tss_bins < 1:
            raise ValueError(f"`tss_bins` must be a positive integer. Received: tss_bins={tss_bins!r}")
        first = self.centre_bin - (tss_bins - 1) // 2
        if first < 0 or first + tss_bins > self.target_length:
            raise ValueError(
                f"`tss_bins` must fit in the model's {self.target_length} output bins around bin "
                f"{self.centre_bin}. Received: tss_bins={tss_bins}"
            )
        return np.arange(first, first + tss_bins)

    def window_start(self, position):
        """0-based start of the input window centred on `position`."""
        return position - self.sequence_length // 2

    def output_start(self, window_start):
        """0-based genomic start of bin 0 for an input window starting at `window_start`."""
        return window_start + self.offset


def bin_layout(model):
    """The `BinLayout` of an Enformer-like model.

    Args:
        model: a model with `sequence_length`, `num_conv_tower_blocks` and
            `target_length` attributes (Enformer).

    Raises:
        ValueError: for models without binned outputs (e.g. LOGO).
    """
    missing = [a for a in ("sequence_length", "num_conv_tower_blocks", "target_length") if not hasattr(model, a)]
    if missing:
        raise ValueError(
            f"This needs a track model with binned outputs (Enformer). "
            f"Received: {type(model).__name__}, which has no {', '.join(missing)}"
        )
    length = int(model.sequence_length)
    bin_size = 2 ** (int(model.num_conv_tower_blocks) + 1)
    bins = int(model.target_length or length // bin_size)
    return BinLayout(length, bin_size, bins, (length - bins * bin_size) // 2)
