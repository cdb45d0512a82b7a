"""Datasets of the `tracks` task on real chr20 DNA: tracks, held-out separation, long-range examples."""

import numpy as np
import pytest


@pytest.fixture(scope="module")
def chr20(shared_dir):
    path = shared_dir / "data" / "reference" / "GRCh37_chr20.fa.gz"
    if not path.exists():
        pytest.skip(f"{path} not found")
    return shared_dir / "data"


def _genome_data(data_dir):
    return dict(
        fasta=str(data_dir / "reference" / "GRCh37_chr20.fa.gz"),
        chrom="chr20",
        cpg_islands=str(data_dir / "annotation" / "GRCh37_chr20_cpg_islands.bed"),
        tss=str(data_dir / "annotation" / "GRCh37_chr20_gencode_tss.bed"),
        tracks=["cpg_island", "tss_density", "gc"],
        heldout="chr20:42000001-47000000",
        sequence_length=4096,
        target_length=16,
        tss_window=1000,
    )


def test_genome_tracks_match_direct_computation(chr20):
    from kipoi_genome.data import FastaExtractor, iter_bed
    from kipoi_genome.training import genome_data

    data = _genome_data(chr20)
    train, evals, heads, names = genome_data.build_streams(data)
    assert heads == {"human": 3} and names["human"] == ["cpg_island", "tss_density", "gc"]
    genome = train["human"].dataset_fn.keywords["genome"]
    # A bin inside the first CpG island of the held-out region, checked by hand.
    island = next(i for i in iter_bed(data["cpg_islands"]) if i.start >= 42_000_000)
    b = (island.start + island.end) // 2 // 128
    covered = sum(
        max(0, min(i.end, (b + 1) * 128) - max(i.start, b * 128)) for i in iter_bed(data["cpg_islands"])
    )
    sequence = FastaExtractor(data["fasta"], uppercase=True).extract("chr20", b * 128, (b + 1) * 128)
    centre = b * 128 + 64
    tss = sum(abs(i.start - centre) <= 1000 for i in iter_bed(data["tss"]))
    expected = [covered / 128, tss, (sequence.count("G") + sequence.count("C")) / 128]
    np.testing.assert_allclose(genome.values[b], expected, rtol=1e-6)

    # Batches: targets are the central bins of the window; nothing overlaps the held-out region.
    x, y = next(iter(train["human"].dataset_fn(4, 0, 0)))
    assert x.shape == (4, 4096, 4) and y.shape == (4, 16, 3)
    starts = train["human"].dataset_fn.keywords["starts"]
    assert np.all((starts + 4096 <= 42_000_000) | (starts >= 47_000_000))
    eval_starts = evals["human"].dataset_fn.keywords["starts"]
    target_lo = eval_starts + (4096 - 16 * 128) // 2
    assert target_lo.min() >= 42_000_000 and target_lo.max() + 16 * 128 <= 47_000_000
    assert np.all(np.diff(target_lo) >= 16 * 128)  # tiles without overlap
    ex, ey = next(iter(evals["human"].dataset_fn(4, 0, 0)))
    first = eval_starts[0] // 128 + (4096 // 128 - 16) // 2
    np.testing.assert_allclose(ey[0].numpy(), genome.values[first : first + 16])


def test_training_batches_depend_only_on_seed_and_index(chr20):
    from kipoi_genome.training import genome_data

    train, _, _, _ = genome_data.build_streams({**_genome_data(chr20), "augment": {"max_shift": 3}})
    fn = train["human"].dataset_fn
    third = list(fn(2, 5, 0).take(3))[2]
    resumed = next(iter(fn(2, 5, 2)))  # a run resumed at batch 2
    np.testing.assert_array_equal(third[0], resumed[0])
    np.testing.assert_array_equal(third[1], resumed[1])


def test_long_range_examples_put_motif_elements_30_to_60_kb_from_centre(chr20):
    from kipoi_genome.data.longrange_examples import LongRangeExamples

    task = LongRangeExamples(
        str(chr20 / "reference" / "GRCh37_chr20.fa.gz"), "chr20", (42_000_000, 47_000_000), sequence_length=131072
    )
    x, y, copies = task.examples(np.random.default_rng(0), task.train_starts, 8)
    assert x.shape == (8, 131072, 4) and y.shape == (8, 8, 1)
    np.testing.assert_allclose(y[:, 0, 0], 0.5 + 2.0 * copies)
    motif = task.motif
    for row in range(8):
        windows = np.lib.stride_tricks.sliding_window_view(x[row], motif.shape, axis=(0, 1))[:, 0]
        hits = np.flatnonzero((windows == motif).all(axis=(1, 2)))
        assert len(hits) == 16 * copies[row]  # k elements of 16 tandem copies
        distance = np.abs(hits + len(motif) // 2 - 65536)
        assert np.all((distance >= 30000 - 128) & (distance <= 60000 + 128))
    assert np.all((task.eval_starts >= 42_000_000) & (task.eval_starts + 131072 <= 47_000_000))
