"""Regenerates the tiny data-pipeline fixtures in tests/data (deterministic).

Run from the repository root:  python tests/data/make_data_fixtures.py

Files written (all a few hundred bytes):
  tiny.fa, tiny.fa.fai      two contigs with lower case, N and IUPAC codes
  tiny.bed                  intervals at 0, crossing the end, minus strand
  tiny.vcf                  SNV, MNV, insertion, deletion, multi-allelic,
                            symbolic ALT (skipped); REF all match tiny.fa
  bad_*.bed, bad_*.vcf, bad_*.fa, empty.*   one malformed input each
"""

import pathlib

HERE = pathlib.Path(__file__).resolve().parent

# chrA: 50 bp, 20 bp per line. Lower case at 10-19, N at 20-24, IUPAC R/Y at 30-31.
CHR_A = "ACGTACGTAC" + "ggccaattgg" + "NNNNNTTTTT" + "RYACGTACGT" + "GATTACAGAT"
# chrB: 13 bp, one short line.
CHR_B = "TTTTGGGGCCCCA"
LINE_WIDTH = 20


def fasta_text(records, width=LINE_WIDTH):
    lines = []
    for name, sequence in records:
        lines.append(f">{name} test contig")
        lines.extend(sequence[i : i + width] for i in range(0, len(sequence), width))
    return "\n".join(lines) + "\n"


def fai_text(records, width=LINE_WIDTH):
    rows, offset = [], 0
    for name, sequence in records:
        header = f">{name} test contig\n"
        offset += len(header)
        first_line = min(width, len(sequence))  # samtools: the first line's length
        rows.append(f"{name}\t{len(sequence)}\t{offset}\t{first_line}\t{first_line + 1}")
        full, rest = divmod(len(sequence), width)
        offset += full * (width + 1) + (rest + 1 if rest else 0)
    return "\n".join(rows) + "\n"


VCF_HEADER = (
    "##fileformat=VCFv4.2\n"
    "##contig=<ID=chrA,length=50>\n"
    "##contig=<ID=chrB,length=13>\n"
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
)


def vcf_text(*rows):
    return VCF_HEADER + "".join("\t".join(map(str, row)) + "\n" for row in rows)


def main():
    records = [("chrA", CHR_A), ("chrB", CHR_B)]
    files = {
        "tiny.fa": fasta_text(records),
        "tiny.fa.fai": fai_text(records),
        "tiny.bed": (
            "track name=tiny\n"
            "# comment line\n"
            "chrA\t0\t4\tstart\t0\t+\n"
            "chrA\t10\t14\tlower\t0\t-\n"
            "chrA\t44\t50\tend\t0\t+\n"
            "chrB\t2\t9\n"
            "chrA\t18\t26\tns\t0\t.\t1.5\t0\n"
        ),
        "tiny.vcf": vcf_text(
            ("chrA", 3, "snv1", "G", "C", ".", "PASS", "."),
            ("chrA", 5, "mnv1", "AC", "TT", ".", "PASS", "."),
            ("chrA", 9, "ins1", "A", "ATTT", ".", "PASS", "."),
            ("chrA", 26, "del1", "TTT", "T", ".", "PASS", "."),
            ("chrB", 5, "multi", "G", "A,T", ".", "PASS", "."),
            ("chrB", 1, "sym", "T", "<DEL>", ".", "PASS", "."),
            ("chrA", 11, "lowref", "G", "A", ".", "PASS", "."),
        ),
        # Malformed inputs, one problem each.
        "bad_columns.bed": "chrA\t0\t4\nchrA\t5\n",
        "bad_start.bed": "chrA\t0\t4\nchrA\tfive\t9\n",
        "bad_order.bed": "chrA\t9\t4\n",
        "bad_negative.bed": "chrA\t-5\t4\n",
        "bad_strand.bed": "chrA\t0\t4\tx\t0\t*\n",
        "bad_contig.bed": "chrA\t0\t4\nchrZ\t0\t4\n",
        "bad_offend.bed": "chrA\t0\t4\nchrB\t10\t20\n",
        "comments_only.bed": "# nothing here\ntrack name=x\n",
        "empty.bed": "",
        "bad_pos.vcf": vcf_text(
            ("chrA", 3, "ok", "G", "C", ".", "PASS", "."),
            ("chrA", "abc", "bad", "G", "C", ".", "PASS", "."),
        ),
        "bad_ref_mismatch.vcf": vcf_text(
            ("chrA", 3, "ok", "G", "C", ".", "PASS", "."),
            ("chrA", 4, "bad", "A", "C", ".", "PASS", "."),
        ),
        "bad_ref_chars.vcf": vcf_text(("chrA", 3, "bad", "GX", "C", ".", "PASS", ".")),
        "bad_alt_chars.vcf": vcf_text(("chrA", 3, "bad", "G", "C-", ".", "PASS", ".")),
        "bad_contig.vcf": vcf_text(("chrZ", 3, "bad", "G", "C", ".", "PASS", ".")),
        "bad_outside.vcf": vcf_text(("chrB", 13, "edge", "AC", "A", ".", "PASS", ".")),
        "header_only.vcf": VCF_HEADER,
        "empty.vcf": "",
        "empty.fa": "",
        "bad_chars.fa": ">chrX\nACGT-ACGT*A\n",
        "bad_lines.fa": ">chrX\nACGTACGT\nACG\nACGTACGT\n",
    }
    for name, text in files.items():
        (HERE / name).write_text(text)
    print(f"wrote {len(files)} files to {HERE}")


if __name__ == "__main__":
    main()
