"""The natural-vs-shuffled head of LOGO classifiers: layer, model, targets, loss, training, CLI."""

import keras
import numpy as np
import pandas as pd
import pytest

from kipoi_genome.cli.main import main
from kipoi_genome.data import InputFileError
from kipoi_genome.data.shuffle import dinucleotide_shuffle
from kipoi_genome.models.logo import LogoBackbone, LogoMaskedLM, LogoPromoterClassifier, LogoSequenceClassifier
from kipoi_genome.models.logo.logo_layers import SigmoidProduct
from kipoi_genome.models.logo.logo_task import tokenize_views
from kipoi_genome.training.finetune import (
    finetune_logo,
    logo_classifier_from,
    masked_head_loss,
    natural_head_targets,
)
from tests.test_logo_tasks import TINY  # k = 4

RNG = np.random.default_rng(7)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, np.float64)))


def test_sigmoid_product_equals_float64_reference():
    logits = RNG.normal(0, 4, (6, 3)).astype(np.float32)
    logits[0] = [-60.0, 30.0, 0.0]  # far tails stay finite
    out = keras.ops.convert_to_numpy(SigmoidProduct()(logits))
    assert out.shape == (6, 1)
    np.testing.assert_allclose(out[:, 0], np.prod(_sigmoid(logits), axis=-1), rtol=1e-5, atol=1e-30)
    assert SigmoidProduct().compute_output_shape((None, 2)) == (None, 1)


def _head_logits(model, sequences):
    views = tokenize_views(model.tokenizer, sequences)  # [N, 2k, m]
    heads = keras.Model(model.input, model.output_dense.output)
    logits = heads.predict(views.reshape(-1, views.shape[-1]), verbose=0)
    return logits.reshape(len(sequences), views.shape[1], 2).astype(np.float64)


def test_classifier_with_natural_head_predicts_the_product_and_round_trips(tmp_path):
    keras.utils.set_random_seed(3)
    model = LogoPromoterClassifier(TINY, pooling="mean", natural_head=True)
    assert model.output_dense.units == 2 and model.output_shape == (None, 1)
    sequences = ["".join(RNG.choice(list("ACGT"), 120)) for _ in range(4)]
    logits = _head_logits(model, sequences)
    expected = (_sigmoid(logits[..., 0]) * _sigmoid(logits[..., 1])).mean(axis=1)  # product per view, then mean
    np.testing.assert_allclose(model.predict_sequences(sequences), expected, rtol=1e-5)
    path = tmp_path / "natural.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, LogoPromoterClassifier) and loaded.natural_head
    np.testing.assert_allclose(loaded.predict_sequences(sequences), expected, rtol=1e-5)
    # The plain classifier keeps one sigmoid unit and no product layer.
    plain = LogoPromoterClassifier(TINY)
    assert plain.output_dense.units == 1 and plain.head_product is None and not plain.get_config()["natural_head"]


def test_natural_head_arguments_are_checked():
    with pytest.raises(ValueError, match="one sigmoid output. Received: num_outputs=3"):
        LogoSequenceClassifier(TINY, num_outputs=3, natural_head=True)
    with pytest.raises(ValueError, match="activation='linear'"):
        LogoSequenceClassifier(TINY, activation="linear", natural_head=True)
    masked_lm = LogoMaskedLM(TINY)
    natural = logo_classifier_from(masked_lm, natural_head=True)
    assert natural.natural_head
    with pytest.raises(ValueError, match="natural_head=False asked"):
        logo_classifier_from(natural, natural_head=False)


def test_natural_head_added_to_a_trained_classifier_keeps_its_weights():
    keras.utils.set_random_seed(4)
    plain = LogoPromoterClassifier(TINY, pooling="mean", sequence_length=120)
    added = logo_classifier_from(plain, natural_head=True)
    assert isinstance(added, LogoPromoterClassifier) and added.natural_head and added is not plain
    assert added.sequence_length == 120 and not plain.natural_head
    for old, new in zip(plain.backbone.get_weights(), added.backbone.get_weights()):
        np.testing.assert_array_equal(old, new)
    kernel, bias = added.output_dense.get_weights()
    np.testing.assert_array_equal(kernel[:, :1], plain.output_dense.kernel.numpy())
    np.testing.assert_array_equal(bias[:1], plain.output_dense.bias.numpy())
    # The class logit is the plain model's: P = sigmoid(class) x sigmoid(natural) on every view.
    sequences = ["".join(RNG.choice(list("ACGT"), 120)) for _ in range(2)]
    logits = _head_logits(added, sequences)
    plain_views = tokenize_views(plain.tokenizer, sequences)
    plain_p = keras.ops.convert_to_numpy(plain(plain_views.reshape(-1, plain_views.shape[-1]))).reshape(2, -1)
    np.testing.assert_allclose(_sigmoid(logits[..., 0]), plain_p, rtol=1e-5)
    assert not logo_classifier_from(plain, from_scratch=True, natural_head=True).backbone.get_weights()[0].tolist() == \
        plain.backbone.get_weights()[0].tolist()


def _table(shuffled_train=True):
    return pd.DataFrame({
        "sequence": ["ACGT" * 10] * 6,
        "label": [1, 0, 0, 0, 1, 0],
        "negative_kind": ["", "gc", "shuffled", "gc_cpg", "", "shuffled" if shuffled_train else "gc"],
        "split": ["train", "train", "valid", "train", "valid", "train"],
    })


def test_natural_head_targets_and_errors(tmp_path):
    targets = natural_head_targets(_table())
    np.testing.assert_array_equal(targets, [
        [1, 1, 1, 1],  # promoter: class 1, natural
        [0, 0, 1, 0],  # genomic negative: class 0, no natural-head target
        [0, 0, 0, 1],  # shuffle: no class target, not natural
        [0, 0, 1, 0],
        [1, 1, 1, 1],
        [0, 0, 0, 1],
    ])
    with pytest.raises(InputFileError, match=r"t.csv:1: the natural head needs a 'negative_kind' column"):
        natural_head_targets(_table().drop(columns="negative_kind"), "t.csv")
    bad = _table()
    bad.loc[2, "label"] = 1
    with pytest.raises(InputFileError, match=r"t.csv:4: a shuffled row must have label 0 \(value '1'\)"):
        natural_head_targets(bad, "t.csv")
    with pytest.raises(InputFileError, match="shuffled rows in the train split"):
        natural_head_targets(_table(shuffled_train=False), "t.csv")


def test_masked_head_loss_equals_weighted_float64_cross_entropy():
    logits = RNG.normal(0, 3, (5, 2)).astype(np.float32)
    logits[0, 0] = 40.0
    y_true = np.concatenate([RNG.integers(0, 2, (5, 2)), RNG.integers(0, 2, (5, 2))], axis=1).astype(np.float32)
    x = logits.astype(np.float64)
    # -[t log p + (1 - t) log(1 - p)] with log p = -log(1 + e^-x) and log(1 - p) = -x - log(1 + e^-x)
    bce = np.log1p(np.exp(-x)) + (1 - y_true[:, :2]) * x
    expected = (bce * y_true[:, 2:]).sum(axis=1)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(masked_head_loss(y_true, logits)), expected, rtol=1e-5)


def test_finetune_trains_each_head_on_its_rows_only():
    keras.utils.set_random_seed(0)
    positives = ["".join(RNG.choice(list("CG"), 80)) + "TATAAA" + "".join(RNG.choice(list("ACGT"), 74)) for _ in range(12)]
    genomic = ["".join(RNG.choice(list("AT"), 160)) for _ in range(12)]
    shuffled = [dinucleotide_shuffle(s, np.random.default_rng(i)) for i, s in enumerate(positives)]
    table = pd.DataFrame({
        "sequence": positives + genomic + shuffled,
        "label": [1] * 12 + [0] * 24,
        "negative_kind": [""] * 12 + ["gc"] * 12 + ["shuffled"] * 12,
        "split": (["train"] * 8 + ["valid"] * 4) * 3,
    })
    model = logo_classifier_from(LogoBackbone(**TINY), natural_head=True)
    result = finetune_logo(model, table, epochs=2, seed=0, log=None)
    assert [h["epoch"] for h in result["history"]] == [1, 2] and np.isfinite([h["loss"] for h in result["history"]]).all()
    assert model.sequence_length == 160 and result["split_counts"] == {"train": 24, "valid": 12, "test": 0}
    # The class head's gradient never sees a shuffled row: a batch of shuffles only moves the natural unit.
    heads = keras.Model(model.input, model.output_dense.output)
    views = tokenize_views(model.tokenizer, shuffled[:4])[:, 0]
    y_true = np.tile(np.array([[0, 0, 0, 1]], np.float32), (4, 1))
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(masked_head_loss(y_true, heads(views, training=False)))
    kernel_gradient = tape.gradient(loss, model.output_dense.kernel).numpy()
    assert np.all(kernel_gradient[:, 0] == 0) and np.any(kernel_gradient[:, 1] != 0)


def test_cli_natural_head_bad_input_exit_2(tmp_path, capsys):
    data = tmp_path / "no_kind.csv"
    pd.DataFrame({"sequence": ["ACGT" * 30] * 4, "label": [1, 0, 1, 0], "split": ["train"] * 2 + ["valid"] * 2}).to_csv(
        data, index=False)
    output = tmp_path / "m.keras"
    code = main(["finetune", "--model", "logo_5mer_chr20_mlm", "--data", str(data), "--output", str(output),
                 "--natural-head", "--no-progress"])
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert code == 2 and captured.out == "" and len(err) == 1, captured
    assert f"{data}:1: the natural head needs a 'negative_kind' column" in err[0]
    assert not output.exists()
