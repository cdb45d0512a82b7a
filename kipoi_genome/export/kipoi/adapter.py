"""Kipoi model classes wrapping kipoi-genome Keras 3 models (kipoi 0.8.6).

`model_defs/*/model.yaml` name these classes (through a two-line `model.py`
in the model directory, because kipoi's `load_obj` cannot reach a class in a
not-yet-imported subpackage). Importing this module imports kipoi and applies
`compat`.

Args in model.yaml (all optional, at least one of `weights` / `preset`):

- `weights`: a `.keras` file (relative to the model directory, absolute, or
  an extension-less file as kipoi saves `{url, md5}` downloads), a
  `.weights.h5` file (with `preset`), or an `http(s)://` URL with `md5`
  (downloaded to `downloaded/model_files/weights/<md5>.keras`).
- `md5`: checksum of a `weights` URL.
- `preset`: a preset name; with no `weights`, its shipped weights are used.
"""

import hashlib
import os
import tempfile
import urllib.request

import numpy as np

from kipoi_genome.export.kipoi import compat as kipoi_compat  # noqa: F401  (patches kipoi on import)

import kipoi.model  # noqa: E402

_KERAS_MAGIC = b"PK"  # .keras files are zip archives
_HDF5_MAGIC = b"\x89HDF"


def _md5(path):
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(url, md5, directory):
    """Downloads `url` to `directory/<md5>.keras` unless present; checks the md5.

    Args:
        url: str. http(s) URL of a `.keras` file.
        md5: str. Expected hex md5 of the file.
        directory: str. Download folder.

    Returns:
        The local path.
    """
    if not md5:
        raise ValueError(f"A weights URL needs its `md5` in model.yaml args. Received: url={url!r}, md5={md5!r}")
    path = os.path.join(directory, f"{md5}.keras")
    if os.path.isfile(path) and _md5(path) == md5:
        return path
    os.makedirs(directory, exist_ok=True)
    handle, tmp = tempfile.mkstemp(suffix=".download", dir=directory)
    os.close(handle)
    try:
        urllib.request.urlretrieve(url, tmp)
        received = _md5(tmp)
        if received != md5:
            raise ValueError(f"md5 mismatch for {url}: expected {md5}. Received: {received}")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def with_extension(path):
    """`path` itself if it ends in `.keras`/`.h5`, else a link `<path>.keras`/`.weights.h5`.

    Kipoi saves `{url, md5}` downloads as `<md5>` without an extension, which
    Keras 3 refuses to open; the link (or a copy where links are not
    allowed) names the format from the file's magic bytes.
    """
    if path.endswith((".keras", ".h5")):
        return path
    with open(path, "rb") as handle:
        magic = handle.read(4)
    if magic.startswith(_KERAS_MAGIC):
        target = path + ".keras"
    elif magic.startswith(_HDF5_MAGIC):
        target = path + ".weights.h5"
    else:
        raise ValueError(f"Weights must be a .keras (zip) or .weights.h5 (HDF5) file. Received: {path}")
    if not os.path.exists(target):
        try:
            os.symlink(os.path.abspath(path), target)
        except OSError:
            import shutil

            shutil.copyfile(path, target)
    return target


def crop_center(x, length):
    """Central `length` positions of axis 1 of `x` (unchanged if already `length`).

    Raises:
        ValueError: if `x` is shorter than `length` or longer by an odd number.
    """
    received = x.shape[1]
    if received == length:
        return x
    if received < length or (received - length) % 2:
        raise ValueError(
            f"Inputs must be {length} long, or longer by an even number (the centre is used). "
            f"Received: length {received}"
        )
    start = (received - length) // 2
    return x[:, start : start + length]


def to_numpy(outputs):
    """Model outputs as NumPy: a dict of arrays for multi-head models."""
    if isinstance(outputs, dict):
        return {name: np.asarray(value) for name, value in outputs.items()}
    return np.asarray(outputs)


class KerasModel(kipoi.model.BaseModel):
    """A kipoi-genome Keras 3 model as a Kipoi model.

    Args:
        weights: str or None. See the module docstring.
        md5: str or None. Checksum of a `weights` URL.
        preset: str or None. Preset name (architecture for `.weights.h5`
            files; shipped weights when `weights` is None).

    `predict_on_batch(x)` takes the dataloader's batch (`[B, L, 4]` float
    one-hot for Enformer; longer inputs are centre-cropped to the model
    length) and returns NumPy arrays (a dict for multi-head models).
    """

    MODEL_PACKAGE = "kipoi-genome"
    WEIGHTS_ENV = None  # an environment variable that overrides `weights`

    def __init__(self, weights=None, md5=None, preset=None):
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        # Kipoi builds the model inside the model directory.
        self._model_dir = os.getcwd()
        override = os.environ.get(self.WEIGHTS_ENV) if self.WEIGHTS_ENV else None
        if override:
            weights, md5 = override, None
        self.weights_path = self._resolve(weights, md5) if weights else None
        self.model = self._load(self.weights_path, preset)

    def _resolve(self, weights, md5):
        weights = os.fspath(weights)
        if weights.startswith(("http://", "https://")):
            return download(weights, md5, os.path.join(self._model_dir, "downloaded", "model_files", "weights"))
        path = os.path.abspath(weights)
        if not os.path.isfile(path):
            hint = f" (or set {self.WEIGHTS_ENV}=FILE.keras)" if self.WEIGHTS_ENV else ""
            raise FileNotFoundError(
                f"{path}: weights not found{hint}. Convert official weights with "
                "`kipoi-genome convert ... --output FILE.keras`."
            )
        return with_extension(path)

    @staticmethod
    def _load(path, preset):
        import keras

        import kipoi_genome.models  # noqa: F401  (registers the classes for .keras files)
        import kipoi_genome.models.logo  # noqa: F401
        from kipoi_genome.models import load_model

        if path is None:
            if preset is None:
                raise ValueError("Give `weights` or `preset` in model.yaml args. Received: neither")
            return load_model(preset)
        if path.endswith(".keras"):
            return keras.saving.load_model(path, compile=False)
        if preset is None:
            raise ValueError(f"A .weights.h5 file needs `preset` (the architecture). Received: {path}")
        model = load_model(preset)
        model.load_weights(path)
        return model

    @property
    def test(self):
        return self.__dict__.get("_test")

    @test.setter
    def test(self, value):
        # kipoi 0.8.6 opens a relative `test.expect` against the working
        # directory; resolve it against the model directory instead.
        expect = getattr(value, "expect", None)
        if isinstance(expect, str) and not os.path.isabs(expect):
            candidate = os.path.join(self._model_dir, expect)
            if os.path.exists(candidate):
                value.expect = candidate
        self.__dict__["_test"] = value

    def predict_on_batch(self, x):
        from kipoi_genome.models.enformer.chunked_inference import predict_on_batch

        length = self.model.inputs[0].shape[1]
        x = np.asarray(x, dtype=np.float32)
        if length is not None:
            x = crop_center(x, length)
        return to_numpy(predict_on_batch(self.model, x))


class EnformerModel(KerasModel):
    """Enformer as a Kipoi model; `$KIPOI_GENOME_ENFORMER_WEIGHTS` overrides `weights`.

    Inputs `[B, 393216, 4]` (the TF-Hub contract) are cropped to the model's
    196,608 bp; outputs are `{"human": [B, 896, 5313], "mouse": [B, 896, 1643]}`.
    """

    WEIGHTS_ENV = "KIPOI_GENOME_ENFORMER_WEIGHTS"

    def __init__(self, weights=None, md5=None, preset=None):
        super().__init__(weights, md5, preset)
        from kipoi_genome.models import Enformer

        if not isinstance(self.model, Enformer):
            raise ValueError(f"Expected an Enformer model. Received: {type(self.model).__name__}")


def _strings(x):
    """A batch of DNA strings (kipoi collates them into a str/bytes array) as a list of str."""
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(x).reshape(-1)]


class LogoPromoterModel(KerasModel):
    """LOGO promoter classifier as a Kipoi model.

    `predict_on_batch(x)` takes `[B]` DNA strings (600 bp, TSS -200 ... +400
    on the gene strand) and returns `[B, 1]` promoter probabilities,
    averaged over the k reading frames and both strands
    (`LogoPromoterClassifier.predict_sequences`).
    """

    def __init__(self, weights=None, md5=None, preset=None):
        super().__init__(weights, md5, preset)
        if not hasattr(self.model, "predict_sequences"):
            raise ValueError(f"Expected a LOGO sequence classifier. Received: {type(self.model).__name__}")

    def predict_on_batch(self, x):
        probabilities = self.model.predict_sequences(_strings(x))
        return np.asarray(probabilities, dtype=np.float32).reshape(len(probabilities), -1)


def _is_substitution(ref, alt, max_span):
    if len(ref) != len(alt):
        return False
    diff = np.flatnonzero(np.frombuffer(ref.encode(), np.uint8) != np.frombuffer(alt.encode(), np.uint8))
    return len(diff) > 0 and diff[-1] - diff[0] < max_span


class LogoVariantScorer(KerasModel):
    """Zero-shot LOGO variant effect (masked-LM log-likelihood ratio) as a Kipoi model.

    `predict_on_batch(x)` takes `{"ref": [B] str, "alt": [B] str}` windows,
    with `"ref_allele"`, `"alt_allele"` ([B] str) and `"offset"` ([B] int,
    the first REF base's index in the windows) as the `logo_variants`
    dataloader gives them, and returns `[B, 1]` scores log P(alt) -
    log P(ref) (`zero_shot_variant_scores`): substitutions and indels, NaN
    only where the score is undefined (module docstring of
    `kipoi_genome.models.logo.logo_variant_scoring`). Without the allele
    inputs only substitutions can be told apart from the windows: indels and
    windows that differ over more than `max_span` bp give NaN.

    Args:
        weights, md5, preset: as in `KerasModel` (a `LogoMaskedLM`).
        max_span: int. Without allele inputs, the largest substitution span
            in bp. Defaults to 10.
    """

    def __init__(self, weights=None, md5=None, preset=None, max_span=10):
        super().__init__(weights, md5, preset)
        self.max_span = int(max_span)

    def predict_on_batch(self, x):
        from kipoi_genome.models.logo import zero_shot_variant_scores

        refs, alts = _strings(x["ref"]), _strings(x["alt"])
        if "ref_allele" in x:
            variants = list(zip(np.asarray(x["offset"]).astype(int).tolist(), _strings(x["ref_allele"]),
                                _strings(x["alt_allele"])))
            scores = zero_shot_variant_scores(self.model, refs, alts, variants=variants)
            return np.asarray(scores, dtype=np.float32).reshape(len(refs), 1)
        scores = np.full((len(refs), 1), np.nan, dtype=np.float32)
        keep = [i for i, (r, a) in enumerate(zip(refs, alts)) if _is_substitution(r, a, self.max_span)]
        if keep:
            values = zero_shot_variant_scores(
                self.model, [refs[i] for i in keep], [alts[i] for i in keep], max_span=self.max_span
            )
            scores[keep, 0] = values
        return scores
