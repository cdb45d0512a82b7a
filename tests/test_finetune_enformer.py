"""`kipoi-genome finetune` of a small Enformer: frozen trunk / BatchNorm, new heads that learn."""

import json

import keras
import numpy as np
import pandas as pd
import pytest
import yaml

import kipoi_genome  # noqa: F401  (registers the layers for load_model)
from kipoi_genome.cli.main import main
from kipoi_genome.models import Enformer
from kipoi_genome.training.finetune import enformer_finetune_model
from kipoi_genome.training.synthetic import synthetic_tracks_dataset

SMALL = dict(channels=12, num_transformer_layers=1, num_heads=2, key_size=4, num_conv_tower_blocks=2,
             filter_divisible_by=2, heads={"human": 3}, sequence_length=1024, target_length=4,
             inference_chunk_length=None)
DATA = {"source": "synthetic", "sequence_length": 1024, "bin_size": 8, "target_length": 4,
        "organisms": {"human": ["gc", "cpg"]}}


def _batch_norm_layers(model):
    return {layer.path: layer for layer in model._flatten_layers(recursive=True)
            if isinstance(layer, keras.layers.BatchNormalization)}


def _weights(model, heads):
    """Weights by variable path, split into (trunk, heads)."""
    trunk, head = {}, {}
    for variable in model.weights:
        target = head if any(variable.path.startswith(f"head_{h}/") for h in heads) else trunk
        target[variable.path] = np.array(variable.numpy())
    return trunk, head


def _poisson(targets, predictions):
    """Mean Poisson negative log-likelihood without the log(y!) term, in NumPy."""
    predictions = predictions.astype(np.float64) + 1e-7
    return float(np.mean(predictions - targets * np.log(predictions)))


@pytest.fixture(scope="module")
def base_model(tmp_path_factory):
    keras.utils.set_random_seed(5)
    model = Enformer(**SMALL)
    # Trained-looking BatchNorm statistics (not the 0/1 of a fresh layer), so "unchanged" means something.
    rng = np.random.default_rng(1)
    for layer in _batch_norm_layers(model).values():
        layer.moving_mean.assign(rng.normal(0, 0.1, layer.moving_mean.shape).astype("float32"))
        layer.moving_variance.assign(rng.uniform(0.5, 2.0, layer.moving_variance.shape).astype("float32"))
    path = tmp_path_factory.mktemp("base") / "base.keras"
    model.save(path)
    return model, str(path)


def _finetune(tmp_path, base_path, train, steps=30):
    data = tmp_path / "data.yaml"
    data.write_text(yaml.safe_dump(DATA))
    output = tmp_path / f"{train}.keras"
    code = main([
        "finetune", "--model", base_path, "--data", str(data), "--output", str(output), "--train", train,
        "--steps", str(steps), "--learning-rate", "0.01", "--batch-size", "4", "--seed", "0",
    ])
    assert code == 0
    return keras.saving.load_model(output), tmp_path / f"{train}.finetune"


def _eval_loss(model):
    losses = []
    for x, y in synthetic_tracks_dataset(8, 123, 0, 1024, ["gc", "cpg"], 8, 4, stream_id=99, num_batches=2):
        losses.append(_poisson(y.numpy(), np.asarray(model.predict_on_batch(x.numpy())["human"])))
    return float(np.mean(losses))


def test_finetune_heads_keeps_trunk_and_learns(tmp_path, base_model, capsys):
    base, base_path = base_model
    tuned, run_dir = _finetune(tmp_path, base_path, "heads")
    # The data's "human" head has 2 tracks, the base's 3: replaced by a new head.
    assert tuned.heads == {"human": 2}
    base_trunk, _ = _weights(base, ["human"])
    tuned_trunk, tuned_head = _weights(tuned, ["human"])
    assert sorted(base_trunk) == sorted(tuned_trunk)
    for path, value in base_trunk.items():  # every trunk weight and BN moving statistic, bit for bit
        np.testing.assert_array_equal(tuned_trunk[path], value, err_msg=path)
    assert any("moving_variance" in path for path in base_trunk)
    assert tuned_head["head_human/kernel"].shape == (24, 2)

    # The new head learned: held-out Poisson loss well below that of the untrained new head.
    keras.utils.set_random_seed(0)
    start = enformer_finetune_model(base, {"human": 2}, train="heads")
    before, after = _eval_loss(start), _eval_loss(tuned)
    assert after < 0.8 * before, (before, after)
    # The trainer's own evaluation (eval.json) agrees with this NumPy loss to within the data's differences.
    log = [json.loads(line) for line in (run_dir / "train_log.jsonl").read_text().splitlines()]
    steps = [entry for entry in log if "loss" in entry and "step" in entry and "event" not in entry]
    assert steps[-1]["loss"] < steps[0]["loss"]
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["step"] == 30 and summary["train"] == "heads"

    # The saved model works in predict --sequences: per-track means over bins, rows in order.
    rng = np.random.default_rng(2)
    sequences = ["".join(rng.choice(list("ACGT"), 1024)) for _ in range(3)]
    (tmp_path / "seqs.tsv").write_text("name\tsequence\n" + "".join(f"s{i}\t{s}\n" for i, s in enumerate(sequences)))
    assert main(["predict", "--model", str(tmp_path / "heads.keras"), "--sequences", str(tmp_path / "seqs.tsv"),
                 "--output", str(tmp_path / "pred.tsv"), "--no-progress"]) == 0
    predicted = pd.read_csv(tmp_path / "pred.tsv", sep="\t")
    assert list(predicted.columns) == ["name", "human_0", "human_1"] and list(predicted["name"]) == ["s0", "s1", "s2"]
    one_hot = np.eye(4, dtype="float32")[[["ACGT".index(c) for c in s] for s in sequences]]
    expected = np.asarray(tuned.predict_on_batch(one_hot)["human"]).mean(axis=1)
    np.testing.assert_allclose(predicted[["human_0", "human_1"]].to_numpy(), expected, rtol=2e-5)


def test_finetune_all_keeps_batch_norm_statistics(tmp_path, base_model):
    base, base_path = base_model
    tuned, _ = _finetune(tmp_path, base_path, "all", steps=10)
    base_trunk, _ = _weights(base, ["human"])
    tuned_trunk, _ = _weights(tuned, ["human"])
    batch_norm = [p for p in base_trunk if "/batch_norm/" in p or "batch_normalization" in p]
    assert len(batch_norm) >= 4 * 4  # stem + 2 tower blocks + final pointwise, 4 variables each
    for path in batch_norm:
        np.testing.assert_array_equal(tuned_trunk[path], base_trunk[path], err_msg=path)
    # ... while the rest of the trunk trained.
    moved = [p for p in base_trunk if p not in batch_norm and not np.array_equal(tuned_trunk[p], base_trunk[p])]
    assert any("conv_tower" in p for p in moved) and any("transformer" in p for p in moved), moved


def test_enformer_finetune_model_keeps_matching_heads_and_adds_new(base_model):
    base, _ = base_model
    model = enformer_finetune_model(base, {"human": 3, "dnase": 5}, train="heads")
    assert model.heads == {"human": 3, "dnase": 5}
    np.testing.assert_array_equal(model.get_layer("head_human").kernel.numpy(),
                                  base.get_layer("head_human").kernel.numpy())
    trainable = sorted(v.path.split("/")[0] for v in model.trainable_weights)
    assert trainable == ["head_dnase", "head_dnase", "head_human", "head_human"]
    with pytest.raises(ValueError, match="train"):
        enformer_finetune_model(base, {"human": 3}, train="trunk")


def test_finetune_from_tfrecord_folder(tmp_path, base_model, shared_dir, capsys):
    """A Basenji-layout folder written by our writer from chr20 (CpG-island coverage targets) as --data."""
    from kipoi_genome.data import BedTargets, Interval, read_tfrecords, write_tfrecords

    base, base_path = base_model
    fasta = shared_dir / "data/reference/GRCh37_chr20.fa.gz"
    targets = BedTargets([shared_dir / "data/annotation/GRCh37_chr20_cpg_islands.bed"], names=["cpg"])
    folder = tmp_path / "islands"
    starts = {"train": range(44_025_000, 44_025_000 + 24 * 1024, 1024),
              "valid": range(44_060_000, 44_060_000 + 8 * 1024, 1024)}
    for split, positions in starts.items():
        write_tfrecords(folder, str(fasta), [Interval("chr20", s, s + 1024) for s in positions], targets,
                        split=split, pool_width=8, records_per_file=10)
    records = list(read_tfrecords(folder, "valid"))
    assert len(records) == 8 and records[0]["target"].shape == (128, 1)
    # The valid windows cover the island chr20:44,065,431-44,065,714 (1-based): bins 0..1 of the 6th window.
    island = np.concatenate([np.asarray(r["target"])[:, 0] for r in records])
    covered = np.flatnonzero(island > 0)
    assert covered.min() * 8 + 44_060_000 <= 44_065_430 < (covered.min() + 1) * 8 + 44_060_000
    output = tmp_path / "islands.keras"
    assert main(["finetune", "--model", base_path, "--data", str(folder), "--output", str(output),
                 "--train", "heads", "--steps", "6", "--batch-size", "4", "--no-progress"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["step"] == 6 and summary["evaluation"]["islands"]["num_batches"] == 2  # 8 valid records / 4
    tuned = keras.saving.load_model(output)
    assert tuned.heads == {"human": 3, "islands": 1} and tuned.target_length == 128
    base_trunk, _ = _weights(base, ["human"])
    tuned_trunk, _ = _weights(tuned, ["human", "islands"])
    for path, value in base_trunk.items():
        np.testing.assert_array_equal(tuned_trunk[path], value, err_msg=path)
    np.testing.assert_array_equal(tuned.get_layer("head_human").kernel.numpy(),
                                  base.get_layer("head_human").kernel.numpy())
