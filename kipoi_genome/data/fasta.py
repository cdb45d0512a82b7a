"""Reference-genome extraction from FASTA files indexed by pyfaidx."""

import mmap
import os
import threading

import numpy as np

from kipoi_genome.data.errors import InputFileError
from kipoi_genome.data.textfiles import DECOMPRESSION_ERRORS, decompression_error
from kipoi_genome.data.transforms import check_sequence, one_hot_encode, reverse_complement

_STRANDS = ("+", "-", ".")
_CHUNK = 1 << 20  # bases per read when loading a whole contig
_LINES_PER_SLICE = 64  # longer reads from a plain FASTA skip line terminators by a strided copy
_LONG_WINDOW = 16_384  # bases; longer windows from a plain FASTA are read one at a time


def _is_gzip(path):
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


# Biopython's BGZF reader on truncated or corrupt blocks: besides the gzip
# errors, RuntimeError ("Decompressed to N, not M") and, when reading,
# ValueError ("Within offset ... but block size only 0").
_BGZF_ERRORS = (*DECOMPRESSION_ERRORS, RuntimeError)


def _open_faidx(path, uppercase):
    import pyfaidx

    indexes = (path + ".fai", path + ".gzi") if _is_gzip(path) else (path + ".fai",)
    missing = [os.path.basename(index) for index in indexes if not os.path.exists(index)]
    if missing and not os.access(os.path.dirname(os.path.abspath(path)), os.W_OK):
        raise InputFileError(
            path, None,
            f"the FASTA has no index ({' and '.join(missing)}) and its folder is not writable: index it "
            f"where it can be written (samtools faidx {path}) or copy the FASTA to a writable folder",
        )
    try:
        return pyfaidx.Faidx(
            path, as_raw=True, sequence_always_upper=uppercase, build_index=True
        )
    except _BGZF_ERRORS as error:
        raise decompression_error(path, error, "FASTA") from None
    except ImportError as error:  # bgzip needs Biopython
        raise ImportError(
            f"Reading the block-gzipped FASTA {path} needs Biopython (pyfaidx "
            "uses Bio.bgzf): pip install biopython"
        ) from error
    except pyfaidx.FastaIndexingError as error:
        message = str(error).splitlines()[0] if str(error) else "cannot index FASTA"
        raise InputFileError(path, None, f"malformed FASTA: {message}") from None
    except (pyfaidx.UnsupportedCompressionFormat, OSError, ValueError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        if "may not be writable" in message:
            # pyfaidx reports any I/O error while indexing as an unwritable
            # index (with advice for its Python API); the folder is writable
            # (checked above), so reading the FASTA failed.
            message = "cannot read it to build its index (truncated or corrupt gzip/bgzip data?)"
        raise InputFileError(path, None, f"cannot open FASTA: {message}") from None


class FastaExtractor:
    """Extracts DNA from a FASTA file, padding with N beyond chromosome ends.

    pyfaidx indexes the FASTA (a missing ``.fai`` is built next to it and
    checked for consistent line lengths). Plain FASTA is then read through a
    read-only memory map at the offsets the index gives, so a window costs
    one slice of the file (no seek, read or per-line Python work), and a
    batch of windows is gathered from the map in one vectorised pass.
    bgzip-compressed FASTA (``.fa.gz`` with ``.fai`` and ``.gzi``; needs
    Biopython) is read through pyfaidx.

    File handles and maps are opened lazily, once per process (pyfaidx
    handles once per thread), so one extractor can be shared by tf.data's
    parallel map and pickled into worker processes (no handle is pickled).

    Coordinates are 0-based half-open, like BED. Positions before 0 or at or
    after the chromosome length come back as ``"N"``; negative starts are
    never wrapped.

    Args:
        path: str or os.PathLike. The FASTA file.
        uppercase: bool. Upper-case the returned sequence. Defaults to False
            (case is kept; `one_hot_encode` ignores case anyway).
        in_memory: bool. Read each contig whole on first use, check its
            characters once, and serve later requests from memory, 1 byte
            per base (about 3.1 GB for a whole human genome, 63 MB for
            chr20). Much faster for many random windows from bgzip files,
            and for long windows. Defaults to False (every request reads the
            file).

    Example:
        >>> fasta = FastaExtractor("genome.fa")            # doctest: +SKIP
        >>> fasta.extract("chr1", -2, 3)                    # doctest: +SKIP
        'NNACG'
    """

    def __init__(self, path, uppercase=False, in_memory=False):
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise InputFileError(path, None, "FASTA file not found")
        if os.path.getsize(path) == 0:
            raise InputFileError(path, None, "empty FASTA file")
        self.path = path
        self.uppercase = bool(uppercase)
        self.in_memory = bool(in_memory)
        self._reset()

    def _reset(self):
        self._local = threading.local()
        self._compressed = _is_gzip(self.path)
        self._map = None
        self._map_pid = None
        self._lengths = None
        self._layout = None
        self._contigs = {}
        self._valid_contigs = set()  # loaded in memory, every character ACGTN or IUPAC
        self._contigs_pid = os.getpid()
        self._contigs_lock = threading.Lock()

    def __getstate__(self):
        return {"path": self.path, "uppercase": self.uppercase, "in_memory": self.in_memory}

    def __setstate__(self, state):
        self.path = state["path"]
        self.uppercase = state["uppercase"]
        self.in_memory = state.get("in_memory", False)
        self._reset()

    def __repr__(self):
        return f"FastaExtractor({self.path!r})"

    @property
    def _faidx(self):
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            local.faidx = _open_faidx(self.path, self.uppercase)
            local.pid = os.getpid()
        return local.faidx

    @property
    def chromosome_lengths(self):
        """dict: contig name → length in bp, in FASTA order."""
        if self._lengths is None:
            index = self._faidx.index
            if not index:
                raise InputFileError(self.path, None, "FASTA file has no sequences")
            self._layout = {
                name: (int(record.offset), int(record.lenc), int(record.lenb))
                for name, record in index.items()
            }
            self._lengths = {name: int(record.rlen) for name, record in index.items()}
        return self._lengths

    def chromosome_length(self, chrom):
        """Length of contig `chrom`; raises InputFileError if it is absent."""
        lengths = self.chromosome_lengths
        try:
            return lengths[chrom]
        except KeyError:
            names = ", ".join(list(lengths)[:5]) + (", ..." if len(lengths) > 5 else "")
            raise InputFileError(
                self.path, None, f"contig not in FASTA (contigs: {names})", chrom
            ) from None

    def extract(self, chrom, start, end, strand="+"):
        """DNA of ``chrom:[start, end)``, N-padded outside the chromosome.

        Args:
            chrom: str. Contig name, as in the FASTA.
            start: int. 0-based start; may be negative.
            end: int. Exclusive end; may exceed the contig length.
            strand: str. ``"+"`` or ``"."`` (as stored) or ``"-"`` (reverse
                complement).

        Returns:
            str of length ``end - start``.

        Raises:
            InputFileError: if `chrom` is not in the FASTA.
            ValueError: on non-integer coordinates, ``end < start`` or a bad
                strand.
        """
        return self.extract_bytes(chrom, start, end, strand).decode("ascii")

    def extract_bytes(self, chrom, start, end, strand="+"):
        """Like `extract`, but returns ASCII bytes (no str round trip)."""
        start, end = _check_coordinates(start, end)
        if strand not in _STRANDS:
            raise ValueError(f"`strand` must be '+', '-' or '.'. Received: strand={strand!r}")
        length = self.chromosome_length(chrom)
        lo = min(max(start, 0), length)
        hi = max(min(end, length), lo)
        core = self._fetch(chrom, lo, hi) if hi > lo else b""
        left = min(max(-start, 0), end - start)
        right = end - start - left - len(core)
        sequence = b"N" * left + core + b"N" * right if left or right else core
        if strand == "-":
            sequence = reverse_complement(sequence)
        return sequence

    def _fetch(self, chrom, lo, hi):
        """Bytes of ``chrom:[lo, hi)`` with ``0 <= lo < hi <= length``."""
        if self.in_memory:
            return self._contig(chrom)[lo:hi]
        return self._read(chrom, lo, hi)

    def _file_map(self):
        """Read-only memory map of a plain FASTA (one per process); None for bgzip."""
        if self._compressed:
            return None
        if self._map_pid != os.getpid():
            with open(self.path, "rb") as handle:
                self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
            self._map_pid = os.getpid()
        return self._map

    def _read(self, chrom, lo, hi):
        """Bytes of ``chrom:[lo, hi)`` from the file, ``0 <= lo < hi <= length``."""
        mapped = self._file_map()
        if mapped is None:
            try:
                text = self._faidx.fetch(chrom, lo + 1, hi)
            except (*_BGZF_ERRORS, ValueError) as error:  # ValueError: Biopython on a block cut short
                raise decompression_error(self.path, error, "FASTA") from None
            if len(text) != hi - lo:  # pyfaidx indexes a last line longer than the others
                raise self._index_mismatch(chrom, lo, hi)
            return self._to_bytes(text, chrom)
        offset, bases, width = self._layout[chrom]
        first_line, last_line = lo // bases, (hi - 1) // bases
        tail = offset + last_line * width  # the last line's first byte
        end = tail + (hi - 1) % bases + 1
        if end > len(mapped):
            stale = True
        elif last_line - first_line < _LINES_PER_SLICE:
            data = mapped[offset + first_line * width + lo % bases : end]
            if width != bases:
                data = data.replace(b"\n", b"")
                if width - bases > 1:
                    data = data.replace(b"\r", b"")
            stale = len(data) != hi - lo
        else:
            # Many lines: copy every full line's bases as one opaque item
            # (skips the terminators without a search), then the last line.
            start = offset + first_line * width
            count = last_line - first_line
            ends = np.ndarray((count,), np.uint8, mapped, start + bases, (width,))
            body = np.ndarray((count,), f"V{bases}", mapped, start, (width,)).tobytes()
            data = body[lo % bases :] + mapped[tail:end]
            stale = width == bases or not (ends == (13 if width - bases > 1 else 10)).all()
        if stale:
            raise self._index_mismatch(chrom, lo, hi)
        if not data.isascii():
            raise InputFileError(self.path, None, f"non-ASCII character in contig {chrom}")
        return data.upper() if self.uppercase else data

    def _index_mismatch(self, chrom, lo, hi):
        return InputFileError(
            self.path, None,
            f"FASTA does not match its index at {chrom}:{lo}-{hi} (file changed after "
            f"{self.path}.fai was built, or lines of unequal length? delete the .fai to rebuild it)",
        )

    def _to_bytes(self, text, chrom):
        try:
            return str(text).encode("ascii")
        except UnicodeEncodeError:
            raise InputFileError(self.path, None, f"non-ASCII character in contig {chrom}") from None

    def _contig(self, chrom):
        if self._contigs_pid != os.getpid():  # forked: start a fresh cache
            self._contigs, self._contigs_pid = {}, os.getpid()
        data = self._contigs.get(chrom)
        if data is None:
            with self._contigs_lock:
                data = self._contigs.get(chrom)
                if data is None:
                    length = self.chromosome_length(chrom)
                    # Read in 1-Mb pieces: one huge read through Bio.bgzf is
                    # quadratic (it grows its buffer by concatenation).
                    data = b"".join(
                        self._read(chrom, lo, min(lo + _CHUNK, length)) for lo in range(0, length, _CHUNK)
                    )
                    try:
                        check_sequence(data)
                        self._valid_contigs.add(chrom)
                    except ValueError:  # reported by the windows that hold the character
                        pass
                    self._contigs[chrom] = data
        return data

    def _strict(self, chroms):
        """Whether the one-hot step must check characters (no contig checked at load)."""
        return not (self.in_memory and self._valid_contigs.issuperset(chroms))

    def extract_one_hot(self, chrom, start, end, strand="+", neutral_value=0.0):
        """One-hot DNA of ``chrom:[start, end)``; see `extract` and `one_hot_encode`.

        Returns:
            np.ndarray float32 of shape (end - start, 4), ACGT order.

        Raises:
            InputFileError: naming the FASTA and region if the sequence holds
                a character that is neither ACGTN nor an IUPAC code.
        """
        sequence = self.extract_bytes(chrom, start, end, strand)
        try:
            return one_hot_encode(sequence, neutral_value=neutral_value, strict=self._strict((chrom,)))
        except ValueError as error:
            raise InputFileError(
                self.path, None, f"bad sequence in {chrom}:{start}-{end}: {error}"
            ) from None

    def extract_one_hot_batch(self, chroms, starts, length, strands=None, neutral_value=0.0):
        """One-hot windows of equal length, encoded in one vectorised pass.

        Equivalent to stacking `extract_one_hot` over the windows, with less
        per-window overhead (one lookup-table pass for the whole batch).

        Args:
            chroms: str or sequence of str. Contig of each window (one str for all).
            starts: sequence of int. 0-based starts (may be negative).
            length: int. Window length.
            strands: None, str, or sequence of str. ``"-"`` windows are
                reverse-complemented. Defaults to all ``"+"``.
            neutral_value: float. One-hot value of N. Defaults to 0.

        Returns:
            np.ndarray float32 of shape (B, length, 4).

        Raises:
            InputFileError: for an absent contig or a non-ACGTN character.
        """
        starts = [int(s) for s in starts]
        count = len(starts)
        chroms = [chroms] * count if isinstance(chroms, str) else list(chroms)
        if strands is None or isinstance(strands, str):
            strands = [strands or "+"] * count
        if len(chroms) != count or len(strands) != count:
            raise ValueError(
                "`chroms`, `starts` and `strands` must have one entry per window. "
                f"Received: {len(chroms)}, {count}, {len(strands)}"
            )
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 0:
            raise ValueError(f"`length` must be a non-negative integer. Received: length={length!r}")
        for strand in set(strands):
            if strand not in _STRANDS:
                raise ValueError(f"`strand` must be '+', '-' or '.'. Received: strand={strand!r}")
        data = self._gather(chroms, starts, length)
        try:
            out = one_hot_encode(data, neutral_value=neutral_value, strict=self._strict(chroms))
            out = out.reshape(count, length, 4)
            for row in [row for row, strand in enumerate(strands) if strand == "-"]:
                out[row] = reverse_complement(out[row])
            return out
        except ValueError as error:
            window = int(str(error).split("at position ")[1].split(".")[0]) // max(length, 1)
            raise InputFileError(
                self.path, None,
                f"bad sequence in {chroms[window]}:{starts[window]}-{starts[window] + length}: {error}",
            ) from None

    def _gather(self, chroms, starts, length):
        """Forward-strand bytes of equal-length windows, concatenated.

        From memory or a plain FASTA, the windows inside their contig are
        gathered per contig in one vectorised pass (`_windows`) and the
        windows that cross an end go through `extract_bytes` (N padding).
        Long windows from a plain FASTA and all bgzip windows are read one
        by one (`extract_bytes`).
        """
        count = len(starts)
        if length == 0 or count == 0:
            return b""
        if not self.in_memory and (self._compressed or length > _LONG_WINDOW):
            return b"".join(
                self.extract_bytes(chrom, start, start + length) for chrom, start in zip(chroms, starts)
            )
        starts = np.asarray(starts, dtype=np.int64)
        if len(set(chroms)) == 1:
            groups = [(chroms[0], np.arange(count))]
        else:
            chrom_of_row = np.asarray(chroms, dtype=object)
            groups = [(chrom, np.flatnonzero(chrom_of_row == chrom)) for chrom in dict.fromkeys(chroms)]
        codes = None
        for chrom, rows in groups:
            first = starts[rows]
            inside = (first >= 0) & (first + length <= self.chromosome_length(chrom))
            if inside.all() and len(groups) == 1:
                return self._windows(chrom, first, length).tobytes()
            if codes is None:
                codes = np.empty((count, length), dtype=np.uint8)
            if inside.any():
                codes[rows[inside]] = self._windows(chrom, first[inside], length)
            for row in rows[~inside]:
                start = int(starts[row])
                codes[row] = np.frombuffer(self.extract_bytes(chrom, start, start + length), np.uint8)
        return codes.tobytes()

    def _windows(self, chrom, starts, length):
        """uint8 array (len(starts), length) of windows inside `chrom`.

        In memory: one fancy index into a sliding-window view of the contig.
        Plain FASTA: the contig's lines are a strided view of the memory map
        (one opaque item per line, terminators skipped); one fancy index
        into a sliding-window view of those lines copies every window's
        lines, a second one cuts the window out of them (a one-line contig
        is gathered like a contig in memory).
        """
        windows = np.lib.stride_tricks.sliding_window_view
        if self.in_memory:
            return windows(np.frombuffer(self._contig(chrom), dtype=np.uint8), length)[starts]
        mapped = self._file_map()
        offset, bases, width = self._layout[chrom]
        contig_length = self.chromosome_length(chrom)
        if bases >= contig_length and offset + contig_length <= len(mapped):  # the contig is one line
            return windows(np.frombuffer(mapped, np.uint8, contig_length, offset), length)[starts]
        span = (bases - 2 + length) // bases + 1  # most lines one window touches
        rows_readable = min(-(-contig_length // bases), (len(mapped) - offset) // width)
        if bases > 4 * length or span > rows_readable:
            # lines much longer than the window (gathering them would waste), or a short contig
            out, one_by_one = np.empty((len(starts), length), dtype=np.uint8), range(len(starts))
        else:
            first_line = starts // bases
            lines = windows(np.ndarray((rows_readable,), f"V{bases}", mapped, offset, (width,)), span)
            picked = lines[np.minimum(first_line, rows_readable - span)].view(np.uint8)
            out = windows(picked, length, axis=1)[np.arange(len(starts)), starts % bases]
            # windows whose lines run past the readable rows (the contig's short last line at EOF)
            one_by_one = np.flatnonzero(first_line + span > rows_readable)
        for row in one_by_one:
            start = int(starts[row])
            out[row] = np.frombuffer(self._read(chrom, start, start + length), dtype=np.uint8)
        return out  # case kept even with `uppercase`: the one-hot step ignores it

    def close(self):
        """Closes this thread's pyfaidx handle and the memory map (both reopen on the next use)."""
        faidx = getattr(self._local, "faidx", None)
        if faidx is not None:
            faidx.close()
            self._local.pid = None
            self._local.faidx = None
        mapped, self._map, self._map_pid = self._map, None, None
        if mapped is not None:
            try:
                mapped.close()
            except BufferError:  # a view is still in use in another thread; let it go with the last reference
                pass


def _check_coordinates(start, end):
    for name, value in (("start", start), ("end", end)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"`{name}` must be an integer. Received: {name}={value!r}")
    start, end = int(start), int(end)
    if end < start:
        raise ValueError(f"`end` must be >= `start`. Received: start={start}, end={end}")
    return start, end
