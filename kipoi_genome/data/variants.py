"""Reference / alternative sequence windows centred on variants.

Window rule (the same for SNVs, MNVs, insertions, deletions and complex
substitutions; both windows have exactly ``length`` bp):

* Let ``p = POS - 1`` be the 0-based position of the first REF base and
  ``a = length // 2`` the anchor index. The window starts at ``p - a``, so
  the first REF base sits at index ``a`` of the reference window.
* **reference** = the genome on ``[p - a, p - a + length)``.
* **alternative** = the same left flank (``a`` bp, identical to the
  reference window's), then ALT, then the genome from ``p + len(REF)``
  onwards, cut to ``length`` bp. The left flank and the variant's position
  never move; the right flank absorbs the length change: a deletion pulls in
  ``len(REF) - len(ALT)`` more bases from the right, an insertion pushes the
  last ``len(ALT) - len(REF)`` bases out (and an ALT longer than
  ``length - a`` is itself cut).
* Positions beyond the chromosome ends are N, as everywhere else.
* REF must equal the FASTA on ``[p, p + len(REF))`` (case-insensitive).

For an SNV this is the usual centred pair: the two windows differ at index
``length // 2`` only.
"""

import dataclasses
import os

from kipoi_genome.data.errors import InputFileError, RefMismatchError
from kipoi_genome.data.fasta import FastaExtractor
from kipoi_genome.data.vcf import Variant, iter_vcf


@dataclasses.dataclass(frozen=True)
class VariantWindow:
    """A variant with its reference and alternative windows.

    Attributes:
        variant: Variant. The (biallelic) variant.
        start: int. 0-based start of the window on the chromosome.
        reference: str. Reference window, ``length`` bp.
        alternative: str. Alternative window, ``length`` bp.
    """

    variant: Variant
    start: int
    reference: str
    alternative: str

    @property
    def chrom(self):
        """str: contig name."""
        return self.variant.chrom

    @property
    def pos(self):
        """int: 1-based VCF position."""
        return self.variant.pos

    @property
    def id(self):
        """str or None: VCF ID."""
        return self.variant.id

    @property
    def ref(self):
        """str: REF allele."""
        return self.variant.ref

    @property
    def alt(self):
        """str: ALT allele."""
        return self.variant.alt

    @property
    def end(self):
        """int: exclusive end of the reference window."""
        return self.start + len(self.reference)

    # Aliases, for readers who expect the longer names.
    position = pos
    variant_id = id

    @property
    def sequences(self):
        """tuple: (reference, alternative)."""
        return self.reference, self.alternative

    def as_dict(self):
        """dict with id, chrom, pos, ref, alt, start, reference, alternative."""
        return {
            "id": self.id,
            "chrom": self.chrom,
            "pos": self.pos,
            "ref": self.ref,
            "alt": self.alt,
            "start": self.start,
            "reference": self.reference,
            "alternative": self.alternative,
        }


def check_variant(fasta, variant, check_ref=True):
    """The checks of `variant_window` without the window: contig, position and REF.

    Reads only REF's bases from the FASTA, and none with `check_ref=False`
    (a planning pass over millions of variants).

    Args:
        fasta: FastaExtractor.
        variant: Variant.
        check_ref: bool. Check REF against the FASTA. Defaults to True.

    Raises:
        InputFileError: naming the VCF file and line, when the contig is not
            in the FASTA or the variant lies outside the contig;
            `RefMismatchError` (a subclass) when REF disagrees with the FASTA.
    """
    chrom_length = fasta.chromosome_lengths.get(variant.chrom)
    if chrom_length is None:
        raise InputFileError(
            variant.source, variant.line, f"contig not in FASTA {fasta.path}", variant.chrom
        )
    if variant.start < 0 or variant.end > chrom_length:
        raise InputFileError(
            variant.source,
            variant.line,
            f"variant lies outside {variant.chrom} (length {chrom_length})",
            f"{variant.chrom}:{variant.pos}",
        )
    if check_ref:
        genome_ref = fasta.extract(variant.chrom, variant.start, variant.end)
        if genome_ref.upper() != variant.ref:
            raise RefMismatchError(
                variant.source,
                variant.line,
                f"REF disagrees with FASTA at {variant.chrom}:{variant.pos} (FASTA has "
                f"'{genome_ref[:20]}')",
                variant.ref,
            )


def variant_window(fasta, variant, length, check_ref=True):
    """Reference and alternative windows of one variant (see the module docstring).

    Args:
        fasta: FastaExtractor.
        variant: Variant.
        length: int. Window length in bp (positive).
        check_ref: bool. Check REF against the FASTA. Defaults to True.

    Returns:
        VariantWindow.

    Raises:
        InputFileError: naming the VCF file and line, when the contig is not
            in the FASTA or the variant lies outside the contig;
            `RefMismatchError` (a subclass) when REF disagrees with the FASTA.
    """
    if isinstance(length, bool) or not isinstance(length, int) or length <= 0:
        raise ValueError(f"`length` must be a positive integer. Received: length={length!r}")
    check_variant(fasta, variant, check_ref)
    anchor = length // 2
    start = variant.start - anchor
    reference = fasta.extract(variant.chrom, start, start + length)
    left = reference[:anchor]
    alt = variant.alt[: length - anchor]
    right_start = variant.end
    right_length = length - anchor - len(alt)
    right = fasta.extract(variant.chrom, right_start, right_start + right_length)
    alternative = left + alt + right
    return VariantWindow(variant, start, reference, alternative)


def variant_windows(fasta, vcf, length, check_ref=True, skip_unsupported=True):
    """Yields reference / alternative windows for every variant of a VCF.

    Multi-allelic records give one window pair per ALT allele. See the module
    docstring for the (length-preserving) rule used for indels.

    Args:
        fasta: str, os.PathLike or FastaExtractor. Reference genome.
        vcf: str or os.PathLike (VCF, VCF.gz or BCF), or an iterable of Variant.
        length: int. Window length in bp.
        check_ref: bool. Check each REF against the FASTA. Defaults to True.
        skip_unsupported: bool. Skip symbolic / ``*`` / missing ALT alleles
            with a warning (True, default) or raise.

    Yields:
        VariantWindow with ``id``, ``chrom``, ``pos``, ``ref``, ``alt``,
        ``start``, ``reference`` and ``alternative`` (strings of ``length`` bp).

    Raises:
        InputFileError: for bad files or records (see `iter_vcf`,
            `variant_window`).

    Example:
        >>> for w in variant_windows("genome.fa", "calls.vcf.gz", 1000):  # doctest: +SKIP
        ...     print(w.id, w.pos, w.reference[500], w.alternative[500])
    """
    if not isinstance(fasta, FastaExtractor):
        fasta = FastaExtractor(fasta)
    if isinstance(vcf, (str, os.PathLike)):
        variants = iter_vcf(vcf, skip_unsupported=skip_unsupported)
    else:
        variants = vcf
    for variant in variants:
        yield variant_window(fasta, variant, length, check_ref=check_ref)
