"""Variants from VCF / VCF.gz / BCF files through cyvcf2."""

import dataclasses
import os
import warnings

from kipoi_genome.data.errors import InputFileError
from kipoi_genome.data.textfiles import open_text, read_line

_ALLELE_CHARS = set("ACGTNacgtn")


@dataclasses.dataclass(frozen=True)
class Variant:
    """One (biallelic) variant; multi-allelic records are split into several.

    Attributes:
        chrom: str. Contig name.
        pos: int. 1-based position of the first REF base (as in VCF).
        id: str or None. VCF ID column (None for ``.``).
        ref: str. Reference allele (upper case).
        alt: str. Alternative allele (upper case).
        source: str or None. File the variant was read from.
        line: int or None. 1-based line of the record in `source`.
    """

    chrom: str
    pos: int
    id: str
    ref: str
    alt: str
    source: str = dataclasses.field(default=None, compare=False)
    line: int = dataclasses.field(default=None, compare=False)

    @property
    def start(self):
        """int: 0-based start of REF."""
        return self.pos - 1

    @property
    def end(self):
        """int: 0-based exclusive end of REF."""
        return self.pos - 1 + len(self.ref)

    @property
    def kind(self):
        """str: ``"snv"``, ``"mnv"``, ``"insertion"``, ``"deletion"`` or ``"complex"``."""
        if len(self.ref) == len(self.alt):
            return "snv" if len(self.ref) == 1 else "mnv"
        if len(self.ref) == 1 and self.alt[:1] == self.ref:
            return "insertion"
        if len(self.alt) == 1 and self.ref[:1] == self.alt:
            return "deletion"
        return "complex"

    def __str__(self):
        return f"{self.chrom}:{self.pos}:{self.ref}>{self.alt}"


def _count_header_lines(path):
    count = 0
    with open_text(path, "VCF") as handle:
        for line in handle:
            if not line.startswith("#"):
                break
            count += 1
    return count


def iter_vcf(path, skip_unsupported=True):
    """Yields variants of a VCF / VCF.gz / BCF, one per ALT allele.

    Records with several ALT alleles are split into one `Variant` per allele.
    Symbolic alleles (``<DEL>``, ``<*>``), breakends, the spanning deletion
    ``*`` and missing ALTs (``.``) cannot be turned into sequence; they are
    skipped with one summary warning (or raise with ``skip_unsupported=False``).

    Args:
        path: str or os.PathLike.
        skip_unsupported: bool. Skip (True, default) or reject alleles that
            are not plain sequence.

    Yields:
        Variant, with `source` and `line` set (line numbers count the header,
        so they match the decompressed text file).

    Raises:
        InputFileError: for a missing, empty or non-VCF file, or a malformed
            record (unparseable line, REF or ALT with characters other than
            ACGTN), naming the file, line and value.
    """
    import cyvcf2

    path = os.fspath(path)
    is_text = not path.endswith(".bcf")
    header_lines = _count_header_lines(path) if is_text else 0
    try:
        reader = cyvcf2.VCF(path, lazy=True)
    except (OSError, Exception) as error:  # cyvcf2 raises OSError or a bare Exception
        raise InputFileError(path, None, f"not a valid VCF file: {str(error).splitlines()[0]}") from None
    skipped = 0
    number = header_lines
    try:
        records = iter(reader)
        while True:
            number += 1
            try:
                record = next(records)
            except StopIteration:
                break
            except Exception:  # htslib parse errors surface as a bare Exception
                line = read_line(path, number) if is_text else None
                raise InputFileError(path, number if is_text else None, "malformed VCF record", line) from None
            line_no = number if is_text else None
            ref = record.REF
            if not ref or not set(ref) <= _ALLELE_CHARS:
                raise InputFileError(path, line_no, "REF allele must be ACGTN", ref)
            alts = record.ALT
            if not alts:
                if not skip_unsupported:
                    raise InputFileError(path, line_no, "record has no ALT allele", ".")
                skipped += 1
                continue
            variant_id = record.ID if record.ID not in (None, ".") else None
            for alt in alts:
                if not set(alt) <= _ALLELE_CHARS:
                    if _is_unsupported_allele(alt):
                        if not skip_unsupported:
                            raise InputFileError(path, line_no, "non-sequence ALT allele", alt)
                        skipped += 1
                        continue
                    raise InputFileError(path, line_no, "ALT allele must be ACGTN", alt)
                yield Variant(
                    record.CHROM, int(record.POS), variant_id, ref.upper(), alt.upper(), path, line_no
                )
    finally:
        reader.close()
    if skipped:
        warnings.warn(f"{path}: skipped {skipped} ALT allele(s) that are not plain sequence (symbolic, '*' or '.')")


def _is_unsupported_allele(alt):
    return alt in ("*", ".", "") or "<" in alt or "[" in alt or "]" in alt or alt.startswith(".") or alt.endswith(".")


def read_vcf(path, skip_unsupported=True):
    """Reads all variants of a VCF; see `iter_vcf`.

    Returns:
        list of Variant.

    Raises:
        InputFileError: as `iter_vcf`, and if the file holds no variant.
    """
    variants = list(iter_vcf(path, skip_unsupported))
    if not variants:
        raise InputFileError(path, None, "VCF file has no variants")
    return variants
