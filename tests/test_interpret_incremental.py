"""Recomputed gradients and incremental variant / ISM passes equal the plain computations."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kipoi_genome.interpret import gradient_times_input, in_silico_mutagenesis
from kipoi_genome.interpret.incremental import IncrementalEnformer, changed_span, predict_pairs_averaged
from kipoi_genome.interpret.recompute import enformer_input_gradient
from kipoi_genome.models import Enformer

SMALL = dict(channels=48, num_transformer_layers=2, num_heads=2, heads={"human": 3, "mouse": 2},
             filter_divisible_by=8)
# (a) 128-bp bins, 4,096 bp, trunk run in 1,024-bp inference windows (halo 259 -> 384 bp);
# (b) 3 tower blocks: 16-bp bins, halo 35 -> 48 bp, trunk at once.
CONFIGS = {
    "bins128_chunked": dict(sequence_length=4096, target_length=16, inference_chunk_length=1024),
    "bins16_whole": dict(sequence_length=2048, target_length=64, num_conv_tower_blocks=3,
                         inference_chunk_length=None),
}


def one_hot(shape, seed):
    return np.eye(4, dtype="float32")[np.random.default_rng(seed).integers(0, 4, shape)]


def perturbed(seed=3, **config):
    """An Enformer with non-trivial weights, BatchNorm moving statistics included."""
    keras.utils.set_random_seed(seed)
    model = Enformer(**{**SMALL, **config})
    rng = np.random.default_rng(seed)
    weights = [w + rng.normal(0, 0.1, w.shape).astype(w.dtype) for w in model.get_weights()]
    model.set_weights([np.abs(w) if "variance" in v.path else w for w, v in zip(weights, model.weights)])
    return model


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def model(request):
    return perturbed(**CONFIGS[request.param])


def max_relative_error(got, expected):
    return float(np.abs(np.asarray(got) - expected).max() / np.abs(expected).max())


# ----------------------------------------------------------------------------
# Memory-bounded gradients
# ----------------------------------------------------------------------------


def plain_gradient(model, x, head, tracks, bins):
    """One tape over the whole-sequence functional graph (nothing recomputed)."""
    whole = keras.Model(model.input, model.output)
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        selected = tf.gather(tf.gather(whole(x, training=False)[head], tracks, axis=2), bins, axis=1)
        target = tf.reduce_sum(selected)
    return tape.gradient(target, x).numpy()


@pytest.mark.parametrize("head, tracks, bins", [("mouse", [1], [3, 7, 8]), ("human", [0, 2], [0, 9, 15])])
def test_recomputed_gradient_equals_plain_gradient(model, head, tracks, bins):
    x = one_hot((2, model.sequence_length), seed=5)
    expected = plain_gradient(model, x, head, tracks, bins)
    got = enformer_input_gradient(model, x, head, tracks, bins)
    assert max_relative_error(got, expected) <= 1e-5
    assert np.abs(expected).max() > 0
    np.testing.assert_allclose(gradient_times_input(model, x, head, tracks, bins), got * x, rtol=0, atol=0)


def test_recomputed_gradient_float64_equals_central_differences():
    # Positions where two trunk windows' halos overlap (their gradients add up) and inside one.
    # (The plain float64 tape is not a tight reference: the functional graph casts its
    # input to float32, which rounds the input gradient.)
    keras.config.set_dtype_policy("float64")
    try:
        model = perturbed(**CONFIGS["bins128_chunked"])
        x = one_hot((1, model.sequence_length), seed=6).astype("float64")
        got = enformer_input_gradient(model, x, "human", [1], [8])
        assert got.dtype == np.float64

        def f(v):
            return model.predict_on_batch(v[None])["human"][0, 8, 1]

        eps = 1e-3  # float64: truncation error ~eps^2, round-off ~1e-12 / eps
        for position in (1000, 1024, 1100, 2000):
            for base in range(4):
                plus, minus = x[0].copy(), x[0].copy()
                plus[position, base] += eps
                minus[position, base] -= eps
                derivative = (f(plus) - f(minus)) / (2 * eps)
                assert got[0, position, base] == pytest.approx(derivative, rel=1e-4, abs=1e-9)
    finally:
        keras.config.set_dtype_policy("float32")


def test_recomputed_gradient_head_errors(model):
    x = one_hot((1, model.sequence_length), seed=1)
    with pytest.raises(ValueError, match="Choose an output head"):
        enformer_input_gradient(model, x)
    with pytest.raises(ValueError, match="Unknown head 'rat'"):
        enformer_input_gradient(model, x, head="rat")


# ----------------------------------------------------------------------------
# Incremental passes
# ----------------------------------------------------------------------------


def edge_positions(model):
    """Positions at the sequence ends, at trunk windows' and bins' edges, and inside."""
    length, bin_size = model.sequence_length, model.bin_size
    chunk = model.inference_chunk_length or length // 2
    grid = {0, 1, bin_size - 1, bin_size, length // 2, length // 2 + 1, length - 1, length - 2,
            chunk - 1, chunk, chunk + 383, 2 * chunk - 384, 3 * length // 8 + 5, length - bin_size}
    return sorted(p for p in grid if 0 <= p < length)


def test_incremental_substitutions_equal_full_recomputation(model):
    reference = one_hot(model.sequence_length, seed=7)
    positions = edge_positions(model)
    alternatives = np.repeat(reference[None], len(positions), axis=0)
    for k, position in enumerate(positions):
        alternatives[k, position] = np.roll(reference[position], 1 + k % 3)
    incremental = IncrementalEnformer(model)
    trunk = incremental.conv_features(reference[None])
    spans = [changed_span(reference, a) for a in alternatives]
    assert spans == [(p, p + 1) for p in positions]
    got = incremental.heads(incremental.alternative_conv_features(tf.repeat(trunk, len(positions), 0), alternatives, spans))
    expected = model.predict_on_batch(alternatives)
    for name in model.heads:
        assert max_relative_error(got[name], expected[name]) <= 1e-5
    # The substitutions do change the outputs, so the comparison is not vacuous.
    reference_output = model.predict_on_batch(reference[None])["human"]
    assert np.abs(expected["human"] - reference_output).max() > 1e-3 * np.abs(reference_output).max()


def test_windows_cover_the_receptive_field_and_share_one_shape(model):
    incremental = IncrementalEnformer(model)
    widths = set()
    for position in edge_positions(model):
        start, end, keep_first, keep_stop = incremental.window(position, position + 1)
        widths.add(end - start)
        assert start % model.bin_size == 0 and 0 <= start < end <= model.sequence_length
        # Every kept position sees its halo (or the sequence end) inside the window.
        assert start <= max(0, keep_first * model.bin_size - incremental.halo)
        assert end >= min(model.sequence_length, keep_stop * model.bin_size + incremental.halo)
        assert keep_first * model.bin_size <= position < keep_stop * model.bin_size
    assert len(widths) == 1 and widths.pop() < model.sequence_length // 2
    assert incremental.window(0, model.sequence_length) is None  # too long: full pass
    with pytest.raises(ValueError, match="within the"):
        incremental.window(-1, 1)


def test_trunk_outside_the_window_is_unchanged_by_a_substitution(model):
    # The premise of splicing: the full pass's trunk output moves only inside the window.
    incremental = IncrementalEnformer(model)
    reference = one_hot(model.sequence_length, seed=8)
    position = model.sequence_length // 2 + 3
    mutant = reference.copy()
    mutant[position] = np.roll(mutant[position], 2)
    before, after = (incremental.conv_features(x[None]).numpy()[0] for x in (reference, mutant))
    _, _, keep_first, keep_stop = incremental.window(position, position + 1)
    moved = np.flatnonzero(np.abs(after - before).max(axis=1) > 0)
    assert moved.size and keep_first <= moved.min() and moved.max() < keep_stop


@pytest.mark.parametrize("shifts, rc", [((0,), False), ((-2, 0, 3), True)])
def test_variant_pairs_equal_full_passes_with_shifts_strands_and_indels(model, shifts, rc):
    from kipoi_genome.interpret import predict_averaged

    margin = max(abs(s) for s in shifts)
    padded = model.sequence_length + 2 * margin
    references = one_hot((4, padded), seed=9)
    alternatives = references.copy()
    centre = padded // 2
    alternatives[0, centre] = np.roll(references[0, centre], 1)  # SNV at the centre
    alternatives[1, 5] = np.roll(references[1, 5], 2)  # near the start
    alternatives[2, centre : centre + 3] = np.roll(references[2, centre : centre + 3], 1, axis=-1)  # MNV
    alternatives[3, centre:] = np.concatenate([references[3, centre + 2 :], one_hot((2,), seed=1)])  # deletion
    got = predict_pairs_averaged(model, references, alternatives, shifts, rc)
    for k, windows in enumerate((references, alternatives)):
        expected = predict_averaged(model, windows, shifts, rc)
        for name in model.heads:
            assert max_relative_error(got[k][name], expected[name]) <= 1e-5


def test_incremental_ism_equals_full_ism(model):
    reference = one_hot(model.sequence_length, seed=10)
    centre = model.sequence_length // 2
    positions = [0, model.bin_size, centre, model.sequence_length - 1]
    got = in_silico_mutagenesis(model, reference, "human", [1], None, positions, batch_size=5, progress=False)
    full = keras.Model(model.input, model.output)  # not an Enformer: the full pass per substitution
    expected = in_silico_mutagenesis(full, reference, "human", [1], None, positions, batch_size=5, progress=False)
    assert np.count_nonzero(got[centre]) == 3 and np.count_nonzero(got) <= 3 * len(positions)
    scale = np.abs(model.predict_on_batch(reference[None])["human"][..., 1]).sum()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5 * scale)


@pytest.mark.parametrize("flags, shown", [((), True), (("--no-progress",), False)])
def test_cli_ism_progress_bar(tmp_path, capsys, flags, shown):
    import importlib.resources

    from kipoi_genome.cli.main import main

    fasta = str(importlib.resources.files("kipoi_genome") / "example_data" / "chr20_44080000_44220000.fa")
    out = tmp_path / "ism.npz"
    code = main(["interpret", "--model", "enformer_tiny", "--fasta", fasta, "--region",
                 "chr20_44080000_44220000:18001-19000", "--head", "human", "--method", "ism",
                 "--ism-width", "2", "--output", str(out), *flags])
    assert code == 0
    assert ("6/6" in capsys.readouterr().err) == shown  # 2 positions x 3 substitutions
    assert np.load(out)["scores"].shape == (2, 4)


def test_xla_compiled_model_gives_the_same_incremental_outputs():
    model = perturbed(**CONFIGS["bins16_whole"])
    reference = one_hot((1, model.sequence_length), seed=11)
    alternative = reference.copy()
    alternative[0, 1000] = np.roll(alternative[0, 1000], 1)
    plain = predict_pairs_averaged(model, reference, alternative)
    model.compile(jit_compile=True)
    try:
        assert IncrementalEnformer(model)._heads._jit_compile
        compiled = predict_pairs_averaged(model, reference, alternative)
    finally:
        model.compile(jit_compile=False)
    for k in range(2):
        assert max_relative_error(compiled[k]["human"], plain[k]["human"]) <= 1e-5
