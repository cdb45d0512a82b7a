"""`--runner direct`: the Beam pipeline gives the single-process outputs, resumes, and fails alike."""

import gzip
import os
import re

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("apache_beam")

from kipoi_genome.cli import beam_options  # noqa: E402
from kipoi_genome.cli.main import main  # noqa: E402
from kipoi_genome.inference import beam_pipeline  # noqa: E402


def head_vcf(source, path, records, edit=None):
    """The header and first `records` records of a gzipped VCF as plain text; `edit` maps a record's fields."""
    with gzip.open(source, "rt") as handle:
        lines = handle.readlines()
    header = [line for line in lines if line.startswith("#")]
    body = [line for line in lines if not line.startswith("#")][:records]
    if edit is not None:
        body = ["\t".join(edit(i, line.rstrip("\n").split("\t"))) + "\n" for i, line in enumerate(body)]
    path.write_text("".join(header + body))
    return str(path)


def break_record(problem, index=7):
    """A `head_vcf` edit that breaks record `index`: a wrong REF, an unknown contig or a non-integer POS."""

    def edit(i, fields):
        if i == index and problem == "ref_mismatch":
            fields[3], fields[4] = ("A", "C") if fields[3] != "A" else ("C", "G")
        if i == index and problem == "unknown_contig":
            fields[0] = "chr99"
        if i == index and problem == "malformed_line":
            fields[1] = "12x4"
        return fields

    return edit


def read_scores(path):
    return pd.read_csv(path, sep="\t", keep_default_na=False, na_values=["nan"])


def assert_same_table(beam_path, single_path, key_columns):
    beam, single = read_scores(beam_path), read_scores(single_path)
    assert list(beam.columns) == list(single.columns)
    assert beam[key_columns].values.tolist() == single[key_columns].values.tolist()
    values = [c for c in single.columns if c not in key_columns]
    np.testing.assert_allclose(beam[values].to_numpy(float), single[values].to_numpy(float), rtol=1e-5, atol=1e-6)
    return single


@pytest.fixture(scope="module")
def tiny_enformer(tmp_path_factory):
    """enformer_tiny saved once: a preset without weights is random on every load."""
    import keras

    from kipoi_genome.models import Enformer

    keras.utils.set_random_seed(0)
    path = tmp_path_factory.mktemp("model") / "enformer_tiny.keras"
    Enformer.from_preset("enformer_tiny").save(path)
    return str(path)


@pytest.fixture(scope="module")
def chr20(shared_dir):
    return str(shared_dir / "data" / "reference" / "GRCh37_chr20.fa.gz")


def test_runner_names_and_options():
    assert beam_options.RUNNER_NAMES == tuple(sorted(beam_pipeline.RUNNERS))
    runner, options = beam_pipeline.pipeline_options("direct", ["direct_num_workers=2", "--job_name=x"])
    assert type(runner).__name__ == "FnApiRunner"  # in-process: no Prism download
    assert options.get_all_options()["direct_num_workers"] == 2
    assert options.get_all_options()["job_name"] == "x"
    assert beam_pipeline.pipeline_options("dataflow", ["project=p"])[0] == "DataflowRunner"
    with pytest.raises(ValueError, match="Received: 'runner=flink'"):
        beam_pipeline.pipeline_options("direct", ["runner=flink"])
    with pytest.raises(ValueError, match="Received: runner='local'"):
        beam_pipeline.pipeline_options("local")


def test_logo_preset_shards_fail_resume_and_merge(shared_dir, chr20, tmp_path, capsys, monkeypatch):
    """LOGO masked LM on 32 dbSNP common SNPs of chr20 in shards of 8 alleles."""
    vcf = head_vcf(shared_dir / "data" / "variants" / "GRCh37_chr20_common_snps.vcf.gz", tmp_path / "snps.vcf", 32)
    base = ["score-variants", "--model", "logo_5mer_chr20_mlm", "--fasta", chr20, "--vcf", vcf,
            "--batch-size", "16", "--no-progress"]
    single = tmp_path / "single.tsv"
    assert main([*base, "--output", str(single)]) == 0
    single_err = capsys.readouterr().err.strip().splitlines()[-1]

    # A run that dies at its third shard (a preempted worker): the shards
    # before it stay, complete; nothing half-written is left.
    shard_dir = tmp_path / "shards"
    real_run = beam_pipeline.ShardWorker.run

    def failing_run(self, shard):
        if shard.index == 2:
            raise RuntimeError("simulated worker loss")
        return real_run(self, shard)

    monkeypatch.setattr(beam_pipeline.ShardWorker, "run", failing_run)
    with pytest.raises(Exception, match="simulated worker loss"):
        beam_pipeline.run_variant_pipeline(
            "logo_5mer_chr20_mlm", chr20, vcf, shard_dir, batch_size=16, shard_size=8, progress=False
        )
    monkeypatch.setattr(beam_pipeline.ShardWorker, "run", real_run)
    done = sorted(p.name for p in shard_dir.glob("shard-*.npz"))
    assert done == ["shard-00000.npz", "shard-00001.npz"]
    assert not [p for p in os.listdir(shard_dir) if p.startswith(".")]  # no temporary files
    stamps = {name: os.stat(shard_dir / name).st_mtime_ns for name in done}

    # The rerun computes only the missing shards and merges all of them.
    merged = tmp_path / "beam.tsv"
    assert main([*base, "--output", str(merged), "--runner", "direct", "--shard-dir", str(shard_dir),
                 "--shard-size", "8"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    shards = beam_pipeline.plan_variant_shards([vcf], beam_pipeline.FastaExtractor(chr20), shard_dir, 8)
    assert len(shards) >= 4 and all(s.region.startswith("chr20:") for s in shards)
    assert f"beam: {len(shards) - 2} shard(s) computed, 2 reused of {len(shards)} in {shard_dir}" in err
    assert err[-1].replace("beam.tsv", "single.tsv") == single_err
    assert {name: os.stat(shard_dir / name).st_mtime_ns for name in done} == stamps
    table = assert_same_table(merged, single, ["chrom", "pos", "id", "ref", "alt"])
    assert len(table) >= 32 and table.llr.notna().all() and table.llr.std() > 0

    # A complete shard folder: a rerun computes nothing and writes the same file.
    again = tmp_path / "again.tsv"
    assert main([*base, "--output", str(again), "--runner", "direct", "--shard-dir", str(shard_dir),
                 "--shard-size", "8"]) == 0
    assert f"beam: 0 shard(s) computed, {len(shards)} reused of {len(shards)}" in capsys.readouterr().err
    assert again.read_text() == merged.read_text()

    # The same folder with other parameters is refused, not mixed.
    assert main([*base, "--output", str(again), "--runner", "direct", "--shard-dir", str(shard_dir),
                 "--shard-size", "20"]) == 2
    assert "shard folder holds a run with other inputs or parameters (differs in shard_size)" in (
        capsys.readouterr().err)


def test_enformer_scores_with_ref_mismatch(shared_dir, chr20, tiny_enformer, tmp_path, capsys):
    """enformer_tiny on 12 Platypus calls (SNVs and indels; one REF made wrong), both strands."""

    def wrong_ref(i, fields):
        if i == 5:
            fields[3], fields[4] = ("A", "C") if fields[3][0] != "A" else ("C", "G")
        return fields

    vcf = head_vcf(shared_dir / "data" / "variants" / "GRCh37_chr20_platypus_calls.vcf.gz", tmp_path / "calls.vcf",
                   12, wrong_ref)
    base = ["score-variants", "--model", tiny_enformer, "--fasta", chr20, "--vcf", vcf, "--rc", "--score", "lfc",
            "--no-progress"]
    single = tmp_path / "single.tsv"
    assert main([*base, "--output", str(single)]) == 0
    single_err = capsys.readouterr().err.strip().splitlines()
    merged = tmp_path / "beam.tsv"
    assert main([*base, "--output", str(merged), "--runner", "direct", "--shard-size", "4"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert re.match(r"beam: (\d+) shard\(s\) computed, 0 reused of \1 in ", err[0]) and int(err[0].split()[1]) >= 3
    assert [line.replace("beam.tsv", "single.tsv") for line in err[1:]] == single_err
    assert any("REF disagrees" in line for line in err) and "skipped 1 with REF mismatches" in err[-1]
    assert not (tmp_path / "beam.tsv.shards").exists()  # the default folder goes after the merge
    table = assert_same_table(merged, single, ["chrom", "pos", "id", "ref", "alt"])
    assert len(table) >= 11 and table.ref.str.len().ne(table.alt.str.len()).any()
    assert table.filter(like="human_").to_numpy().std() > 0


def test_predict_bed_regions(shared_dir, chr20, tiny_enformer, tmp_path, capsys):
    """enformer_tiny over 8 GENCODE TSSs of chr20 in 3 shards: TSV and HDF5 equal the single-process ones."""
    import h5py

    bed = tmp_path / "tss.bed"
    lines = (shared_dir / "data" / "annotation" / "GRCh37_chr20_gencode_tss.bed").read_text().splitlines()[:8]
    bed.write_text("\n".join(lines) + "\n")
    base = ["predict", "--model", tiny_enformer, "--fasta", chr20, "--bed", str(bed), "--use-strand",
            "--no-progress"]
    single, merged = tmp_path / "single.tsv", tmp_path / "beam.tsv"
    assert main([*base, "--output", str(single)]) == 0
    assert main([*base, "--output", str(merged), "--runner", "direct", "--shard-size", "3"]) == 0
    assert "beam: 3 shard(s) computed, 0 reused of 3" in capsys.readouterr().err
    table = assert_same_table(merged, single, ["chrom", "start", "end", "name", "strand"])
    assert list(table.name) == [line.split("\t")[3] for line in lines]

    single_h5, merged_h5 = tmp_path / "single.h5", tmp_path / "beam.h5"
    assert main([*base, "--output", str(single_h5)]) == 0
    assert main([*base, "--output", str(merged_h5), "--runner", "direct", "--shard-size", "3"]) == 0
    with h5py.File(single_h5) as a, h5py.File(merged_h5) as b:
        assert sorted(a) == sorted(b)
        assert list(a["name"].asstr()) == list(b["name"].asstr())
        np.testing.assert_allclose(b["human"][...], a["human"][...], rtol=1e-5, atol=1e-6)


def _one_line_errors_with_and_without_runner(base, tmp_path, capsys):
    """Runs `base` locally and with `--runner direct`; each must exit 2 with one stderr line, no output."""
    errors = []
    for extra in ([], ["--runner", "direct", "--shard-size", "4"]):
        output = tmp_path / f"out{len(extra)}.tsv"
        assert main([*base, "--output", str(output), *extra]) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1, lines
        assert not output.exists()
        errors.append(lines[0])
    assert errors[0] == errors[1]
    return errors


@pytest.mark.parametrize("problem", ["ref_mismatch", "unknown_contig", "malformed_line"])
def test_bad_input_gives_the_single_process_error(shared_dir, chr20, tmp_path, capsys, problem):
    edit = break_record(problem)
    vcf = head_vcf(shared_dir / "data" / "variants" / "GRCh37_chr20_common_snps.vcf.gz", tmp_path / "bad.vcf", 12, edit)
    base = ["score-variants", "--model", "logo_5mer_chr20_mlm", "--fasta", chr20, "--vcf", vcf,
            "--on-ref-mismatch", "error", "--no-progress"]
    errors = _one_line_errors_with_and_without_runner(base, tmp_path, capsys)
    assert f"bad.vcf:{7 + 1 + sum(1 for line in open(vcf) if line.startswith('#'))}:" in errors[0]
    if problem == "ref_mismatch":
        # The failed plan left its folder; the fixed input starts afresh there (nothing was computed).
        assert (tmp_path / "out4.tsv.shards" / beam_pipeline.RUN_FILE).exists()
        head_vcf(shared_dir / "data" / "variants" / "GRCh37_chr20_common_snps.vcf.gz", tmp_path / "bad.vcf", 12)
        assert main([*base, "--output", str(tmp_path / "out4.tsv"), "--runner", "direct", "--shard-size", "4"]) == 0
        assert "beam: 3 shard(s) computed, 0 reused of 3" in capsys.readouterr().err
        assert len(read_scores(tmp_path / "out4.tsv")) == 12


def test_beam_options_need_runner(tmp_path, capsys):
    args = ["predict", "--output", str(tmp_path / "x.tsv"), "--beam-option", "direct_num_workers=2"]
    assert main(args) == 2
    assert "--beam-option needs --runner" in capsys.readouterr().err


def _htslib():
    """cyvcf2's bundled htslib, to write bgzipped, tabix-indexed test VCFs (no bgzip/tabix binaries here)."""
    import ctypes

    import cyvcf2.cyvcf2

    lib = ctypes.CDLL(cyvcf2.cyvcf2.__file__)
    lib.bgzf_open.restype = ctypes.c_void_p
    lib.bgzf_open.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    lib.bgzf_write.restype = ctypes.c_ssize_t
    lib.bgzf_write.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
    lib.bgzf_close.argtypes = [ctypes.c_void_p]
    lib.bcf_index_build3.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_int]
    return lib


def indexed_vcf(source, path, records, edit=None, index=True):
    """`head_vcf`, bgzipped (BGZF) and tabix-indexed (`.tbi`) as `tabix -p vcf` would."""
    text = open(head_vcf(source, path.with_suffix(""), records, edit)).read().encode()
    lib = _htslib()
    handle = lib.bgzf_open(str(path).encode(), b"w")
    assert lib.bgzf_write(handle, text, len(text)) == len(text) and lib.bgzf_close(handle) == 0
    if index:
        assert lib.bcf_index_build3(str(path).encode(), None, 0, 1) == 0
    return str(path)


@pytest.mark.parametrize("name", ["common_snps", "platypus_calls", "vt_indels"])
def test_indexed_vcf_plan_holds_no_records_and_regions_read_back(shared_dir, chr20, tmp_path, name):
    """The shared chr20 VCFs (bgzip + .tbi): region shards without manifests; the workers' region reads
    give exactly `iter_vcf`'s variants and line numbers, multi-allelic records kept whole."""
    import warnings

    from kipoi_genome.data import iter_vcf
    from kipoi_genome.data.vcf import vcf_index

    vcf = str(shared_dir / "data" / "variants" / f"GRCh37_chr20_{name}.vcf.gz")
    assert vcf_index(vcf) == vcf + ".tbi"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # symbolic alleles skipped, as in the single-process run
        expected = list(iter_vcf(vcf))
        shards = beam_pipeline.plan_variant_shards([vcf], beam_pipeline.FastaExtractor(chr20), tmp_path, 100)
    assert os.listdir(tmp_path) == []  # nothing written: no per-record manifests
    assert all(s.manifest is None and s.source == vcf and s.chrom == "chr20" for s in shards)
    assert len(shards) >= len(expected) // 100 and sum(s.count for s in shards) == len(expected)
    assert all(a.end < b.start + 1 for a, b in zip(shards, shards[1:]))  # disjoint POS ranges, in order
    read = [v for s in shards for v in beam_pipeline._shard_variants(s)]
    assert read == expected
    assert [(v.line, v.source) for v in read] == [(v.line, v.source) for v in expected]


def test_indexed_vcf_workers_read_regions_resume_and_merge(shared_dir, chr20, tmp_path, capsys, monkeypatch):
    """LOGO masked LM on 24 dbSNP SNPs of chr20, bgzipped + indexed, in shards of 8 read by region."""
    vcf = indexed_vcf(shared_dir / "data" / "variants" / "GRCh37_chr20_common_snps.vcf.gz",
                      tmp_path / "snps.vcf.gz", 24)
    base = ["score-variants", "--model", "logo_5mer_chr20_mlm", "--fasta", chr20, "--vcf", vcf,
            "--batch-size", "8", "--no-progress"]
    single = tmp_path / "single.tsv"
    assert main([*base, "--output", str(single)]) == 0
    single_err = capsys.readouterr().err.strip().splitlines()[-1]

    shard_dir = tmp_path / "shards"
    real_run = beam_pipeline.ShardWorker.run
    reads = []

    def failing_run(self, shard):
        reads.append(shard.region)
        if shard.index == 1:
            raise RuntimeError("simulated worker loss")
        return real_run(self, shard)

    monkeypatch.setattr(beam_pipeline.ShardWorker, "run", failing_run)
    with pytest.raises(Exception, match="simulated worker loss"):
        beam_pipeline.run_variant_pipeline(
            "logo_5mer_chr20_mlm", chr20, vcf, shard_dir, batch_size=8, shard_size=8, progress=False
        )
    monkeypatch.setattr(beam_pipeline.ShardWorker, "run", real_run)
    # Only the run file and finished shards: no manifest of records.
    assert sorted(os.listdir(shard_dir)) == [beam_pipeline.RUN_FILE, "shard-00000.npz"]

    merged = tmp_path / "beam.tsv"
    assert main([*base, "--output", str(merged), "--runner", "direct", "--shard-dir", str(shard_dir),
                 "--shard-size", "8"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert "beam: 2 shard(s) computed, 1 reused of 3 in " in err[0]
    assert err[-1].replace("beam.tsv", "single.tsv") == single_err
    assert sorted(os.listdir(shard_dir)) == [beam_pipeline.RUN_FILE] + [f"shard-0000{i}.npz" for i in range(3)]
    table = assert_same_table(merged, single, ["chrom", "pos", "id", "ref", "alt"])
    assert len(table) == 24 and table.llr.std() > 0
    # Each shard is a region of consecutive records: chr20:first-last POS.
    shards = beam_pipeline.plan_variant_shards([vcf], beam_pipeline.FastaExtractor(chr20), shard_dir, 8)
    assert [s.region for s in shards] == [
        f"chr20:{table.pos[i]}-{table.pos[i + 7]}" for i in (0, 8, 16)
    ]
    assert reads[0] == shards[0].region


@pytest.mark.parametrize("problem", ["ref_mismatch", "unknown_contig", "malformed_line"])
def test_indexed_vcf_bad_input_gives_one_line(shared_dir, chr20, tmp_path, capsys, problem):
    """Bad records of an indexed VCF stop the plan with the single-process line, before any worker."""
    source = shared_dir / "data" / "variants" / "GRCh37_chr20_common_snps.vcf.gz"

    edit = break_record(problem)
    vcf = indexed_vcf(source, tmp_path / "bad.vcf.gz", 12, edit, index=False)
    indexed_vcf(source, tmp_path / "good.vcf.gz", 12)
    os.replace(tmp_path / "good.vcf.gz.tbi", vcf + ".tbi")  # htslib does not index the bad file itself
    base = ["score-variants", "--model", "logo_5mer_chr20_mlm", "--fasta", chr20, "--vcf", vcf,
            "--on-ref-mismatch", "error", "--no-progress"]
    errors = _one_line_errors_with_and_without_runner(base, tmp_path, capsys)
    header = sum(1 for line in gzip.open(vcf, "rt") if line.startswith("#"))
    assert f" {vcf}:{7 + 1 + header}: " in f" {errors[0]}"
    assert not [name for name in os.listdir(tmp_path / "out4.tsv.shards") if name.startswith("shard-")]


def test_worker_error_surfaces_as_one_line(shared_dir, chr20, tmp_path, capsys, monkeypatch):
    """A worker whose region read misses a record (an index that does not match its file) ends the
    launcher with one line naming the file and region."""
    vcf = indexed_vcf(shared_dir / "data" / "variants" / "GRCh37_chr20_common_snps.vcf.gz",
                      tmp_path / "snps.vcf.gz", 8)
    shards = beam_pipeline.plan_variant_shards([vcf], beam_pipeline.FastaExtractor(chr20), tmp_path, 4)
    real_read = beam_pipeline.iter_vcf_region

    def short_read(path, chrom, first, last, lines):
        return list(real_read(path, chrom, first, last, lines))[: -1 if first == shards[1].start + 1 else None]

    monkeypatch.setattr(beam_pipeline, "iter_vcf_region", short_read)
    output = tmp_path / "out.tsv"
    assert main(["score-variants", "--model", "logo_5mer_chr20_mlm", "--fasta", chr20, "--vcf", vcf,
                 "--output", str(output), "--runner", "direct", "--shard-size", "4", "--no-progress"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].endswith(
        f"{vcf}: the records read through the index differ from the planned ones: the index does not match "
        f"the file (re-index it with tabix -p vcf) (value '{shards[1].region}')"
    )
    assert not output.exists()


def head_pos(source, index):
    """POS of record `index` (0-based) of a gzipped VCF."""
    with gzip.open(source, "rt") as handle:
        return int([line for line in handle if not line.startswith("#")][index].split("\t")[1])


def test_refuses_urls_with_one_line(tmp_path, capsys):
    args = ["predict", "--fasta", "gs://bucket/hg38.fa", "--tile-genome", "--output", str(tmp_path / "x.tsv"),
            "--runner", "direct"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--fasta gs://bucket/hg38.fa: gs:// paths are not read or written directly" in err[0]


def test_tile_genome_predict(shared_dir, tiny_enformer, tmp_path, capsys):
    """enformer_tiny (4,096 bp in, 16 x 128-bp bins out) tiling phage lambda (48,502 bp): --runner
    direct equals the single-process HDF5, the tiles meet end to end, windows are read as an
    independent N-padded one-hot says, and the bigWig covers the contig bin by bin."""
    import h5py
    import keras
    import pyBigWig

    fasta = str(shared_dir / "data" / "reference" / "lambda_phage_NC_001416.1.fa.gz")
    with gzip.open(fasta, "rt") as handle:
        lines = handle.read().splitlines()
    chrom, dna = lines[0][1:].split()[0], "".join(lines[1:]).upper()
    assert len(dna) == 48_502
    span, length, offset = 16 * 128, 4096, (4096 - 16 * 128) // 2
    tiles = -(-len(dna) // span)  # 24: the last one runs 650 bp past the end

    base = ["predict", "--model", tiny_enformer, "--fasta", fasta, "--tile-genome", chrom, "--no-progress"]
    single, merged = tmp_path / "single.h5", tmp_path / "beam.h5"
    assert main([*base, "--output", str(single)]) == 0
    assert main([*base, "--output", str(merged), "--runner", "direct", "--shard-size", "10"]) == 0
    assert "beam: 3 shard(s) computed, 0 reused of 3" in capsys.readouterr().err
    with h5py.File(single) as a, h5py.File(merged) as b:
        assert list(b["chrom"].asstr()) == list(a["chrom"].asstr()) == [chrom] * tiles
        assert b["start"][...].tolist() == a["start"][...].tolist() == [k * span for k in range(tiles)]
        assert b["end"][...].tolist() == [(k + 1) * span for k in range(tiles)]  # no gaps, no overlaps
        np.testing.assert_allclose(b["human"][...], a["human"][...], rtol=1e-5, atol=1e-6)
        human = b["human"][...]
    model = keras.saving.load_model(tiny_enformer)
    codes = {"A": 0, "C": 1, "G": 2, "T": 3}
    for k in (0, 11, tiles - 1):
        start = k * span - offset
        window = "".join(dna[i] if 0 <= i < len(dna) else "N" for i in range(start, start + length))
        x = np.zeros((1, length, 4), "float32")
        for i, base_ in enumerate(window):
            if base_ in codes:
                x[0, i, codes[base_]] = 1
        np.testing.assert_allclose(human[k], model.predict_on_batch(x)["human"][0], rtol=1e-4, atol=1e-5)

    tracks = tmp_path / "tracks"
    assert main([*base, "--output", str(tracks), "--format", "bigwig", "--head", "human", "--tracks", "3",
                 "--runner", "direct", "--shard-size", "10"]) == 0
    files = os.listdir(tracks)
    assert files == ["human_3.bw"]
    with pyBigWig.open(str(tracks / files[0])) as bw:
        intervals = bw.intervals(chrom)
    bins = -(-len(dna) // 128)
    assert len(intervals) == bins and intervals[-1][1] == len(dna)  # the last bin clipped at the contig end
    assert [lo for lo, _, _ in intervals] == [i * 128 for i in range(bins)]
    np.testing.assert_allclose([v for _, _, v in intervals], human[:, :, 3].reshape(-1)[:bins], rtol=1e-5)
