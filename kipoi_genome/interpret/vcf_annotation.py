"""Variant scores added to the input VCF's own records, as INFO fields.

Like `bcftools annotate` and VEP, the output is the input: its header (plus
our ``##INFO`` lines) and every record with CHROM, POS, ID, REF, ALT, QUAL,
FILTER, INFO, FORMAT and sample columns copied byte for byte; only INFO
gains the score keys. Each score is one INFO field ``KG_<name>`` with
``Number=A`` (one entry per ALT allele, in ALT order):

* a score with one value per allele (e.g. LOGO's log-likelihood ratio, or a
  single selected track) is ``Type=Float``: ``KG_llr=-0.31,1.2``;
* a score with one value per track is ``Type=String``, the tracks of an
  allele joined by ``|`` (VEP's ``CSQ`` convention, which `bcftools
  +split-vep` splits): ``KG_human=0.1|0.4|...,-0.2|0.3|...``.

An allele that was not scored (REF mismatch, symbolic or ``*`` ALT) holds
``.``; a record none of whose alleles was scored gets no ``KG_`` keys. Keys
of the same name already in the input are replaced (header and records).
A BCF input has no text to copy: its records are written as htslib prints
them (`bcftools view`).
"""

import numpy as np

from kipoi_genome.utils.atomic import atomic_output
from kipoi_genome.data.errors import InputFileError
from kipoi_genome.data.vcf_lines import VcfLines
from kipoi_genome.version import __version__

INFO_PREFIX = "KG_"


def _format(value):
    return "nan" if np.isnan(value) else f"{value:.6g}"


def _info_header(name, size, track_names=None):
    key = INFO_PREFIX + name
    if size == 1:
        return (
            f'##INFO=<ID={key},Number=A,Type=Float,Description="kipoi-genome variant score {name}, '
            'one value per ALT allele">'
        )
    # Names go inside a quoted Description and are separated by "|": neither may appear in one.
    names = [str(n).replace('"', "'").replace("|", "/").replace("\\", "/") for n in (track_names or ())]
    layout = "|".join(names) if len(names) == size else f"{size} values in the model's track order"
    return (
        f'##INFO=<ID={key},Number=A,Type=String,Description="kipoi-genome variant score {name} per ALT '
        f'allele, one value per track separated by |. Format: {layout}">'
    )


def _belongs(variant, number, fields):
    """Whether a scored variant comes from this record (by line; by alleles in a BCF)."""
    if variant.line is not None and number is not None:
        return variant.line == number
    return (fields[0] == variant.chrom and fields[1] == str(variant.pos) and fields[3].upper() == variant.ref
            and variant.alt in fields[4].upper().split(","))


def _check_order(variant, number, fields, path):
    if variant.line is None or number is None:
        return
    if number != variant.line or fields[0] != variant.chrom or fields[1].lstrip("0") != str(variant.pos):
        raise RuntimeError(
            f"{path}: scores do not follow the file's records (score for {variant} at line "
            f"{variant.line}, record {':'.join(fields[:2])} at line {number})"
        )


class _Alleles:
    """Counts the ALT alleles of the copied records: scored or not."""

    def __init__(self):
        self.total = 0
        self.scored = 0


def _annotate(fields, scored, names, alleles, path, number):
    """Returns the record's columns with our INFO keys (and counts its alleles)."""
    alts = [alt.upper() for alt in fields[4].split(",")]
    alleles.total += len(alts)
    values = [None] * len(alts)
    for window, scores in scored:
        try:
            index = alts.index(window.alt)
        except ValueError:
            raise RuntimeError(f"{path}:{number}: scored ALT {window.alt!r} is not in ALT {fields[4]!r}") from None
        values[index] = scores
    alleles.scored += sum(v is not None for v in values)
    keys = {INFO_PREFIX + name for name in names}
    info = [] if fields[7] == "." else [item for item in fields[7].split(";") if item.split("=", 1)[0] not in keys]
    if scored:
        for name in names:
            entries = []
            for allele_scores in values:
                if allele_scores is None:
                    entries.append(".")
                else:
                    entries.append("|".join(map(_format, np.atleast_1d(np.asarray(allele_scores[name], np.float64)))))
            info.append(f"{INFO_PREFIX}{name}=" + ",".join(entries))
    return [*fields[:7], ";".join(info) or ".", *fields[8:]]


def write_annotated_vcf(stream, vcf, path, summary=None, track_names=None):
    """Copies `vcf` to bgzipped `path`, adding each allele's scores to INFO.

    Args:
        stream: iterable of `(VariantWindow, dict name -> array [n])` in the
            file's record order (as `score_variants(..., vcf)` yields them);
            each window's `variant.line` names its record (in a BCF, which
            has no lines, its CHROM, POS, REF and ALT do).
        vcf: the input `.vcf`, `.vcf.gz` or `.bcf` the stream was scored from.
        path: output `.vcf.gz` (bgzip; written atomically).
        summary: a `ScoringSummary` whose `not_sequence` is set to the ALT
            alleles that were neither scored nor REF mismatches (symbolic,
            ``*`` or ``.``), or None.
        track_names: optional dict score name -> list of track names, for
            the ``Format:`` of multi-track fields.

    Returns:
        dict with ``records`` (written), ``alleles`` (ALT alleles in them)
        and ``scored`` (alleles with scores).

    Raises:
        InputFileError: if `vcf` cannot be read (see `VcfLines`).
        RuntimeError: if the stream does not follow the file's records.
    """
    from Bio import bgzf

    with VcfLines(vcf) as source, atomic_output(path, suffix=".vcf.gz") as tmp:
        # The header lines need the score names, so the first scores come before any output.
        stream = iter(stream)
        pending = next(stream, None)
        names = [] if pending is None else list(pending[1])
        keys = {INFO_PREFIX + name for name in names}
        alleles = _Alleles()
        records = 0
        writer = bgzf.BgzfWriter(tmp, "wb")
        try:
            header = [
                line for line in source.header[:-1]
                if not (line.startswith("##INFO=<ID=") and line[11:].split(",", 1)[0] in keys)
            ]
            header.append(f"##kipoi-genome_scoreVersion={__version__}")
            for name in names:
                size = np.atleast_1d(np.asarray(pending[1][name])).size
                header.append(_info_header(name, size, (track_names or {}).get(name)))
            header.append(source.header[-1])
            writer.write("\n".join(header) + "\n")
            for number, text in source.records():
                if not text:
                    continue
                fields = text.split("\t")
                if len(fields) < 8:
                    raise InputFileError(vcf, number, f"VCF record has {len(fields)} column(s), needs at least 8", text)
                scored = []
                while (pending is not None and _belongs(pending[0].variant, number, fields)
                       and pending[0].variant.alt not in [window.alt for window, _ in scored]):
                    _check_order(pending[0].variant, number, fields, vcf)
                    scored.append(pending)
                    pending = next(stream, None)
                if pending is not None and None not in (pending[0].variant.line, number) \
                        and pending[0].variant.line < number:
                    _check_order(pending[0].variant, number, fields, vcf)
                writer.write("\t".join(_annotate(fields, scored, names, alleles, vcf, number)) + "\n")
                records += 1
            if pending is not None:
                raise RuntimeError(f"{vcf}: score for {pending[0].variant} has no record in the file")
        finally:
            writer.close()
    if summary is not None:
        summary.not_sequence = alleles.total - alleles.scored - summary.ref_mismatches
    return {"records": records, "alleles": alleles.total, "scored": alleles.scored}
