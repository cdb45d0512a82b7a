"""`kipoi-genome plot`: region, gene models, label stacking and logos, checked on the figure's artists."""

import itertools

import matplotlib
import numpy as np
import pytest

from kipoi_genome.cli.main import main
from kipoi_genome.data import InputFileError
from kipoi_genome.data.gene_models import read_gene_models
from kipoi_genome.interpret.plots import BASE_COLOURS, BASES, region_figure

matplotlib.use("Agg")

START, END = 44_034_000, 44_036_000  # chr20, 0-based half-open
GTF_LINES = [  # 1-based inclusive, as GTF
    ("exon", 44034698, 44034900, "+", "g1", "t1", "DBNDD2"),
    ("exon", 44035300, 44035500, "+", "g1", "t1", "DBNDD2"),
    ("CDS", 44035350, 44035500, "+", "g1", "t1", "DBNDD2"),
    ("exon", 44035800, 44039250, "+", "g1", "t1", "DBNDD2"),
    ("CDS", 44035800, 44036100, "+", "g1", "t1", "DBNDD2"),
    ("exon", 44035450, 44035600, "+", "g1", "t1b", "DBNDD2"),  # second transcript: merged
    ("exon", 44034000, 44034300, "-", "g2", "t2", "TP53TG5"),
    ("exon", 44035000, 44035200, "-", "g2", "t2", "TP53TG5"),
    ("exon", 44034400, 44034450, "+", "g3", "t3", "RP3-453C12.8-AS"),
    ("exon", 44034460, 44034470, "-", "g4", "t4", "LONGNAME-OVERLAPPING-1"),
    ("exon", 44034480, 44034490, "-", "g5", "t5", "LONGNAME-OVERLAPPING-2"),
    ("exon", 44031000, 44032000, "+", "g6", "t6", "OUTSIDE"),
]
EXPECTED_EXONS = {  # 0-based half-open
    "DBNDD2": ((44034697, 44034900), (44035299, 44035600), (44035799, 44039250)),
    "TP53TG5": ((44033999, 44034300), (44034999, 44035200)),
    "RP3-453C12.8-AS": ((44034399, 44034450),),
}


@pytest.fixture
def gtf(tmp_path):
    path = tmp_path / "genes.gtf"
    path.write_text("".join(
        f'chr20\ttest\t{feature}\t{a}\t{b}\t.\t{strand}\t.\tgene_id "{g}"; transcript_id "{t}"; gene_name "{n}";\n'
        for feature, a, b, strand, g, t, n in GTF_LINES
    ))
    return path


def artists(fig, prefix):
    drawn = [a for ax in fig.axes for a in [*ax.patches, *ax.lines, *ax.texts]]
    return [a for a in drawn if (a.get_gid() or "").startswith(prefix)]


def test_gene_models_region_and_labels(gtf):
    genes = read_gene_models(gtf, "chr20", START, END)
    assert [g.name for g in genes if g.name in EXPECTED_EXONS] and "OUTSIDE" not in [g.name for g in genes]
    tracks = {"CAGE:K562 (CNhs11250)": np.linspace(0, 1, 40)}  # bins reach far beyond the region
    fig = region_figure("chr20", START, END, tracks, tracks_start=START - 1280, bin_size=128, genes=genes,
                        highlights=[(44_035_100, 44_035_101)])
    for ax in fig.axes:
        assert ax.get_xlim() == (START, END)  # exactly the requested region
    assert fig.axes[-1].get_xlabel() == "chr20 position (kb)"
    assert fig.axes[-1].xaxis.get_major_formatter()(44_035_000, 0) == "44,035"
    for ax in fig.axes:  # the highlighted base, in every panel
        (spot,) = [p for p in ax.patches if p.get_gid() == "highlight"]
        assert (spot.get_x(), spot.get_width()) == (44_035_100, 1)

    for name, exons in EXPECTED_EXONS.items():
        pieces = sorted((p.get_x(), p.get_x() + p.get_width(), p.get_height()) for p in artists(fig, f"exon:{name}"))
        merged = []
        for a, b, _ in pieces:  # UTR and CDS pieces of one exon touch
            if merged and a == merged[-1][1]:
                merged[-1] = (merged[-1][0], b)
            else:
                merged.append((a, b))
        assert tuple(merged) == exons
    coding = [(a, b) for a, b, h in sorted((p.get_x(), p.get_x() + p.get_width(), p.get_height())
                                           for p in artists(fig, "exon:DBNDD2")) if h == 0.5]
    assert coding == [(44035349, 44035600), (44035799, 44036100)]  # first..last CDS base full height, UTRs half
    for name, strand in (("DBNDD2", "+"), ("TP53TG5", "-"), ("LONGNAME-OVERLAPPING-1", "-")):
        chevrons = artists(fig, f"strand:{name}")
        assert chevrons
        for line in chevrons:
            tail, tip = line.get_marker().vertices[:2]  # the marker's tip points downstream
            assert np.sign(tip[0] - tail[0]) == (1 if strand == "+" else -1)

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    labels = artists(fig, "label:")
    assert {t.get_text() for t in labels} == {g.name for g in genes}
    boxes = [t.get_window_extent(renderer) for t in labels]
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b)
    axis_box = fig.axes[-1].get_window_extent(renderer)
    assert all(axis_box.x0 - 1 <= box.x0 and box.x1 <= axis_box.x1 + 1 for box in boxes)
    rows = {round(t.get_position()[1]) for t in labels}
    assert len(rows) >= 2  # overlapping genes were stacked
    names = [t.get_text() for t in artists(fig, "track-name:")]
    assert names == ["CAGE:K562 (CNhs11250)", "genes"]


def test_logo_for_short_regions_bars_for_long():
    rng = np.random.default_rng(0)
    length, origin = 3000, START - 500
    one_hot = np.eye(4)[rng.integers(0, 4, length)]
    scores = one_hot * rng.normal(size=(length, 1))  # gradient x input: one letter per base

    short = region_figure("chr20", START, START + 150, contributions=scores, contributions_start=origin)
    letters = artists(short, "logo:")
    assert len(letters) == 150
    ax = short.axes[0]
    assert ax.get_xlim() == (START, START + 150)
    assert short.axes[0].get_xlabel() == "chr20 position (bp)"
    for patch in letters[:20]:
        box = patch.get_path().get_extents()
        i = int(np.floor(box.x0)) - START
        base = BASES[int(np.argmax(one_hot[i + 500]))]
        assert patch.get_gid() == f"logo:{base}"
        assert matplotlib.colors.to_hex(patch.get_facecolor()) == BASE_COLOURS[base].lower()
        np.testing.assert_allclose(box.height, abs(scores[i + 500].sum()), rtol=1e-6)
        assert (box.y0 >= -1e-12) == (scores[i + 500].sum() > 0)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(BASES)

    long = region_figure("chr20", START, START + 1000, contributions=scores, contributions_start=origin)
    assert not artists(long, "logo:")
    per_base = scores[500:1500].sum(-1)
    up, down = (artists(long, f"contribution:{sign}")[0].get_data() for sign in ("positive", "negative"))
    np.testing.assert_array_equal(up.edges, START + np.arange(1001))
    np.testing.assert_allclose(up.values, np.maximum(per_base, 0))
    np.testing.assert_allclose(down.values, np.minimum(per_base, 0))

    per_base = rng.normal(size=10_000)  # 10 kb: the envelope of 3-bp blocks (at most 4,000 steps)
    wide = region_figure("chr20", START, START + 10_000, contributions=per_base, contributions_start=START)
    up = artists(wide, "contribution:positive")[0].get_data()
    assert len(up.values) == 3334 and up.edges[-1] == START + 10_000
    np.testing.assert_allclose(up.values[:-1], np.maximum(per_base[:9999].reshape(-1, 3).max(1), 0))
    assert [t.get_text() for t in long.axes[0].get_legend().get_texts()] == [
        "positive contribution", "negative contribution"]


def test_bed12_and_bed6_gene_models(tmp_path):
    bed = tmp_path / "genes.bed"
    bed.write_text(
        "chr20\t1000\t5000\tTX1\t0\t-\t1500\t4000\t0\t3\t200,300,100,\t0,1000,3900,\n"
        "chr20\t6000\t7000\tBOX1\t0\t+\n"
    )
    tx, box = read_gene_models(bed)
    assert tx.exons == ((1000, 1200), (2000, 2300), (4900, 5000)) and tx.strand == "-"
    assert (tx.thick_start, tx.thick_end) == (1500, 4000)
    assert box.exons == ((6000, 7000),) and box.strand == "+"
    gff = tmp_path / "genes.gff3"
    gff.write_text(
        "##gff-version 3\n"
        "chr20\tt\tgene\t101\t900\t.\t-\t.\tID=gene1;Name=GENE%2C1\n"
        "chr20\tt\tmRNA\t101\t900\t.\t-\t.\tID=tx1;Parent=gene1\n"
        "chr20\tt\texon\t101\t300\t.\t-\t.\tParent=tx1\n"
        "chr20\tt\texon\t701\t900\t.\t-\t.\tParent=tx1\n"
        "chr20\tt\tCDS\t201\t300\t.\t-\t0\tParent=tx1\n"
    )
    (gene,) = read_gene_models(gff)
    assert (gene.name, gene.strand, gene.exons) == ("GENE,1", "-", ((100, 300), (700, 900)))
    assert (gene.thick_start, gene.thick_end) == (200, 300)
    bad = tmp_path / "bad.bed"
    bad.write_text("chr20\t1000\t5000\tTX1\t0\t-\t1500\t4000\t0\t2\t200,300,100,\t0,1000,3900,\n")
    with pytest.raises(InputFileError, match=r"bad.bed:1: BED12 blockCount 2"):
        read_gene_models(bad)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--region", "chr20:5-1"], "Region needs 1 <= start <= end (1-based inclusive). Received: 'chr20:5-1'"),
        (["--region", "chr20:1001-9000"], "--region is 8,000 bp; the model predicts 2,048 bp"),
        (["--genes", "GTF"], "genes.gtf:2: GTF line has 8 columns, needs 9"),
        (["--output", "x.jpg"], "--output must end in .png, .pdf or .svg"),
        (["--highlight", "chr20:1-10"], "--highlight must overlap --region"),
    ],
)
def test_plot_bad_input_one_line(shared_dir, tmp_path, capsys, extra, message):
    gtf = tmp_path / "genes.gtf"
    gtf.write_text('chr20\tt\texon\t1\t10\t.\t+\t.\tgene_id "a";\nchr20\tt\texon\t1\t10\t.\t+\t.\n')
    args = {"--model": "enformer_tiny", "--fasta": str(shared_dir / "data" / "reference" / "GRCh37_chr20.fa.gz"),
            "--region": "chr20:44,034,651-44,034,780", "--output": str(tmp_path / "x.png")}
    for key, value in zip(extra[::2], extra[1::2]):
        args[key] = str(gtf) if value == "GTF" else value
    assert main(["plot", *itertools.chain(*args.items())]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 1 and message in errors[0]
    assert not (tmp_path / "x.png").exists()


def test_plot_cli_on_chr20(shared_dir, tmp_path, gtf):
    out = tmp_path / "logo.png"
    fasta = shared_dir / "data" / "reference" / "GRCh37_chr20.fa.gz"
    assert main(["plot", "--model", "enformer_tiny", "--fasta", str(fasta), "--region", "chr20:44,034,651-44,034,780",
                 "--head", "human", "--tracks", "0,3", "--genes", str(gtf), "--contributions", "--dpi", "100",
                 "--highlight", "chr20:44,034,711-44,034,711",
                 "--output", str(out)]) == 0
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


def test_track_titles_from_the_shared_table(shared_dir):
    from kipoi_genome.interpret.plots import track_title
    from kipoi_genome.models import enformer_tracks, track_labels

    table = enformer_tracks("human", path=shared_dir / "data" / "enformer" / "targets_human.txt.gz")
    titles = [track_title(name, "human") for name in track_labels("human", len(table), table)]
    assert titles[4828] == f"{table.description[4828]} ({table.identifier[4828]})"
    assert titles[4828].startswith("CAGE:")
    assert track_title("human_3", "human") == "human_3"
