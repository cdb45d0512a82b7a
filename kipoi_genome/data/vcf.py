"""Variants from VCF / VCF.gz files (parsed in Python) and BCF files (through cyvcf2)."""

import contextlib
import dataclasses
import gzip
import os
import re
import sys
import warnings

from kipoi_genome.data.errors import DamagedFileError, InputFileError
from kipoi_genome.data.textfiles import DECOMPRESSION_ERRORS, check_compressed, iter_lines

_ALLELE_CHARS = set("ACGTNacgtn")
_ALLELE = re.compile("[ACGTNacgtn]+")
_POSITION = re.compile("[1-9][0-9]*")


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


_HEADER_COLUMNS = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]
_BCF_MAGIC = b"BCF\x02"


def _is_bcf(path):
    """Whether `path` is a BCF file (by its name, or its magic after gzip/BGZF)."""
    if path.endswith(".bcf"):
        return True
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
        if head[:2] == b"\x1f\x8b":
            with gzip.open(path, "rb") as handle:
                head = handle.read(4)
    except (OSError, *DECOMPRESSION_ERRORS):
        return False  # reported with its line by the text reader
    return head == _BCF_MAGIC


def _record_lines(path):
    """Yields `(line_number, text)` of the record lines of a text VCF.

    Checks the header (``##fileformat=VCF`` first, then the ``#CHROM`` line
    with the 8 fixed columns) and skips blank lines.
    """
    lines = iter_lines(path, "VCF")
    number, text = next(lines, (1, ""))
    if not text.startswith("##fileformat=VCF"):
        raise InputFileError(path, None, "not a valid VCF file: the first line must be ##fileformat=VCFv4.x", text)
    for number, text in lines:
        if not text.startswith("##"):
            break
    else:
        raise InputFileError(path, None, "not a valid VCF file: no #CHROM header line")
    if not text.startswith("#CHROM"):
        raise InputFileError(path, number, "not a valid VCF file: no #CHROM header line before the records", text)
    if text.split("\t")[:8] != _HEADER_COLUMNS:
        raise InputFileError(
            path, number, "VCF header line must be #CHROM POS ID REF ALT QUAL FILTER INFO (tab-separated)", text
        )
    for number, text in lines:
        if text.strip():
            yield number, text


def _parse_record(path, number, text, skip_unsupported):
    """The checked fields of one VCF record line.

    Every field used is checked in Python, so that no line reaches a C parser
    unvalidated (cyvcf2 0.35.0 crashes on a line without a tab).

    Returns:
        `(chrom, pos, id, ref, alts, skipped)`: `alts` the upper-case
        sequence ALT alleles, `skipped` how many alleles were not sequence.
    """
    fields = text.split("\t", 8)
    if len(fields) < 8:
        raise InputFileError(
            path, number,
            f"malformed VCF record: {len(fields)} tab-separated column(s), needs 8 "
            "(CHROM POS ID REF ALT QUAL FILTER INFO)",
            text,
        )
    chrom, pos, variant_id, ref, alt_field = fields[:5]
    if chrom.split() != [chrom] or chrom[0] == "#":
        raise InputFileError(path, number, "malformed VCF record: CHROM must be a contig name", chrom)
    if not _POSITION.fullmatch(pos):
        raise InputFileError(path, number, "malformed VCF record: POS must be a positive integer", pos)
    if not _ALLELE.fullmatch(ref):
        raise InputFileError(path, number, "REF allele must be ACGTN", ref)
    if alt_field in ("", "."):
        if not skip_unsupported:
            raise InputFileError(path, number, "record has no ALT allele", alt_field)
        return chrom, int(pos), None, ref.upper(), [], 1
    alts, skipped = [], 0
    for alt in alt_field.split(","):
        if _ALLELE.fullmatch(alt):
            alts.append(alt.upper())
        elif _is_unsupported_allele(alt):
            if not skip_unsupported:
                raise InputFileError(path, number, "non-sequence ALT allele", alt)
            skipped += 1
        else:
            raise InputFileError(path, number, "ALT allele must be ACGTN", alt)
    return chrom, int(pos), (variant_id if variant_id not in ("", ".") else None), ref.upper(), alts, skipped


def _iter_text_vcf(path, skip_unsupported):
    # One checking pass first: a truncated or corrupt file is reported before
    # the first variant is yielded (and scored), not after everything before it.
    try:
        for number, text in _record_lines(path):
            _parse_record(path, number, text, skip_unsupported)
    except InputFileError as error:
        if not isinstance(error, DamagedFileError):
            check_compressed(path, "VCF")
        raise
    skipped = 0
    for number, text in _record_lines(path):
        chrom, pos, variant_id, ref, alts, count = _parse_record(path, number, text, skip_unsupported)
        skipped += count
        for alt in alts:
            yield Variant(chrom, pos, variant_id, ref, alt, path, number)
    return skipped


@contextlib.contextmanager
def _quiet_stderr():
    """Sends file descriptor 2 (where C libraries write) to /dev/null for the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _iter_bcf(path, skip_unsupported):
    import cyvcf2

    try:
        reader = cyvcf2.VCF(path, lazy=True)
    except (OSError, Exception) as error:  # cyvcf2 raises OSError or a bare Exception
        raise InputFileError(path, None, f"not a valid BCF file: {str(error).splitlines()[0]}") from None
    skipped, number = 0, 0
    try:
        records = iter(reader)
        while True:
            number += 1
            try:
                record = next(records)
            except StopIteration:
                break
            except Exception:  # htslib parse errors surface as a bare Exception
                raise InputFileError(path, None, f"malformed BCF record (record {number})") from None
            ref = record.REF
            if not ref or not set(ref) <= _ALLELE_CHARS:
                raise InputFileError(path, None, f"REF allele must be ACGTN (record {number})", ref)
            alts = record.ALT
            if not alts:
                if not skip_unsupported:
                    raise InputFileError(path, None, f"record {number} has no ALT allele", ".")
                skipped += 1
                continue
            variant_id = record.ID if record.ID not in (None, ".") else None
            for alt in alts:
                if not set(alt) <= _ALLELE_CHARS:
                    if _is_unsupported_allele(alt):
                        if not skip_unsupported:
                            raise InputFileError(path, None, f"non-sequence ALT allele (record {number})", alt)
                        skipped += 1
                        continue
                    raise InputFileError(path, None, f"ALT allele must be ACGTN (record {number})", alt)
                yield Variant(record.CHROM, int(record.POS), variant_id, ref.upper(), alt.upper(), path, None)
    finally:
        reader.close()
    return skipped


def iter_vcf(path, skip_unsupported=True):
    """Yields variants of a VCF / VCF.gz / BCF, one per ALT allele.

    Records with several ALT alleles are split into one `Variant` per allele.
    Symbolic alleles (``<DEL>``, ``<*>``), breakends, the spanning deletion
    ``*`` and missing ALTs (``.``) cannot be turned into sequence; they are
    skipped with one summary warning (or raise with ``skip_unsupported=False``).

    A text VCF (plain, gzip or bgzip) is parsed in Python: CHROM, POS, ID,
    REF and ALT are checked on every line, blank lines are skipped, and the
    whole file is checked once before the first variant is yielded, so a
    malformed line or a truncated ``.vcf.gz`` stops a run before any work.
    BCF (by name or content) is read through cyvcf2, also twice.

    Args:
        path: str or os.PathLike.
        skip_unsupported: bool. Skip (True, default) or reject alleles that
            are not plain sequence.

    Yields:
        Variant, with `source` and `line` set (line numbers count the header,
        so they match the decompressed text file; None for BCF).

    Raises:
        InputFileError: for a missing, empty, binary or non-VCF file, a
            truncated or corrupt gzip/bgzip stream, or a malformed record
            (fewer than 8 tab-separated columns, POS not a positive integer,
            REF or ALT with characters other than ACGTN), naming the file,
            line and value.
    """
    path = os.fspath(path)
    if _is_bcf(path):
        with _quiet_stderr():  # htslib prints its own [E::...] lines before an error
            for _ in _iter_bcf(path, skip_unsupported):  # the checking pass, as for text
                pass
        reader = _iter_bcf
    else:
        reader = _iter_text_vcf
    skipped = yield from reader(path, skip_unsupported)
    if skipped:
        warnings.warn(f"{path}: skipped {skipped} ALT allele(s) that are not plain sequence (symbolic, '*' or '.')")


def vcf_index(path):
    """The tabix (``.tbi``) or CSI (``.csi``) index of a bgzipped text VCF, or None.

    Only a BGZF-compressed text VCF with an index file beside it qualifies
    (what `tabix -p vcf` / `bcftools index` make); plain, gzip and BCF files
    give None.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(18)
    except OSError:
        return None
    # BGZF: a gzip member with FEXTRA whose subfield is "BC" (SAM/BAM spec 4.1).
    if len(head) < 18 or head[:4] != b"\x1f\x8b\x08\x04" or head[12:14] != b"BC" or _is_bcf(path):
        return None
    for suffix in (".tbi", ".csi"):
        if os.path.isfile(path + suffix):
            return path + suffix
    return None


def iter_vcf_region(path, chrom, first, last, lines, skip_unsupported=True):
    """Yields the variants of the records at POS `first`..`last` of `chrom`, from the index.

    For a worker that reads its own region of a bgzipped, indexed VCF (see
    `vcf_index`) that a streaming pass of `iter_vcf` has already checked:
    the records come from htslib's region query (cyvcf2), in file order,
    and their CHROM, POS, ID, REF and ALT go through the same checks and
    conversions as `iter_vcf`, so the variants are the ones `iter_vcf`
    yields for those records. Records that start before `first` (and
    overlap the region) are left out.

    Args:
        path: str or os.PathLike. The VCF.gz.
        chrom: str. Contig.
        first, last: int. 1-based POS range, inclusive.
        lines: sequence of `(first_line, count)` runs: the file line numbers
            of the region's records, as `iter_vcf` numbers them.
        skip_unsupported: bool. As `iter_vcf`.

    Yields:
        Variant, with `source` and `line` set.

    Raises:
        InputFileError: when the index cannot be read, or gives another
            number of records than `lines` holds (an index that does not
            match the file), naming the file and region.
    """
    import cyvcf2

    path = os.fspath(path)
    region = f"{chrom}:{first}-{last}"
    query = region if ":" not in chrom else f"{{{chrom}}}:{first}-{last}"
    fields = []
    # htslib prints warnings (e.g. undeclared INFO or contigs) on fd 2.
    with _quiet_stderr():
        try:
            reader = cyvcf2.VCF(path, lazy=True)
            try:
                for record in reader(query):
                    if record.CHROM == chrom and first <= record.POS <= last:
                        alts = ",".join(record.ALT) or "."
                        fields.append(f"{record.CHROM}\t{record.POS}\t{record.ID or '.'}\t{record.REF}\t{alts}")
            finally:
                reader.close()
        except Exception as error:  # cyvcf2 raises OSError or a bare Exception
            detail = (str(error).splitlines() or [type(error).__name__])[0]
            raise InputFileError(path, None, f"cannot read region {region} through the index ({detail})") from None
    numbers = [start + i for start, count in lines for i in range(count)]
    if len(fields) != len(numbers):
        raise InputFileError(
            path, None,
            f"the index gives {len(fields)} record(s) in {region} where the file has {len(numbers)}: "
            "it does not match the file (re-index it with tabix -p vcf)",
            region,
        )
    for number, text in zip(numbers, fields):
        chrom, pos, variant_id, ref, alts, _ = _parse_record(path, number, text + "\t.\t.\t.", skip_unsupported)
        for alt in alts:
            yield Variant(chrom, pos, variant_id, ref, alt, path, number)


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
