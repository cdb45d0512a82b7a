"""Writers for variant scores: TSV and bgzipped VCF, both atomic."""

import numpy as np

from kipoi_genome.utils.atomic import atomic_output

BASE_COLUMNS = ("chrom", "pos", "id", "ref", "alt")


def score_columns(scores, track_names=None):
    """Column names and values for one variant's scores.

    Args:
        scores: dict name -> array `[n]` (one value per track).
        track_names: dict name -> list of `n` track labels
            (`kipoi_genome.models.output_track_labels`), or None.

    Returns:
        (names, values): `name` for scalars; per track the label from
        `track_names`, else `name_i` for track i.
    """
    names, values = [], []
    for key, value in scores.items():
        value = np.atleast_1d(np.asarray(value, dtype=np.float64))
        if value.size == 1:
            names.append(key)
        elif track_names and len(track_names.get(key) or ()) == value.size:
            names += list(track_names[key])
        else:
            names += [f"{key}_{i}" for i in range(value.size)]
        values += value.tolist()
    return names, values


def _format(value):
    return "nan" if np.isnan(value) else f"{value:.6g}"


def write_scores_tsv(stream, path, track_names=None):
    """Writes `(VariantWindow, scores)` pairs as TSV, one row per variant allele.

    `track_names` (dict score name -> track labels) names the per-track columns.

    Returns:
        Number of rows written.
    """
    rows = 0
    with atomic_output(path, "w", suffix=".tsv") as out:
        for window, scores in stream:
            names, values = score_columns(scores, track_names)
            if rows == 0:
                out.write("\t".join([*BASE_COLUMNS, *names]) + "\n")
            base = [window.chrom, window.pos, window.id or ".", window.ref, window.alt]
            out.write("\t".join(map(str, base)) + "\t" + "\t".join(map(_format, values)) + "\n")
            rows += 1
        if rows == 0:
            out.write("\t".join(BASE_COLUMNS) + "\n")
    return rows


def write_scores_vcf(stream, path, contigs, source="kipoi-genome", vcf=None, summary=None, track_names=None):
    """Writes bgzipped VCF with the scores as `KG_<name>` INFO fields.

    With `vcf` (the scored file), the output is that file's header and
    records, unchanged but for the added INFO keys (see
    `kipoi_genome.interpret.vcf_annotation`). Without it (variants that came
    from no file), one new biallelic record per variant allele, each score
    an INFO field holding one value per track (comma-separated, `Number=.`).

    Args:
        stream: iterable of `(VariantWindow, scores)`.
        path: output `.vcf.gz`.
        contigs: dict contig -> length for the header (new records only).
        source: `##source` header value (new records only).
        vcf: path of the input VCF the stream was scored from, or None.
        summary: `ScoringSummary` completed by the annotating writer, or None.
        track_names: dict score name -> track names, for the annotating
            writer's header, or None.

    Returns:
        Number of records written.
    """
    from Bio import bgzf

    if vcf is not None:
        from kipoi_genome.interpret.vcf_annotation import write_annotated_vcf

        return write_annotated_vcf(stream, vcf, path, summary, track_names)["records"]

    rows = 0
    with atomic_output(path, suffix=".vcf.gz") as tmp:
        writer = bgzf.BgzfWriter(tmp, "wb")
        try:
            header_written = False
            for window, scores in stream:
                if not header_written:
                    writer.write(_vcf_header(scores, contigs, source))
                    header_written = True
                info = ";".join(
                    f"KG_{name}=" + ",".join(map(_format, np.atleast_1d(np.asarray(v, np.float64))))
                    for name, v in scores.items()
                )
                fields = [window.chrom, window.pos, window.id or ".", window.ref, window.alt, ".", ".", info]
                writer.write("\t".join(map(str, fields)) + "\n")
                rows += 1
            if not header_written:
                writer.write(_vcf_header({}, contigs, source))
        finally:
            writer.close()
    return rows


def _vcf_header(scores, contigs, source):
    lines = ["##fileformat=VCFv4.2", f"##source={source}"]
    lines += [f"##contig=<ID={name},length={length}>" for name, length in contigs.items()]
    for name, value in scores.items():
        count = np.atleast_1d(np.asarray(value)).size
        lines.append(
            f'##INFO=<ID=KG_{name},Number=.,Type=Float,Description="kipoi-genome score '
            f'{name} ({count} value(s), one per track)">'
        )
    lines.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO")
    return "\n".join(lines) + "\n"
