"""The raw text of a VCF: header lines and records exactly as written.

`iter_vcf` parses records through cyvcf2 (htslib), which re-formats numbers
and drops nothing but also keeps nothing verbatim. Writers that must copy the
input's records unchanged (an annotated VCF, as `bcftools annotate` and VEP
write) read the text here instead, line by line; line numbers follow the
same rule as `Variant.line` (1-based, counting the header), so a scored
`Variant` finds its record.
"""

import os

from kipoi_genome.data.errors import InputFileError
from kipoi_genome.data.textfiles import open_text


class VcfLines:
    """A plain or gzip/bgzip VCF read as text: its header, then its records.

    Args:
        path: str or os.PathLike. A `.vcf` or `.vcf.gz` (not BCF).

    Attributes:
        path: str.
        header: list of str. The meta lines (``##...``) and the ``#CHROM``
            line, without line ends.

    Raises:
        InputFileError: for a missing, empty or binary (BCF) file, or a
            header without a ``#CHROM`` line.
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        if self.path.endswith(".bcf"):
            raise InputFileError(
                self.path, None, "BCF input cannot be copied as text; convert it with `bcftools view -Oz` first"
            )
        self._handle = open_text(self.path, "VCF")
        self.header = []
        self._pending = None
        try:
            for raw in self._handle:
                line = raw.rstrip("\r\n")
                if not line.startswith("#"):
                    self._pending = line
                    break
                self.header.append(line)
        except UnicodeDecodeError:
            self.close()
            raise InputFileError(self.path, None, "VCF file is not UTF-8 text") from None
        if not self.header or not self.header[-1].startswith("#CHROM"):
            self.close()
            raise InputFileError(self.path, len(self.header) or None, "VCF header has no #CHROM line")

    def records(self):
        """Yields `(line_number, text)` for each record line, without its line end.

        Empty lines are yielded too (as ``""``), so that numbers stay those
        of the file.
        """
        number = len(self.header)
        try:
            if self._pending is not None:
                number += 1
                yield number, self._pending
                self._pending = None
            for raw in self._handle:
                number += 1
                yield number, raw.rstrip("\r\n")
        except UnicodeDecodeError:
            raise InputFileError(self.path, number + 1, "VCF file is not UTF-8 text") from None

    def close(self):
        """Closes the file."""
        self._handle.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
