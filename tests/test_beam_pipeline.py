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


@pytest.mark.parametrize("problem", ["ref_mismatch", "unknown_contig", "malformed_line"])
def test_bad_input_gives_the_single_process_error(shared_dir, chr20, tmp_path, capsys, problem):
    def edit(i, fields):
        if i == 7 and problem == "ref_mismatch":
            fields[3], fields[4] = ("A", "C") if fields[3] != "A" else ("C", "G")
        if i == 7 and problem == "unknown_contig":
            fields[0] = "chr99"
        if i == 7 and problem == "malformed_line":
            fields[1] = "12x4"
        return fields

    vcf = head_vcf(shared_dir / "data" / "variants" / "GRCh37_chr20_common_snps.vcf.gz", tmp_path / "bad.vcf", 12, edit)
    base = ["score-variants", "--model", "logo_5mer_chr20_mlm", "--fasta", chr20, "--vcf", vcf,
            "--on-ref-mismatch", "error", "--no-progress"]
    errors = []
    for extra in ([], ["--runner", "direct", "--shard-size", "4"]):
        output = tmp_path / f"out{len(extra)}.tsv"
        assert main([*base, "--output", str(output), *extra]) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1, lines
        assert not output.exists()
        errors.append(lines[0])
    assert errors[0] == errors[1]
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
