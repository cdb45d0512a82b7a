"""Official Enformer weights by name: download from 127.0.0.1, verify, convert, cache."""

import hashlib
import logging
import os
import tarfile

import keras
import numpy as np
import pytest

import kipoi_genome  # noqa: F401  (registers the serializable classes)
from kipoi_genome.cli.main import main
from kipoi_genome.convert.enformer_weights import official_enformer_file
from kipoi_genome.download import DownloadError
from kipoi_genome.models import load_model
from kipoi_genome.models import Enformer
from tests.http_helpers import serve

SOURCE_ENV, SHA_ENV = "KIPOI_GENOME_ENFORMER_SOURCE", "KIPOI_GENOME_ENFORMER_SHA256"


@pytest.fixture(scope="module")
def archive(enformer_fixture, tmp_path_factory):
    """tar.gz in the TF-Hub SavedModel layout (variables/variables.*) of the official-architecture fixture."""
    _, prefix = enformer_fixture
    path = tmp_path_factory.mktemp("archive") / "enformer_1.tar.gz"
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        tar.add(prefix.parent, arcname="variables")
    return path.read_bytes()


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv(SOURCE_ENV, raising=False)
    monkeypatch.delenv(SHA_ENV, raising=False)
    return tmp_path / "keras" / "kipoi_genome"


def test_preset_downloads_converts_and_caches(archive, enformer_fixture, keras_home, tmp_path, monkeypatch):
    folder, prefix = enformer_fixture
    sha = hashlib.sha256(archive).hexdigest()
    with serve({"/enformer/1.tar.gz": archive}) as (url, requests):
        model = Enformer.from_preset("enformer", source=f"{url}/enformer/1.tar.gz", sha256=sha, progress=False)
        assert requests == ["/enformer/1.tar.gz"]
        assert sorted(os.listdir(keras_home)) == [f"enformer-{sha[:16]}.keras"]  # no temporary files left

        # The same conversion through the CLI, loaded with plain Keras.
        reference_path = tmp_path / "reference.keras"
        assert main(["convert", "enformer", "--checkpoint", str(prefix.parent), "--output", str(reference_path)]) == 0
        reference = keras.saving.load_model(reference_path)
        x = np.eye(5, 4, dtype=np.float32)[np.load(folder / "inputs.npz")["bases"][:1]]
        got, want = model.predict_on_batch(x), reference.predict_on_batch(x)
        expected = np.load(folder / "expected.npz")
        for organism in ("human", "mouse"):
            np.testing.assert_array_equal(got[organism], want[organism])
            official = expected[organism][:1]  # the official Sonnet code's outputs (fixture README)
            np.testing.assert_allclose(got[organism][:, :, expected[f"{organism}_track_index"]], official, rtol=2e-4, atol=1e-5)

        # Second call, through the environment variables: the cache, no request.
        monkeypatch.setenv(SOURCE_ENV, f"{url}/enformer/1.tar.gz")
        monkeypatch.setenv(SHA_ENV, sha)
        assert official_enformer_file(progress=False) == str(keras_home / f"enformer-{sha[:16]}.keras")
        assert requests == ["/enformer/1.tar.gz"]


def test_truncated_download_fails_cleanly(archive, keras_home, monkeypatch, capsys):
    sha = hashlib.sha256(archive).hexdigest()
    with serve({"/e.tar.gz": archive}, truncate={"/e.tar.gz": len(archive) // 3}) as (url, requests):
        with pytest.raises(DownloadError, match=r"truncated download: received [\d,]+ of [\d,]+ bytes"):
            Enformer.from_preset("enformer", source=f"{url}/e.tar.gz", sha256=sha, progress=False)
        assert os.listdir(keras_home) == []
        # Without a checksum the length check still catches it; through the CLI: one line, exit 2.
        monkeypatch.setenv(SOURCE_ENV, f"{url}/e.tar.gz")
        assert main(["predict", "--model", "enformer", "--no-progress", "--output", "-"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith("kipoi-genome predict: error: http://127.0.0.1:")
        assert "truncated download" in err[-1]
        assert os.listdir(keras_home) == []
        assert len(requests) == 2


def test_checksum_mismatch_and_corrupt_archive(archive, keras_home):
    body = bytearray(archive)
    body[len(body) // 2] ^= 0xFF  # one flipped byte inside the gzip stream
    with serve({"/e.tar.gz": archive, "/bad.tar.gz": bytes(body), "/junk.tar.gz": b"not an archive" * 100}) as (url, _):
        with pytest.raises(DownloadError, match="sha256 mismatch: expected " + "0" * 64):
            Enformer.from_preset("enformer", source=f"{url}/e.tar.gz", sha256="0" * 64, progress=False)
        # No checksum: verified structurally (archive, then checkpoint).
        with pytest.raises(DownloadError, match="corrupt or incomplete archive"):
            Enformer.from_preset("enformer", source=f"{url}/junk.tar.gz", progress=False)
        # Where the flipped byte lands decides which check fails first (gzip, tar, TensorBundle checksum).
        with pytest.raises(ValueError, match=r"/bad.tar.gz: (corrupt|expected one TF-Hub)"):
            Enformer.from_preset("enformer", source=f"{url}/bad.tar.gz", progress=False)
        with pytest.raises(DownloadError, match="download failed: HTTP 404"):
            Enformer.from_preset("enformer", source=f"{url}/missing.tar.gz", progress=False)
    assert os.listdir(keras_home) == []


def test_architecture_only_is_offline_and_untrained_presets_warn(keras_home, monkeypatch, caplog):
    monkeypatch.setenv(SOURCE_ENV, "http://127.0.0.1:9/unreachable.tar.gz")
    model = Enformer.from_preset("enformer", load_weights=False, channels=48, num_transformer_layers=1,
                                 num_heads=2, sequence_length=4096, target_length=16, filter_divisible_by=8)
    assert model.heads == {"human": 5313, "mouse": 1643}
    assert not keras_home.exists() or os.listdir(keras_home) == []
    with pytest.raises(ValueError, match="source"):
        Enformer.from_preset("enformer_tiny", source="x.tar.gz")
    with caplog.at_level(logging.WARNING, logger="kipoi_genome"):
        load_model("enformer_tiny")
    warnings = [r.getMessage() for r in caplog.records if "untrained" in r.getMessage()]
    assert warnings == ["warning: model 'enformer_tiny' has untrained (random) weights: its predictions are meaningless"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="kipoi_genome"):
        load_model("logo_promoter_chr20")
    assert not [r for r in caplog.records if "untrained" in r.getMessage()]


def test_official_source_checks_the_pinned_file_checksums(archive, enformer_fixture, keras_home, monkeypatch):
    from kipoi_genome.convert import enformer_weights

    _, prefix = enformer_fixture
    real = {
        f"variables/variables.{ext}": hashlib.sha256((prefix.parent / f"variables.{ext}").read_bytes()).hexdigest()
        for ext in ("index", "data-00000-of-00001")
    }
    # Passes on the right files (the fixture's checkpoint folder holds variables.* directly).
    enformer_weights.verify_files(prefix.parent, {k.split("/")[1]: v for k, v in real.items()}, "fixture")
    with serve({"/enformer/1": archive}) as (url, requests):
        monkeypatch.setattr(enformer_weights, "OFFICIAL_URL", f"{url}/enformer/1")
        # The default source is the official one; the fixture is not the published model.
        with pytest.raises(DownloadError, match=r"/enformer/1: saved_model.pb missing from the archive"):
            Enformer.from_preset("enformer", progress=False)
        wrong = {**real, "variables/variables.data-00000-of-00001": "0" * 64}
        monkeypatch.setattr(enformer_weights, "OFFICIAL_FILE_SHA256", wrong)
        with pytest.raises(DownloadError, match=r"variables.data-00000-of-00001 sha256 mismatch: expected 0{64}"):
            Enformer.from_preset("enformer", progress=False)
        assert len(requests) == 2
    assert os.listdir(keras_home) == []
