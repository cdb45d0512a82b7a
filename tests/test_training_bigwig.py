"""Training from the user's own tracks through the CLI: Basenji TFRecords written by our writer, and bigWig files.

The bigWig is made here with pyBigWig from known values over GRCh37 chr20
(multiples of 1/8, so every 8-bp mean is a multiple of 1/64 and exact in
float16 as well as float32), with a 500-bp gap without data. Expected
one-hot windows come from pyfaidx and NumPy, expected targets from NumPy
means of the values written, not from the package's readers.
"""

import json
import math

import keras
import numpy as np
import pandas as pd
import pytest
import yaml

import kipoi_genome  # noqa: F401  (registers the layers for load_model)
from kipoi_genome.cli.main import main
from kipoi_genome.training.config import load_config
from kipoi_genome.training.tracks import build_tracks_task

pyBigWig = pytest.importorskip("pyBigWig")
pyfaidx = pytest.importorskip("pyfaidx")

CHR20_LENGTH = 63_025_520
SIGNAL_START, SIGNAL_END = 44_000_000, 44_040_000  # bases with values (0-based half-open)
GAP = (44_030_000, 44_030_500)  # no data inside the signal span
SEQUENCE_LENGTH, BIN, CROP = 1024, 8, 256  # 64 target bins of 8 bp over the central 512 bp
TARGET_LENGTH = (SEQUENCE_LENGTH - 2 * CROP) // BIN
MODEL = dict(architecture="enformer", channels=12, num_transformer_layers=1, num_heads=2, key_size=4,
             num_conv_tower_blocks=2, filter_divisible_by=2, inference_chunk_length=None)
TRAIN_STARTS = list(range(44_000_000, 44_000_000 + 12 * 1024, 1024))
VALID_STARTS = [44_020_000, 44_021_024, 44_022_048, 44_029_800]  # the last one covers the gap


@pytest.fixture(scope="module")
def genome(shared_dir, tmp_path_factory):
    """`(fasta path, bigWig path, per-base values over chr20 as a dict start -> float64 array)`."""
    fasta = shared_dir / "data/reference/GRCh37_chr20.fa.gz"
    folder = tmp_path_factory.mktemp("bigwig")
    rng = np.random.default_rng(17)
    values = rng.integers(0, 64, SIGNAL_END - SIGNAL_START) / 8.0
    values[GAP[0] - SIGNAL_START : GAP[1] - SIGNAL_START] = np.nan
    path = folder / "signal.bw"
    handle = pyBigWig.open(str(path), "w")
    handle.addHeader([("chr20", CHR20_LENGTH)])
    for lo, hi in ((SIGNAL_START, GAP[0]), (GAP[1], SIGNAL_END)):
        handle.addEntries("chr20", lo, values=values[lo - SIGNAL_START : hi - SIGNAL_START], span=1, step=1)
    handle.close()
    return fasta, path, values


def _one_hot(fasta, start, length=SEQUENCE_LENGTH):
    sequence = np.array(list(str(pyfaidx.Fasta(str(fasta))["chr20"][start : start + length])))
    return (sequence[:, None] == np.array(list("ACGT"))[None, :]).astype(np.float32)


def _bin_means(values, start):
    """Means of the 8-bp bins of the central 512 bp of the window at `start`; no data counts as 0."""
    central = np.nan_to_num(values[start + CROP - SIGNAL_START : start + SEQUENCE_LENGTH - CROP - SIGNAL_START])
    return central.reshape(TARGET_LENGTH, BIN).sum(axis=1)[:, None] / BIN


def _config(tmp_path, data, steps=3, batch=4, name="config.yaml"):
    config = {
        "task": "tracks", "seed": 0, "output_dir": str(tmp_path / "run"),
        "train": {"steps": steps, "per_replica_batch_size": batch, "checkpoint_every": steps, "log_every": 1},
        "optimizer": {"name": "adam", "learning_rate": 1e-3, "warmup_steps": 1},
        "model": MODEL, "data": data, "evaluation": {"tta": None},
    }
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config))
    return path


def _records(dataset, batches=None):
    """(one-hot, targets) arrays concatenated over the batches of a trainer stream."""
    xs, ys = [], []
    for x, y in dataset.take(batches) if batches else dataset:
        xs.append(x.numpy())
        ys.append(y.numpy())
    return np.concatenate(xs), np.concatenate(ys)


def _assert_same_records_any_order(got, expected):
    (gx, gy), (ex, ey) = got, expected
    key = lambda x, y: np.float32(x).tobytes() + np.float32(y).tobytes()  # noqa: E731
    assert sorted(key(a, b) for a, b in zip(gx, gy)) == sorted(key(a, b) for a, b in zip(ex, ey))


def _train(capsys, config_path):
    assert main(["train", "--config", str(config_path)]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_train_on_tfrecords_written_by_our_writer(tmp_path, genome, capsys):
    from kipoi_genome.data import BigWigTargets, Interval, write_tfrecords

    fasta, bigwig, values = genome
    folder = tmp_path / "signal"
    for split, starts in (("train", TRAIN_STARTS), ("valid", VALID_STARTS)):
        write_tfrecords(folder, str(fasta), [Interval("chr20", s, s + SEQUENCE_LENGTH) for s in starts],
                        BigWigTargets([bigwig], names=["signal"]), split=split, pool_width=BIN, crop_bp=CROP,
                        records_per_file=5)
    written = {split: (np.stack([_one_hot(fasta, s) for s in starts]), np.stack([_bin_means(values, s) for s in starts]))
               for split, starts in (("train", TRAIN_STARTS), ("valid", VALID_STARTS))}
    assert written["valid"][1][-1].min() == 0 and written["valid"][1][-1].max() > 0  # the gap's bins are 0
    config_path = _config(tmp_path, {"source": "tfrecords", "data_dir": str(folder), "organism": "signal"}, steps=4)

    # What the trainer's input pipeline reads: the valid split exactly and in order, the train split
    # (shuffled) exactly once per epoch of 12 records.
    task = build_tracks_task(load_config(config_path))
    assert task.metadata["tracks"] == {"signal": ["signal"]} and task.metadata["target_length"] == TARGET_LENGTH
    x, y = _records(task.eval_streams["signal"].dataset_fn(2, 0, 0))
    np.testing.assert_array_equal(x, written["valid"][0])
    np.testing.assert_array_equal(y, written["valid"][1].astype(np.float16).astype(np.float32))
    np.testing.assert_array_equal(y, written["valid"][1])  # the means are exact in float16
    _assert_same_records_any_order(_records(task.train_streams["signal"].dataset_fn(4, 0, 0), 3), written["train"])

    summary = _train(capsys, config_path)
    assert summary["step"] == 4 and math.isfinite(summary["last_loss"])
    log = [json.loads(line) for line in (tmp_path / "run/train_log.jsonl").read_text().splitlines()]
    losses = [entry["loss"] for entry in log if "loss" in entry and "event" not in entry]
    assert len(losses) == 4 and all(math.isfinite(loss) for loss in losses)
    assert summary["evaluation"]["signal"]["num_batches"] == 1 and math.isfinite(summary["evaluation"]["signal"]["loss"])

    model_path = tmp_path / "run/final.keras"
    assert summary["model"] == str(model_path)
    model = keras.saving.load_model(model_path)
    assert model.heads == {"signal": 1} and model.sequence_length == SEQUENCE_LENGTH
    bed = tmp_path / "regions.bed"
    bed.write_text("".join(f"chr20\t{s}\t{s + SEQUENCE_LENGTH}\tw{i}\n" for i, s in enumerate(VALID_STARTS[:2])))
    output = tmp_path / "predictions.tsv"
    assert main(["predict", "--model", str(model_path), "--fasta", str(fasta), "--bed", str(bed),
                 "--output", str(output), "--no-progress"]) == 0
    table = pd.read_csv(output, sep="\t")
    assert list(table["name"]) == ["w0", "w1"] and list(table.columns)[-1] == "signal_0"
    expected = np.asarray(model.predict_on_batch(written["valid"][0][:2])["signal"]).mean(axis=1)[:, 0]
    np.testing.assert_allclose(table["signal_0"].to_numpy(), expected, rtol=1e-4)
    capsys.readouterr()
    assert main(["info", str(model_path)]) == 0
    assert "predict" in capsys.readouterr().out


def _bigwig_data(tmp_path, bigwig, fasta, **changes):
    bed = tmp_path / "valid.bed"
    bed.write_text("".join(f"chr20\t{s}\t{s + SEQUENCE_LENGTH}\n" for s in VALID_STARTS))
    data = {"source": "bigwig", "fasta": str(fasta), "bigwigs": {"signal": str(bigwig)}, "summary": "mean",
            "sequence_length": SEQUENCE_LENGTH, "bin_size": BIN, "target_length": TARGET_LENGTH,
            "train": ["chr20:44000001-44012288"], "valid": str(bed), "organism": "signal"}
    data.update(changes)
    return data


def test_bigwig_source_targets_are_numpy_bin_means_and_it_trains(tmp_path, genome, capsys):
    fasta, bigwig, values = genome
    config_path = _config(tmp_path, _bigwig_data(tmp_path, bigwig, fasta), steps=3)
    task = build_tracks_task(load_config(config_path))
    assert task.metadata["tracks"] == {"signal": ["signal"]} and task.metadata["source"] == "bigwig"
    x, y = _records(task.eval_streams["signal"].dataset_fn(2, 0, 0))
    np.testing.assert_array_equal(x, np.stack([_one_hot(fasta, s) for s in VALID_STARTS]))
    np.testing.assert_array_equal(y, np.stack([_bin_means(values, s) for s in VALID_STARTS]))
    # The region chr20:44,000,001-44,012,288 tiles into the 12 training windows, each read once per epoch.
    expected_train = (np.stack([_one_hot(fasta, s) for s in TRAIN_STARTS]),
                      np.stack([_bin_means(values, s) for s in TRAIN_STARTS]))
    _assert_same_records_any_order(_records(task.train_streams["signal"].dataset_fn(4, 0, 0), 3), expected_train)

    # With augmentation each training record is a window shifted by at most 3 bp (N fill), reverse-complemented
    # with its bins reversed or not.
    augmented = _config(tmp_path, _bigwig_data(tmp_path, bigwig, fasta, augment={"max_shift": 3}), name="augment.yaml")
    task = build_tracks_task(load_config(augmented))
    flips = set()
    for x_got, y_got in zip(*_records(task.train_streams["signal"].dataset_fn(4, 0, 0), 3)):
        (index,) = [i for i, y in enumerate(expected_train[1]) if np.array_equal(y_got, y) or np.array_equal(y_got, y[::-1])]
        flipped = not np.array_equal(y_got, expected_train[1][index])
        flips.add(flipped)
        views = []
        for shift in range(-3, 4):
            view = np.zeros_like(expected_train[0][index])
            source = expected_train[0][index]
            view[max(shift, 0) : SEQUENCE_LENGTH + min(shift, 0)] = source[max(-shift, 0) : SEQUENCE_LENGTH - max(shift, 0)]
            views.append(view[::-1, ::-1] if flipped else view)
        assert any(np.array_equal(x_got, view) for view in views), index
    assert flips == {True, False}

    # Written to TFRecords first: the same records.
    records = tmp_path / "records"
    written = _config(tmp_path, _bigwig_data(tmp_path, bigwig, fasta, tfrecords_dir=str(records)), name="records.yaml")
    task = build_tracks_task(load_config(written))
    np.testing.assert_array_equal(_records(task.eval_streams["signal"].dataset_fn(2, 0, 0))[1], y)
    assert json.loads((records / "statistics.json").read_text())["target_names"] == ["signal"]

    summary = _train(capsys, config_path)
    assert summary["step"] == 3 and math.isfinite(summary["last_loss"])
    assert keras.saving.load_model(tmp_path / "run/final.keras").heads == {"signal": 1}


def test_bigwig_source_bad_inputs_give_one_line_and_exit_2(tmp_path, genome, capfd):
    # capfd, not capsys: libBigWig writes to file descriptor 2 itself when it opens a file that is not a bigWig.
    fasta, bigwig, _ = genome
    other = tmp_path / "chr21.bw"
    handle = pyBigWig.open(str(other), "w")
    handle.addHeader([("chr21", 1_000_000)])
    handle.addEntries("chr21", 0, values=np.ones(100), span=1, step=1)
    handle.close()
    bed = tmp_path / "valid.bed"
    fake = tmp_path / "fake.bw"
    fake.write_text("track type=bedGraph\nchr20\t0\t10\t1.0\n")
    cases = [
        ({"bigwigs": {"signal": str(fake)}}, f"{fake}: not a bigWig file (no bigWig signature)"),
        ({"bigwigs": {"signal": str(tmp_path / "absent.bw")}}, "absent.bw: bigWig file not found"),
        ({"bigwigs": {"signal": str(other)}}, f"data.train:1: contig not in bigWig {other} (value 'chr20')"),
        ({"train": ["chr20:63025001-63026024"]},
         "data.train:1: interval ends past the end of chr20 (length 63025520) (value 'chr20:63025000-63026024')"),
        ({"summary": "median"}, "`data.summary` must be one of ('mean', 'sum', 'max'). Received: summary='median'"),
        ({"augment": {"max_shift": 8}}, "`data.augment.max_shift` must be smaller than one bin (8 bp)"),
        ({"missing": "error"}, f"{bigwig}: bases without data in the bigWig (missing: error) (value 'chr20:44030056-44030568')"),
        ({"train": ["chr20:44020001-44021024"]}, f"{bed}:1: valid window overlaps a train window (value 'chr20:44020000-44021024')"),
    ]
    for changes, message in cases:
        config_path = _config(tmp_path, _bigwig_data(tmp_path, bigwig, fasta, **changes))
        assert main(["train", "--config", str(config_path)]) == 2, changes
        err = capfd.readouterr().err
        assert err.strip().count("\n") == 0 and message in err, (changes, err)
        assert not (tmp_path / "run/final.keras").exists()


def test_finetune_enformer_on_a_bigwig_data_section(tmp_path, genome, capsys):
    from kipoi_genome.models import Enformer

    fasta, bigwig, _ = genome
    keras.utils.set_random_seed(3)
    settings = {key: value for key, value in MODEL.items() if key != "architecture"}
    base = Enformer(heads={"human": 3}, sequence_length=SEQUENCE_LENGTH, target_length=TARGET_LENGTH, **settings)
    base_path = tmp_path / "base.keras"
    base.save(base_path)
    data = tmp_path / "data.yaml"
    data.write_text(yaml.safe_dump(_bigwig_data(tmp_path, bigwig, fasta)))
    output = tmp_path / "tuned.keras"
    assert main(["finetune", "--model", str(base_path), "--data", str(data), "--output", str(output),
                 "--train", "heads", "--steps", "3", "--batch-size", "2", "--no-progress"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["step"] == 3 and math.isfinite(summary["last_loss"])
    assert summary["evaluation"]["signal"]["num_batches"] == 2  # 4 valid windows / batch 2
    tuned = keras.saving.load_model(output)
    assert tuned.heads == {"human": 3, "signal": 1}
    np.testing.assert_array_equal(tuned.get_layer("head_human").kernel.numpy(), base.get_layer("head_human").kernel.numpy())
