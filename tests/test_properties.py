"""Property-based tests (hypothesis) for the public readers and transforms.

Readers (BED, VCF, FASTA plain and bgzip) get two kinds of test: a round trip
(records written by an independent writer here come back exactly) and a
fuzz (damaged or arbitrary files raise only the documented `InputFileError`,
never another exception; the VCF reader runs in a child process, so that a
crash in a C library is a failed test, not a dead test run). Transforms get
algebraic properties checked against independent computations.

Example counts come from the hypothesis profile in conftest.py (derandomized
under CI=true; KIPOI_GENOME_FUZZ=10 for a 10x local fuzz run). With
KIPOI_GENOME_FUZZ_REPORT=FILE, the outcome counts (examples, error classes)
are written to FILE as JSON at the end of the module.
"""

import collections
import contextlib
import gzip
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import warnings

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import assume, given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from kipoi_genome.data import (  # noqa: E402
    FastaExtractor,
    InputFileError,
    Interval,
    RefMismatchError,
    Variant,
    iter_bed,
    one_hot_decode,
    one_hot_encode,
    pad_or_trim,
    read_bed,
    read_vcf,
    resize_interval,
    reverse_complement,
    shift_one_hot,
    variant_window,
)

OUTCOMES = collections.Counter()  # "test: outcome" -> examples


@pytest.fixture(scope="module", autouse=True)
def outcome_report():
    yield
    target = os.environ.get("KIPOI_GENOME_FUZZ_REPORT")
    if target:
        with open(target, "w") as handle:
            json.dump(dict(sorted(OUTCOMES.items())), handle, indent=1)


@contextlib.contextmanager
def documented(test, *errors):
    """Counts the example's outcome; the documented `errors` are expected, others fail."""
    try:
        yield
    except errors as error:
        OUTCOMES[f"{test}: {type(error).__name__}"] += 1
    else:
        OUTCOMES[f"{test}: ok"] += 1


@contextlib.contextmanager
def scratch():
    with tempfile.TemporaryDirectory(prefix="kg_prop_") as folder:
        yield folder


def bgzip_bytes(data):
    from Bio import bgzf

    with scratch() as folder:
        path = os.path.join(folder, "x.gz")
        with bgzf.BgzfWriter(path, "wb") as handle:
            handle.write(data)
        with open(path, "rb") as handle:
            return handle.read()


def compress(data, how):
    return {"plain": lambda d: d, "gzip": gzip.compress, "bgzip": bgzip_bytes}[how](data)


def damage(data, how, where):
    """`data` cut short, with a byte flipped, or with bytes zeroed, at fraction `where`."""
    at = int(len(data) * where)
    if how == "cut":
        return data[:at]
    if how == "flip":
        return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :] if at < len(data) else data
    return data[:at] + bytes(16) + data[at + 16 :]


COMPRESSIONS = st.sampled_from(["plain", "gzip", "bgzip"])
DAMAGES = st.sampled_from([None, "cut", "flip", "zero"]).flatmap(  # None: intact
    lambda how: st.just(None) if how is None else st.tuples(st.just(how), st.integers(0, 999).map(lambda i: i / 1000))
)
NAMES = st.text("ACGTXYZacgtxyz0123456789_.:-", min_size=1, max_size=12).filter(lambda n: n[0] not in "#>")
TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\n\r"), max_size=40)
DNA = st.text("ACGTN", min_size=1, max_size=6)
JUNK = st.one_of(
    st.just(""), st.just("\t"), TEXT, st.lists(st.one_of(NAMES, st.integers(-3, 10**6).map(str), DNA, TEXT), max_size=9).map("\t".join),
)


@st.composite
def mutated(draw, valid_lines, junk=JUNK):
    """Lines of a valid file with up to 3 edits: a junk line inserted or substituted, a line cut or dropped."""
    lines = list(draw(valid_lines))
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(lines)))
        edit = draw(st.sampled_from(["insert", "replace", "cut", "drop"]))
        if edit == "insert" or at == len(lines):
            lines.insert(at, draw(junk))
        elif edit == "replace":
            lines[at] = draw(junk)
        elif edit == "cut":
            lines[at] = lines[at][: draw(st.integers(0, len(lines[at])))]
        else:
            del lines[at]
    return lines


# BED ---------------------------------------------------------------------------

BED_RECORDS = st.lists(
    st.tuples(
        NAMES,
        st.integers(0, 10**9),
        st.integers(0, 10**6),
        st.one_of(st.none(), st.text("abcXYZ019_-", min_size=1, max_size=8)),
        st.sampled_from(["+", "-", ".", None]),
        st.lists(st.text("abc019", min_size=1, max_size=5), max_size=2),
    ),
    min_size=1,
    max_size=20,
)


@given(records=BED_RECORDS, how=COMPRESSIONS, crlf=st.booleans(), header=st.booleans())
def test_bed_round_trip(records, how, crlf, header):
    lines = ["track name=test", "browser position chr1:1-10", "# comment"] if header else []
    expected = []
    for line_number, (chrom, start, width, name, strand, extra) in enumerate(records, start=len(lines) + 1):
        columns = [chrom, str(start), str(start + width)]
        if name is not None or strand is not None or extra:
            columns += [name or ".", "0"]
        if strand is not None or extra:
            columns.append(strand or ".")
        columns += extra if (strand is not None or extra) else []
        lines.append("\t".join(columns))
        expected.append((chrom, start, start + width, name, strand or ".", tuple(extra), line_number))
    text = ("\r\n" if crlf else "\n").join(lines) + "\n"
    with scratch() as folder:
        path = os.path.join(folder, "regions.bed" + ("" if how == "plain" else ".gz"))
        with open(path, "wb") as handle:
            handle.write(compress(text.encode(), how))
        got = [(i.chrom, i.start, i.end, i.name, i.strand, i.extra, i.line) for i in read_bed(path)]
    assert got == expected
    OUTCOMES["test_bed_round_trip: ok"] += 1


def bed_line(record):
    chrom, start, width, name, strand, extra = record
    return "\t".join([chrom, str(start), str(start + width), name or ".", "0", strand or ".", *extra])


BED_LINES = mutated(BED_RECORDS.map(lambda records: [bed_line(r) for r in records]))


@given(lines=BED_LINES, how=COMPRESSIONS, damaged=DAMAGES)
def test_bed_fuzz_raises_only_input_file_error(lines, how, damaged):
    data = compress("\n".join(lines).encode(), how)
    if damaged:
        data = damage(data, *damaged)
    with scratch() as folder, documented("test_bed_fuzz", InputFileError):
        path = os.path.join(folder, "fuzz.bed")
        with open(path, "wb") as handle:
            handle.write(data)
        for interval in iter_bed(path):
            assert interval.chrom and 0 <= interval.start <= interval.end
            assert interval.strand in ("+", "-", ".")


# VCF ---------------------------------------------------------------------------

VCF_HEADER = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
ALTS = st.lists(st.one_of(st.text("ACGTNacgtn", min_size=1, max_size=5), st.sampled_from(["<DEL>", "*", "<*>"])), min_size=1, max_size=3)
VCF_RECORDS = st.lists(
    st.tuples(NAMES, st.integers(1, 10**9), st.one_of(st.none(), st.text("rs0123456789", min_size=1, max_size=8)),
              st.text("ACGTNacgtn", min_size=1, max_size=5), st.one_of(st.just(None), ALTS), st.booleans()),
    min_size=1,
    max_size=15,
)


@given(records=VCF_RECORDS, how=COMPRESSIONS, crlf=st.booleans())
def test_vcf_round_trip(records, how, crlf):
    lines, expected = VCF_HEADER.splitlines(), []
    for chrom, pos, variant_id, ref, alts, blank_after in records:
        lines.append("\t".join([chrom, str(pos), variant_id or ".", ref, ",".join(alts) if alts else ".", "50", "PASS", "DP=3"]))
        for alt in alts or []:
            if set(alt) <= set("ACGTNacgtn"):
                expected.append((chrom, pos, variant_id, ref.upper(), alt.upper(), len(lines)))
        if blank_after:
            lines.append("")
    text = ("\r\n" if crlf else "\n").join(lines) + "\n"
    with scratch() as folder:
        path = os.path.join(folder, "calls.vcf" + ("" if how == "plain" else ".gz"))
        with open(path, "wb") as handle:
            handle.write(compress(text.encode(), how))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if not expected:
                with pytest.raises(InputFileError, match="VCF file has no variants"):
                    read_vcf(path)
                return
            got = [(v.chrom, v.pos, v.id, v.ref, v.alt, v.line) for v in read_vcf(path)]
    assert got == expected
    OUTCOMES["test_vcf_round_trip: ok"] += 1


_VCF_WORKER = textwrap.dedent(
    """
    import json, sys, warnings
    from kipoi_genome.data import InputFileError, read_vcf
    warnings.simplefilter("ignore")
    for path in sys.stdin:
        try:
            result = {"variants": len(read_vcf(path.rstrip("\\n")))}
        except InputFileError as error:
            result = {"error": type(error).__name__}
        except Exception as error:  # reported to the test, which fails
            result = {"unexpected": f"{type(error).__name__}: {error}"}
        print(json.dumps(result), flush=True)
    """
)


class VcfWorker:
    """A child process running `read_vcf` on the paths it is sent, one at a time."""

    def __init__(self):
        self.process = None

    def read(self, path):
        if self.process is None or self.process.poll() is not None:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _VCF_WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL, text=True,
            )
        self.process.stdin.write(path + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            returncode = self.process.wait()
            OUTCOMES["test_vcf_fuzz: crash"] += 1
            pytest.fail(f"the VCF reader died (return code {returncode}) on {open(path, 'rb').read()[:300]!r}")
        return json.loads(answer)

    def close(self):
        if self.process is not None and self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def vcf_worker():
    worker = VcfWorker()
    yield worker
    worker.close()


def vcf_line(record):
    chrom, pos, variant_id, ref, alts, _ = record
    return "\t".join([chrom, str(pos), variant_id or ".", ref, ",".join(alts) if alts else ".", "50", "PASS", "DP=3"])


VCF_LINES = mutated(
    VCF_RECORDS.map(lambda records: VCF_HEADER.splitlines() + [vcf_line(r) for r in records]),
    st.one_of(
        JUNK,
        st.tuples(NAMES, st.integers(0, 100), DNA, DNA).map(lambda r: f"{r[0]} {r[1]} . {r[2]} {r[3]} . . ."),
        st.sampled_from(["##INFO=<ID=DP,Number=1,Type=Integer>", "#CHROM\tPOS", "\t\t\t\t\t\t\t\t", "##fileformat=VCFv4.2"]),
    ),
)


@given(
    lines=VCF_LINES,
    how=COMPRESSIONS,
    damaged=DAMAGES,
    raw=st.sampled_from([False, False, False, True]).flatmap(lambda raw: st.binary(max_size=200) if raw else st.none()),
)
def test_vcf_fuzz_in_a_subprocess(vcf_worker, lines, how, damaged, raw):
    data = raw if raw is not None else compress("\n".join(lines).encode(), how)
    if damaged and data:
        data = damage(data, *damaged)
    with scratch() as folder:
        path = os.path.join(folder, "fuzz.vcf")
        with open(path, "wb") as handle:
            handle.write(data)
        result = vcf_worker.read(path)
    assert "unexpected" not in result, result["unexpected"]
    OUTCOMES[f"test_vcf_fuzz: {result.get('error', 'ok')}"] += 1


# FASTA -------------------------------------------------------------------------

CONTIGS = st.dictionaries(NAMES, st.text("ACGTNacgtnRYKM", min_size=1, max_size=300), min_size=1, max_size=4)


def write_fasta(folder, contigs, width, how):
    lines = []
    for name, sequence in contigs.items():
        lines.append(f">{name} description")
        lines += [sequence[i : i + width] for i in range(0, len(sequence), width)]
    path = os.path.join(folder, "genome.fa" + ("" if how == "plain" else ".gz"))
    with open(path, "wb") as handle:
        handle.write(compress(("\n".join(lines) + "\n").encode(), how))
    return path


def padded(sequence, start, end):
    return "".join(sequence[i] if 0 <= i < len(sequence) else "N" for i in range(start, end))


@given(
    contigs=CONTIGS,
    width=st.integers(1, 80),
    how=st.sampled_from(["plain", "bgzip"]),
    in_memory=st.booleans(),
    regions=st.lists(st.tuples(st.integers(-50, 350), st.integers(0, 120)), min_size=1, max_size=5),
)
def test_fasta_round_trip(contigs, width, how, in_memory, regions):
    with scratch() as folder:
        fasta = FastaExtractor(write_fasta(folder, contigs, width, how), in_memory=in_memory)
        assert fasta.chromosome_lengths == {name: len(seq) for name, seq in contigs.items()}
        for index, (start, size) in enumerate(regions):
            name = list(contigs)[index % len(contigs)]
            expected = padded(contigs[name], start, start + size)
            assert fasta.extract(name, start, start + size) == expected
            assert fasta.extract(name, start, start + size, "-") == reverse_complement(expected)
            np.testing.assert_array_equal(fasta.extract_one_hot(name, start, start + size), one_hot_encode(expected))
        size = regions[0][1]
        starts = [start for start, _ in regions]
        names = [list(contigs)[i % len(contigs)] for i in range(len(regions))]
        batch = fasta.extract_one_hot_batch(names, starts, size)
        expected = np.stack([one_hot_encode(padded(contigs[n], s, s + size)) for n, s in zip(names, starts)])
        np.testing.assert_array_equal(batch, expected.reshape(len(starts), size, 4))
        fasta.close()
    OUTCOMES["test_fasta_round_trip: ok"] += 1


def fasta_lines(contigs_and_width):
    contigs, width = contigs_and_width
    lines = []
    for name, sequence in contigs.items():
        lines += [">" + name] + [sequence[i : i + width] for i in range(0, len(sequence), width)]
    return lines


FASTA_LINES = mutated(
    st.tuples(CONTIGS, st.integers(1, 80)).map(fasta_lines),
    st.one_of(JUNK, NAMES.map(lambda n: ">" + n), st.text("ACGTN-X*0 >", max_size=20)),
)


@given(lines=FASTA_LINES, how=COMPRESSIONS, damaged=DAMAGES,
       start=st.integers(-10, 100), size=st.integers(0, 50))
def test_fasta_fuzz_raises_only_input_file_error(lines, how, damaged, start, size):
    data = compress(("\n".join(lines) + "\n").encode(), how)
    with scratch() as folder:
        path = os.path.join(folder, "fuzz.fa" + ("" if how == "plain" else ".gz"))
        with open(path, "wb") as handle:
            handle.write(data)
        if damaged:
            with documented("test_fasta_fuzz (index)", InputFileError):
                FastaExtractor(path).chromosome_lengths  # index the intact file, then damage it
            with open(path, "wb") as handle:
                handle.write(damage(data, *damaged))
        with documented("test_fasta_fuzz", InputFileError):
            fasta = FastaExtractor(path)
            for name, length in fasta.chromosome_lengths.items():
                assert len(fasta.extract(name, start, start + size)) == size
                assert fasta.extract_one_hot_batch([name], [start], size).shape == (1, size, 4)
            fasta.close()


# One-hot, reverse complement, resize / pad -------------------------------------

IUPAC = "ACGTNRYSWKMBDHVacgtnryswkmbdhv"


@given(sequence=st.text(IUPAC, max_size=200), ambiguity=st.sampled_from(["neutral", "fractional"]))
def test_one_hot_round_trip_and_reverse_complement(sequence, ambiguity):
    one_hot = one_hot_encode(sequence, ambiguity=ambiguity)
    assert one_hot.shape == (len(sequence), 4)
    assert one_hot_decode(one_hot) == "".join(c if c in "ACGT" else "N" for c in sequence.upper())
    assert reverse_complement(reverse_complement(sequence)) == sequence
    np.testing.assert_array_equal(
        reverse_complement(one_hot), one_hot_encode(reverse_complement(sequence), ambiguity=ambiguity)
    )
    # Every row sums to 1 (a base, or a fractional IUPAC code) or 0 (neutral).
    assert set(np.round(one_hot.sum(axis=-1), 6)) <= {0.0, 1.0}
    OUTCOMES["test_one_hot: ok"] += 1


@given(sequence=st.text(st.characters(codec="utf-8"), max_size=50))
def test_one_hot_arbitrary_text_raises_only_value_error(sequence):
    with documented("test_one_hot_fuzz", ValueError):
        one_hot = one_hot_encode(sequence)
        assert set(sequence) <= set(IUPAC)  # accepted only if every character is allowed
        assert one_hot.shape == (len(sequence), 4)


@given(length=st.integers(1, 40), shift=st.integers(-50, 50), fill=st.sampled_from([0.0, 0.25]))
def test_shift_one_hot_moves_content(length, shift, fill):
    array = np.arange(length * 4, dtype="float32").reshape(length, 4) + 1
    out = shift_one_hot(array, shift, fill)
    for i in range(length):
        expected = array[i - shift] if 0 <= i - shift < length else np.full(4, fill)
        np.testing.assert_array_equal(out[i], expected)
    OUTCOMES["test_shift_one_hot: ok"] += 1


@given(start=st.integers(-10**6, 10**9), width=st.integers(0, 10**6), length=st.integers(1, 10**6))
def test_resize_interval(start, width, length):
    new_start, new_end = resize_interval(start, start + width, length)
    assert new_end - new_start == length
    assert new_start + length // 2 == start + width // 2  # the centre stays (rounded down)
    assert resize_interval(new_start, new_end, length) == (new_start, new_end)  # idempotent
    if length >= width:
        assert new_start <= start and start + width <= new_end
    interval = Interval("chr1", start, start + width).resize(length)
    assert (interval.start, interval.end) == (new_start, new_end)
    OUTCOMES["test_resize_interval: ok"] += 1


@given(sequence=st.text("ACGTN", max_size=60), length=st.integers(0, 80))
def test_pad_or_trim(sequence, length):
    out = pad_or_trim(sequence, length)
    assert len(out) == length
    if length >= len(sequence):
        left = (length - len(sequence)) // 2
        assert out == "N" * left + sequence + "N" * (length - len(sequence) - left)
        assert pad_or_trim(out, len(sequence)) == sequence  # trimming undoes padding
    else:
        left = (len(sequence) - length) // 2
        assert out == sequence[left : left + length]
    OUTCOMES["test_pad_or_trim: ok"] += 1


# Tokenizer: the NumPy and TensorFlow paths agree --------------------------------


@pytest.fixture(scope="module")
def tokenizers():
    import tensorflow as tf

    from kipoi_genome.tokenizers import KmerTokenizer

    out = {}
    for k in (3, 4, 5, 6):
        tokenizer = KmerTokenizer(k=k)
        spec = [tf.TensorSpec([None], tf.string)]
        forward = tf.function(lambda x, t=tokenizer: t(x), input_signature=spec)
        reverse = tf.function(lambda x, t=tokenizer: t(x, reverse_complement=True), input_signature=spec)
        out[k] = (tokenizer, forward, reverse)
    return out


@given(k=st.sampled_from([3, 4, 5, 6]), length=st.integers(0, 60), batch=st.integers(1, 3),
       data=st.data(), reverse=st.booleans())
def test_tokenizer_numpy_and_tensorflow_agree(tokenizers, k, length, batch, data, reverse):
    import tensorflow as tf

    tokenizer, forward, backward = tokenizers[k]
    sequences = [data.draw(st.text("ACGTNacgtnRY-X", min_size=length, max_size=length)) for _ in range(batch)]
    expected = np.stack([tokenizer.tokenize(s, reverse_complement=reverse) for s in sequences])
    assert expected.shape == (batch, k, max(0, (length - (k - 1)) // k))
    got = (backward if reverse else forward)(tf.constant(sequences)).numpy()
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(tokenizer(tf.constant(sequences[0]), reverse_complement=reverse).numpy(), expected[0])
    OUTCOMES["test_tokenizer_agree: ok"] += 1


# Variant windows ---------------------------------------------------------------

GENOME = "".join(np.random.default_rng(4).choice(list("ACGT"), 500))


@pytest.fixture(scope="module")
def genome_fasta(tmp_path_factory):
    folder = tmp_path_factory.mktemp("genome")
    path = folder / "genome.fa"
    path.write_text(">chr1\n" + "\n".join(GENOME[i : i + 60] for i in range(0, len(GENOME), 60)) + "\n")
    return FastaExtractor(path)


@given(pos=st.integers(1, 500), ref_length=st.integers(1, 6), alt=st.text("ACGT", min_size=1, max_size=12),
       length=st.integers(1, 64), wrong_ref=st.booleans())
def test_variant_window_is_the_alternative_haplotype(genome_fasta, pos, ref_length, alt, length, wrong_ref):
    p = pos - 1
    assume(p + ref_length <= len(GENOME))
    ref = GENOME[p : p + ref_length]
    if wrong_ref:
        ref = ref[:-1] + {"A": "C", "C": "G", "G": "T", "T": "A"}[ref[-1]]
        with pytest.raises(RefMismatchError):
            variant_window(genome_fasta, Variant("chr1", pos, None, ref, alt, "x.vcf", 7), length)
        OUTCOMES["test_variant_window: RefMismatchError"] += 1
        return
    window = variant_window(genome_fasta, Variant("chr1", pos, None, ref, alt, "x.vcf", 7), length)
    anchor = length // 2
    # Independently: the same window start on the edited genome.
    haplotype = GENOME[:p] + alt + GENOME[p + ref_length :]
    assert window.start == p - anchor
    assert window.reference == padded(GENOME, p - anchor, p - anchor + length)
    assert window.alternative == padded(haplotype, p - anchor, p - anchor + length)
    if len(alt) == ref_length == 1:
        differ = [i for i in range(length) if window.reference[i] != window.alternative[i]]
        assert differ == ([anchor] if alt != ref else [])
    OUTCOMES["test_variant_window: ok"] += 1
