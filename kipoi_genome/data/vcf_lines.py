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
        path: str or os.PathLike. A `.vcf`, `.vcf.gz` or `.bcf`.

    Attributes:
        path: str.
        header: list of str. The meta lines (``##...``) and the ``#CHROM``
            line, without line ends.

    Raises:
        InputFileError: for a missing, empty or unreadable file, or a
            header without a ``#CHROM`` line.
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        self.binary = self.path.endswith(".bcf")
        if self.binary:
            self._open_bcf()
            return
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

    def _open_bcf(self):
        import cyvcf2

        if not os.path.isfile(self.path):
            raise InputFileError(self.path, None, "VCF file not found")
        try:
            self._handle = cyvcf2.VCF(self.path, lazy=True)
        except Exception as error:  # cyvcf2 raises OSError or a bare Exception
            raise InputFileError(self.path, None, f"not a valid BCF file: {str(error).splitlines()[0]}") from None
        self.header = self._handle.raw_header.rstrip("\n").split("\n")

    def records(self):
        """Yields `(line_number, text)` for each record line, without its line end.

        Empty lines are yielded too (as ``""``), so that numbers stay those
        of the file. A BCF has no text: its records come as htslib prints
        them (`bcftools view`), with line number None.
        """
        if self.binary:
            for record in self._handle:
                yield None, str(record).rstrip("\n")
            return
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
