"""Inference speed paths: bfloat16 mixed precision and the FLOP counter."""

import keras
import numpy as np
import pytest

from kipoi_genome.cli.main import main
from kipoi_genome.models import load_model, with_precision
from kipoi_genome.inference.flops import forward_flops
from kipoi_genome.models.enformer.chunked_inference import model_windows
from kipoi_genome.models.precision import model_precision
from kipoi_genome.models import Enformer


def _one_hot(batch, length, seed=0):
    return np.eye(4, dtype=np.float32)[np.random.default_rng(seed).integers(0, 4, (batch, length))]


def test_bfloat16_enformer_matches_float32_with_float32_outputs():
    reference = load_model("enformer_tiny")
    fast = load_model("enformer_tiny", precision="bfloat16")
    assert model_precision(reference) == "float32" and model_precision(fast) == "bfloat16"
    # bfloat16 weights (half the memory) except the float32 output heads.
    heads = {w.path for organism in ("human", "mouse") for w in fast.get_layer(f"head_{organism}").weights}
    assert heads and all(w.dtype == ("float32" if w.path in heads else "bfloat16") for w in fast.weights)
    fast.set_weights(reference.get_weights())
    x = _one_hot(2, 4096)
    expected, got = reference.predict_on_batch(x), fast.predict_on_batch(x)
    for organism in ("human", "mouse"):
        assert got[organism].dtype == np.float32
        error = np.abs(got[organism] - expected[organism]).max() / np.abs(expected[organism]).max()
        assert 0 < error < 2e-2  # bfloat16 has an 8-bit mantissa: close, not equal
        assert np.corrcoef(got[organism].ravel(), expected[organism].ravel())[0, 1] > 0.999
    clone = with_precision(reference, "bfloat16")
    assert model_precision(clone) == "bfloat16"
    for a, b in zip(clone.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(np.asarray(a, np.float32), b, rtol=2**-8, atol=1e-30)  # bf16 rounding
    np.testing.assert_array_equal(clone.predict_on_batch(x)["human"], got["human"])
    assert with_precision(reference, "float32") is reference
    mixed = with_precision(reference, "mixed_bfloat16")
    assert all(w.dtype == "float32" for w in mixed.weights) and model_precision(mixed) == "bfloat16"
    with pytest.raises(ValueError, match="precision='float16'"):
        load_model("enformer_tiny", precision="float16")
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored


def test_xla_opt_in_matches_default():
    default = load_model("enformer_tiny")
    compiled = load_model("enformer_tiny", jit_compile=True)
    assert compiled.jit_compile is True and not default.jit_compile
    compiled.set_weights(default.get_weights())
    x = _one_hot(2, 4096, seed=3)
    expected, got = default.predict_on_batch(x), compiled.predict_on_batch(x)
    for organism in expected:
        np.testing.assert_allclose(got[organism], expected[organism], rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="jit_compile='yes'"):
        load_model("enformer_tiny", jit_compile="yes")


def test_predict_cli_bfloat16_close_to_float32(tmp_path):
    outputs = {}
    for precision, extra in (("float32", []), ("bfloat16", []), ("xla", ["--xla"])):
        path = tmp_path / f"{precision}.tsv"
        flags = ["--precision", "float32" if precision == "xla" else precision, *extra]
        assert main(["predict", "--no-progress", *flags, "--output", str(path)]) in (0, None)
        outputs[precision] = np.genfromtxt(path, delimiter="\t", names=True)
    name = outputs["float32"].dtype.names[-1]
    assert len(outputs["float32"]) > 3
    np.testing.assert_allclose(outputs["bfloat16"][name], outputs["float32"][name], atol=0.02)
    np.testing.assert_allclose(outputs["xla"][name], outputs["float32"][name], atol=1e-5)


def test_forward_flops_exact_on_dense_and_conv():
    inputs = keras.Input((100, 4))
    x = keras.layers.Conv1D(8, 5, padding="same")(inputs)  # 100 * 8 * 5 * 4 multiply-adds
    x = keras.layers.Dense(3)(x)  # 100 * 3 * 8
    model = keras.Model(inputs, x)
    flops = forward_flops(model, (2, 100, 4))
    assert flops["Conv2D"] == 2 * 2 * 100 * 8 * 5 * 4
    assert flops["total"] == 2 * 2 * (100 * 8 * 5 * 4 + 100 * 3 * 8)


def _trunk_macs(length, filters=(768, 896, 1024, 1152, 1280, 1536)):
    """Stem (15 x 4 -> 768, then pointwise) and tower (width 5, then pointwise) MACs."""
    macs, previous = length * (15 * 4 * 768 + 768 * 768), 768
    for i, width in enumerate(filters):
        macs += length // 2 ** (i + 1) * (5 * previous * width + width * width)
        previous = width
    return macs


def test_full_enformer_forward_flops():
    model = Enformer.from_preset("enformer", load_weights=False, inference_chunk_length=None)
    flops = forward_flops(model, (1, 196_608, 4))
    # Convolutions, closed form: stem, six tower stages at halving lengths, final pointwise.
    filters = [768, 896, 1024, 1152, 1280, 1536]
    final = 896 * 1536 * 3072
    assert flops["Conv2D"] == 2 * (_trunk_macs(196_608) + final)
    # Attention pooling computes its logits on x0 - x1 (half length): the published
    # formulation (logits on both window positions) costs one more C x C product
    # per pooled output position. Adding it back gives the usual ~3.3 TFLOP.
    pooled = [(196_608 // 2, 768)] + [(98_304 // 2**i // 2, w) for i, w in enumerate(filters)]
    saved = 2 * sum(length * width * width for length, width in pooled)
    assert 3.25e12 < flops["total"] + saved < 3.35e12
    assert 2.95e12 < flops["total"] < 3.05e12
    # The default chunked inference runs the trunk over six 32,768-bp windows
    # widened by 384-bp halos: exactly that much more convolution work.
    del model
    model = Enformer.from_preset("enformer", load_weights=False)
    chunked = forward_flops(model, (1, 196_608, 4))
    windows = [stop - start for start, stop, _, _ in model_windows(model)]
    assert windows == [33_152] + [33_536] * 4 + [33_152]
    assert chunked["Conv2D"] == 2 * (sum(_trunk_macs(n) for n in windows) + final)
    assert 1.01 < chunked["total"] / flops["total"] < 1.03


def test_policy_scopes_set_and_restore_the_global_policy():
    from kipoi_genome.utils.dtype_scope import policy_scope
    from kipoi_genome.models.precision import dtype_policy
    from kipoi_genome.training.trainer import mixed_precision_scope

    assert keras.config.dtype_policy().name == "float32"
    with dtype_policy("bfloat16"):
        assert keras.layers.Dense(2).dtype_policy.name == "bfloat16"
        with mixed_precision_scope(False):  # keeps the surrounding policy
            assert keras.config.dtype_policy().name == "bfloat16"
        with mixed_precision_scope(True):
            layer = keras.layers.Dense(2)
            assert (layer.compute_dtype, layer.variable_dtype) == ("bfloat16", "float32")
        assert keras.config.dtype_policy().name == "bfloat16"
    with pytest.raises(RuntimeError, match="boom"), policy_scope("mixed_bfloat16"):
        raise RuntimeError("boom")
    assert keras.config.dtype_policy().name == "float32"
