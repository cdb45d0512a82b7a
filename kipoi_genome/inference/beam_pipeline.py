"""Genome-scale variant scoring and region prediction as Apache Beam pipelines.

The same computation as `score_variants` / `predict_regions`, cut into
shards that Beam runs in parallel, in-process (`runner="direct"`) or on a
cluster (Dataflow, Flink, Spark, any portable runner):

1. **Plan** (in the launching process): the inputs are streamed once, in
   file order, and checked exactly as the single-process command checks
   them (malformed VCF lines, unknown contigs, variants or regions off the
   contig, and REF against the FASTA when `on_ref_mismatch="error"`), so
   bad input fails before any worker starts, with the same one-line
   message. The records are cut into shards of about `shard_size`
   consecutive records that never cross a contig or file. A shard is a
   genomic region, and what its worker reads depends on the input:

   * a bgzipped VCF with a tabix/CSI index (sorted): the shard is
     (file, contig, first-last POS, the records' line numbers, a digest of
     its alleles); the plan holds no records, and the worker fetches its
     region through the index (`kipoi_genome.data.vcf.iter_vcf_region`),
     with the same record checks, and verifies the digest;
   * a whole-genome tiling (`run_tile_pipeline`): the shard is (contig,
     consecutive tiles); the worker builds the windows itself;
   * a plain, gzip or unsorted VCF, a BCF, or BED regions: the shard's
     records go to a small JSON manifest in `shard_dir`.

   The worker reads its windows from the indexed FASTA by region.
2. **Run**: `RunInference` over the shards with `ShardModelHandler`, which
   loads the model (preset or `.keras`) once per worker process, or once
   per machine with `large_model=True` (Beam's
   `share_model_across_processes`). Within a shard, variants are scored by
   `kipoi_genome.interpret.score_variants` and regions predicted by
   `predict_regions` in batches of `batch_size`: the windows, REF checks
   and scores are the single-process ones.
3. **Write**: each shard's result is one `.npz` in `shard_dir`, written
   atomically; a shard whose file exists is complete and is not computed
   again, so rerunning a killed or failed job recomputes only the missing
   shards.
4. **Merge**: `merge_variant_shards` / `merge_region_shards` read the
   shards back in order (each `.npz` holds its rows' keys: chrom, pos, id,
   ref, alt and line of each allele) and yield the same `(window, scores)` /
   `(interval, outputs)` stream as the single-process functions, which the
   CLI hands to the same writers: same format, same row order.

`apache_beam` is imported only when a pipeline runs (the optional `beam`
extra); planning and merging need NumPy alone. Workers read the FASTA,
VCF, manifests and shards through the POSIX file system, so on a cluster
`shard_dir` and the inputs must be paths every worker can open (see
docs/scale.md); `check_local_paths` refuses URLs such as ``gs://``.
"""

import dataclasses
import hashlib
import json
import logging
import os
import sys

import numpy as np
from tqdm.auto import tqdm

from kipoi_genome.utils.atomic import atomic_output
from kipoi_genome.data import FastaExtractor, Interval, InputFileError, Variant, iter_vcf
from kipoi_genome.data.variants import VariantWindow, check_variant
from kipoi_genome.data.vcf import iter_vcf_region, vcf_index
from kipoi_genome.inference.tiling import contig_tiles, tile_count

# CLI runner names -> Beam runner class names; "direct" is built in-process.
RUNNERS = {
    "direct": "FnApiRunner",
    "dataflow": "DataflowRunner",
    "flink": "FlinkRunner",
    "spark": "SparkRunner",
    "portable": "PortableRunner",
}
RUN_FILE = "run.json"
# Bumped when the shard files change, so a folder of an older layout is refused.
SHARD_LAYOUT = 2


@dataclasses.dataclass(frozen=True)
class Shard:
    """A contiguous run of input records (one genomic region) and the files of its work.

    Attributes:
        index: int. Position of the shard in the merged output.
        region: str. Genomic span, ``chrom:first-last`` (1-based positions
            of the first and last record, or of the tiles' first and last bp).
        count: int. Records (variant alleles, regions or tiles) in the shard.
        output: str. `.npz` file of the shard's results; present = complete.
        manifest: str or None. JSON file holding the shard's records (BED
            regions, VCFs without an index); None when the worker reads
            its region itself.
        source: str or None. Indexed VCF the worker reads the region from.
        chrom: str or None. Contig of a region shard.
        start: int or None. 0-based start of the region (VCF: first POS - 1;
            tiles: the first tile's output start).
        end: int or None. End of the region (VCF: last POS; tiles: the last
            tile's output end).
        lines: tuple of (first_line, count) runs: the VCF line numbers of
            the region's records.
        digest: str or None. sha256 of the region's alleles, checked by the
            worker against what it reads.
        identity: tuple. (path, size, mtime) of `source` when planned (workers
            check the size).
    """

    index: int
    region: str
    count: int
    output: str
    manifest: str = None
    source: str = None
    chrom: str = None
    start: int = None
    end: int = None
    lines: tuple = ()
    digest: str = None
    identity: tuple = ()

    @property
    def name(self):
        """str: ``shard-NNNNN``."""
        return f"shard-{self.index:05d}"

    def is_complete(self):
        """bool: whether the shard's output file exists."""
        return os.path.isfile(self.output)


@dataclasses.dataclass
class PipelineReport:
    """What one `run_*_pipeline` call did.

    Attributes:
        shards: list of Shard, in output order.
        computed: names of the shards computed by this call.
        skipped: names of the shards already complete before it.
    """

    shards: list
    computed: list = dataclasses.field(default_factory=list)
    skipped: list = dataclasses.field(default_factory=list)


def _file_identity(path):
    path = os.fspath(path)
    if not os.path.exists(path):
        return [path]
    stat = os.stat(path)
    return [os.path.abspath(path), stat.st_size, stat.st_mtime_ns]


def check_local_paths(paths):
    """Refuses URLs (``gs://``, ``s3://``, ``hdfs://``, ...): inputs and shards are read as POSIX paths.

    Args:
        paths: iterable of (flag, path) pairs; None paths are ignored.

    Raises:
        ValueError: naming the flag and the path, and what to do instead.
    """
    for flag, path in paths:
        if path is None:
            continue
        scheme, sep, _ = os.fspath(path).partition("://")
        if sep and scheme.replace("+", "").replace("-", "").replace(".", "").isalnum():
            raise ValueError(
                f"{flag} {path}: {scheme}:// paths are not read or written directly; stage the file on a "
                f"path every worker can open (a shared POSIX mount, e.g. Cloud Storage FUSE; docs/scale.md). "
                f"Received: {path!r}"
            )


def _check_run_file(shard_dir, description):
    """Records what a shard folder computes; refuses a folder of another run.

    A shard is reused only if it was computed from the same inputs, model
    and parameters, so `description` (JSON-able) is compared with the one
    stored by the first run.
    """
    os.makedirs(shard_dir, exist_ok=True)
    path = os.path.join(shard_dir, RUN_FILE)
    text = json.dumps(description, indent=1, sort_keys=True)
    if os.path.isfile(path):
        with open(path) as handle:
            stored = json.load(handle)
        if stored == json.loads(text):
            return
        names = os.listdir(shard_dir)
        if any(name.startswith("shard-") and name.endswith(".npz") for name in names):
            changed = sorted(k for k in set(stored) | set(description) if stored.get(k) != description.get(k))
            raise ValueError(
                f"{path}: shard folder holds a run with other inputs or parameters "
                f"(differs in {', '.join(changed)}); use an empty --shard-dir. Received: {shard_dir!r}"
            )
        # No shard was computed (e.g. the input was fixed after a planning
        # error): the old plan is stale, start afresh.
        for name in names:
            if name.startswith("shard-") and name.endswith(".json"):
                os.remove(os.path.join(shard_dir, name))
    with atomic_output(path, "w", suffix=".json") as handle:
        handle.write(text + "\n")


def _model_identity(model):
    model = os.fspath(model)
    return _file_identity(model) if model.endswith(".keras") else [model]


def _check_model_name(model):
    model = os.fspath(model)
    if model.endswith(".keras") and not os.path.isfile(model):
        raise FileNotFoundError(f"{model}: model file not found")


def _region(chrom, first, last):
    return f"{chrom}:{first}-{last}"


def _write_manifest(shard, payload):
    if shard.is_complete() or os.path.isfile(shard.manifest):
        return
    with atomic_output(shard.manifest, "w", suffix=".json") as handle:
        json.dump(payload, handle)


def _shard_paths(shard_dir, index):
    stem = os.path.join(os.path.abspath(shard_dir), f"shard-{index:05d}")
    return stem + ".json", stem + ".npz"


def _allele_key(variant):
    return f"{variant.chrom}\t{variant.pos}\t{variant.id or '.'}\t{variant.ref}\t{variant.alt}\t{variant.line}\n"


def _line_runs(numbers):
    """(first, count) runs of consecutive line numbers (blank lines break a run)."""
    runs = []
    for number in numbers:
        if runs and runs[-1][0] + runs[-1][1] == number:
            runs[-1][1] += 1
        else:
            runs.append([number, 1])
    return tuple(tuple(run) for run in runs)


class _Unsorted(Exception):
    """An indexed VCF whose records are not sorted by contig and position."""


def _plan_vcf_regions(vcf, fasta, shard_dir, shard_size, check_ref, first_index):
    """Region shards of one bgzipped, indexed VCF, holding no records.

    Streams `iter_vcf` with the single-process checks; cuts a shard when it
    has `shard_size` alleles and the position changes (so that a region
    query returns exactly its records) or at a new contig.

    Raises:
        _Unsorted: if the records are not sorted (the index cannot then
            give them in file order); the caller plans manifests instead.
    """
    shards, seen = [], set()
    identity = tuple(_file_identity(vcf))
    group = None

    def flush():
        if group is None:
            return
        _, output = _shard_paths(shard_dir, first_index + len(shards))
        shards.append(Shard(
            first_index + len(shards), _region(group["chrom"], group["first"], group["last"]), group["count"],
            output, source=vcf, chrom=group["chrom"], start=group["first"] - 1, end=group["last"],
            lines=_line_runs(group["lines"]), digest=group["hash"].hexdigest(), identity=identity,
        ))

    for variant in iter_vcf(vcf):
        check_variant(fasta, variant, check_ref)
        same_contig = group is not None and variant.chrom == group["chrom"]
        if same_contig and variant.pos < group["last"]:
            raise _Unsorted()
        if not same_contig and variant.chrom in seen:
            raise _Unsorted()
        if not same_contig or (group["count"] >= shard_size and variant.pos != group["last"]):
            flush()
            seen.add(variant.chrom)
            group = {"chrom": variant.chrom, "first": variant.pos, "last": variant.pos, "count": 0, "lines": [],
                     "hash": hashlib.sha256()}
        group["last"] = variant.pos
        group["count"] += 1
        if not group["lines"] or group["lines"][-1] != variant.line:
            group["lines"].append(variant.line)
        group["hash"].update(_allele_key(variant).encode())
    flush()
    return shards


def _validate_shard_size(shard_size):
    if isinstance(shard_size, bool) or not isinstance(shard_size, int) or shard_size < 1:
        raise ValueError(f"`shard_size` must be a positive integer. Received: shard_size={shard_size!r}")


def plan_variant_shards(vcfs, fasta, shard_dir, shard_size=1000, check_ref=False):
    """Streams and checks VCFs once and cuts their alleles into shards.

    Every allele gets the single-process checks (`iter_vcf` for the record,
    `check_variant`, as `variant_window` does, for its contig, position and,
    with `check_ref`, REF),
    so the first bad record raises the same `InputFileError` as
    `score_variants`. A sorted, bgzipped VCF with a tabix/CSI index
    (`kipoi_genome.data.vcf.vcf_index`) is cut into region shards of about
    `shard_size` alleles (a position's records stay together) that the
    workers read through the index; the plan holds no records and writes
    no manifest. Other VCFs are grouped into manifests of at most
    `shard_size` consecutive alleles of one file and contig.

    Args:
        vcfs: list of VCF / VCF.gz paths, read in order.
        fasta: FastaExtractor.
        shard_dir: folder for manifests and shard outputs.
        shard_size: int. Alleles per shard.
        check_ref: bool. Also compare REF with the FASTA (for
            `on_ref_mismatch="error"`; otherwise workers count mismatches).

    Returns:
        list of Shard; manifests are written for the incomplete ones.
    """
    _validate_shard_size(shard_size)
    shards = []
    for vcf in vcfs:
        if vcf_index(vcf) is not None:
            try:
                shards += _plan_vcf_regions(vcf, fasta, shard_dir, shard_size, check_ref, len(shards))
                continue
            except _Unsorted:
                pass
        shards += _plan_vcf_manifests(vcf, fasta, shard_dir, shard_size, check_ref, len(shards))
    return shards


def _plan_vcf_manifests(vcf, fasta, shard_dir, shard_size, check_ref, first_index):
    shards = []
    rows, source, chrom = [], None, None

    def flush():
        if not rows:
            return
        manifest, output = _shard_paths(shard_dir, first_index + len(shards))
        shard = Shard(first_index + len(shards), _region(chrom, rows[0][1], rows[-1][1]), len(rows), output,
                      manifest=manifest)
        _write_manifest(shard, {"source": source, "variants": rows})
        shards.append(shard)
        rows.clear()

    for variant in iter_vcf(vcf):
        check_variant(fasta, variant, check_ref)
        if variant.source != source or variant.chrom != chrom or len(rows) >= shard_size:
            flush()
            source, chrom = variant.source, variant.chrom
        rows.append([variant.chrom, variant.pos, variant.id, variant.ref, variant.alt, variant.line])
    flush()
    return shards


def plan_region_shards(intervals, shard_dir, shard_size=100):
    """Cuts checked intervals into shards of consecutive intervals of one contig.

    Args:
        intervals: list of Interval (already checked with `check_intervals`).
        shard_dir: folder for manifests and shard outputs.
        shard_size: int. Intervals per shard.

    Returns:
        list of Shard; manifests are written for the incomplete ones.
    """
    _validate_shard_size(shard_size)
    shards = []
    group = []

    def flush():
        if not group:
            return
        manifest, output = _shard_paths(shard_dir, len(shards))
        region = _region(group[0].chrom, group[0].start + 1, max(i.end for i in group))
        shard = Shard(len(shards), region, len(group), output, manifest=manifest)
        records = [[i.chrom, i.start, i.end, i.name, i.strand, list(i.extra), i.source, i.line] for i in group]
        _write_manifest(shard, {"intervals": records})
        shards.append(shard)
        group.clear()

    for interval in intervals:
        if group and (interval.chrom != group[0].chrom or len(group) >= shard_size):
            flush()
        group.append(interval)
    flush()
    return shards


def plan_tile_shards(contigs, span, shard_dir, shard_size=100):
    """Cuts the tiles of `contigs` into shards of consecutive tiles of one contig.

    Args:
        contigs: list of (contig, length), as `tiling.tile_contigs` gives.
        span: int. Output bp per tile (`tiling.tile_span`).
        shard_dir: folder of the shard outputs (no manifests: a shard's
            tiles follow from its contig, start and count).
        shard_size: int. Tiles per shard.

    Returns:
        list of Shard.
    """
    _validate_shard_size(shard_size)
    shards = []
    for chrom, length in contigs:
        total = tile_count(length, span)
        for first in range(0, total, shard_size):
            count = min(shard_size, total - first)
            start, end = first * span, (first + count) * span
            _, output = _shard_paths(shard_dir, len(shards))
            shards.append(Shard(len(shards), _region(chrom, start + 1, min(end, length)), count, output,
                                chrom=chrom, start=start, end=end))
    return shards


def _read_manifest(path):
    with open(path) as handle:
        return json.load(handle)


def _shard_variants(shard):
    """The variants a worker scores: from the manifest, or read from the indexed VCF."""
    if shard.manifest is not None:
        manifest = _read_manifest(shard.manifest)
        return [Variant(chrom, pos, vid, ref, alt, manifest["source"], line)
                for chrom, pos, vid, ref, alt, line in manifest["variants"]]
    # Size only: a worker may see the file through another mount (other mtimes); the digest checks content.
    if not os.path.isfile(shard.source) or os.path.getsize(shard.source) != shard.identity[1]:
        raise InputFileError(shard.source, None, "VCF missing or changed since the job was planned; rerun the command",
                             shard.region)
    variants = list(iter_vcf_region(shard.source, shard.chrom, shard.start + 1, shard.end, shard.lines))
    digest = hashlib.sha256("".join(_allele_key(v) for v in variants).encode()).hexdigest()
    if digest != shard.digest:
        raise InputFileError(
            shard.source, None,
            "the records read through the index differ from the planned ones: the index does not match the "
            "file (re-index it with tabix -p vcf)",
            shard.region,
        )
    return variants


def _shard_intervals(shard):
    """The regions a worker predicts: from the manifest, or the shard's tiles."""
    if shard.manifest is not None:
        return [_interval(record) for record in _read_manifest(shard.manifest)["intervals"]]
    span = (shard.end - shard.start) // shard.count
    return contig_tiles(shard.chrom, span, shard.start // span, shard.count)


class ShardWorker:
    """Computes shards; built once per worker by `ShardModelHandler.load_model`.

    Holds the loaded model and FASTA. `run(shard)` is its one entry point,
    so it also works behind Beam's cross-process model proxy.

    Args:
        task: ``"score-variants"`` or ``"predict"``.
        model: preset name or `.keras` path.
        fasta: FASTA path.
        precision: ``"float32"`` or ``"bfloat16"``.
        jit_compile: bool. XLA-compile the forward pass.
        options: dict of task arguments (`score_variants` or
            `predict_regions` keywords, `batch_size` included).
    """

    def __init__(self, task, model, fasta, precision="float32", jit_compile=False, options=None):
        from kipoi_genome.models import load_model

        self.task = task
        self.options = dict(options or {})
        self.fasta = FastaExtractor(fasta)
        model = load_model(model, precision=precision, jit_compile=jit_compile)
        if task == "score-variants":
            from kipoi_genome.interpret.logo_scorers import as_variant_scorer

            model = as_variant_scorer(model)
        self.model = model

    def run(self, shard):
        """Computes `shard` and returns its arrays (dict name -> np.ndarray)."""
        if self.task == "score-variants":
            return self._score(_shard_variants(shard))
        return self._predict(_shard_intervals(shard))

    def _score(self, variants):
        from kipoi_genome.interpret.variant_scoring import ScoringSummary, score_variants

        summary = ScoringSummary()
        # The plan already raised on REF mismatches in "error" mode; here they are counted.
        results = list(
            score_variants(
                self.model, self.fasta, variants, on_ref_mismatch="skip", summary=summary, progress=False,
                **self.options,
            )
        )
        # Mismatched variants are left out of `results`; the rest keep file order.
        scored = [window.variant for window, _ in results]
        arrays = {
            "chrom": np.array([v.chrom for v in scored], dtype=str),
            "pos": np.array([v.pos for v in scored], "int64"),
            "id": np.array([v.id or "." for v in scored], dtype=str),
            "ref": np.array([v.ref for v in scored], dtype=str),
            "alt": np.array([v.alt for v in scored], dtype=str),
            "line": np.array([-1 if v.line is None else v.line for v in scored], "int64"),
            "source": np.array(variants[0].source if variants else "", dtype=str),
            "start": np.array([w.start for w, _ in results], "int64"),
            "ref_mismatches": np.array(summary.ref_mismatches, "int64"),
            "messages": np.array(summary.messages, dtype=str),
        }
        names = list(results[0][1]) if results else []
        arrays["score_names"] = np.array(names, dtype=str)
        for i, name in enumerate(names):
            arrays[f"score_{i}"] = np.stack([scores[name] for _, scores in results]).astype(np.float32)
        return arrays

    def _predict(self, intervals):
        from kipoi_genome.inference.regions import predict_regions

        results = list(predict_regions(self.model, self.fasta, intervals, progress=False, **self.options))
        names = list(results[0][1]) if results else []
        arrays = {"output_names": np.array(names, dtype=str)}
        for i, name in enumerate(names):
            arrays[f"output_{i}"] = np.stack([outputs[name] for _, outputs in results])
        return arrays


def _interval(record):
    chrom, start, end, name, strand, extra, source, line = record
    return Interval(chrom, start, end, name, strand, tuple(extra), source, line)


def write_shard(shard, arrays):
    """Writes one shard's arrays to its `.npz`, atomically (complete or absent)."""
    with atomic_output(shard.output, suffix=".npz") as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)


# Progress bars of in-process runs, by key: the write step runs in the same
# process and finds its bar; on a cluster worker the lookup finds none.
_PROGRESS_BARS = {}


def _write_result(keyed_result, bar_key):
    name, result = keyed_result
    write_shard(result.example, result.inference)
    bar = _PROGRESS_BARS.get(bar_key)
    if bar is not None:
        bar.update(1)
    return name


def _model_handler_class():
    from apache_beam.ml.inference.base import ModelHandler, PredictionResult

    class ShardModelHandler(ModelHandler):
        """A Beam `ModelHandler` whose model is a `ShardWorker` and examples are shards.

        One element is one whole shard (so RunInference's own batching is
        one element per call); the model batches inside the shard. Wrap it
        in `KeyedModelHandler` to carry shard names.

        Args:
            worker_args: dict of `ShardWorker` arguments.
            large_model: bool. Load one model per machine, shared by the
                worker processes (Beam's `share_model_across_processes`),
                instead of one per process.
        """

        def __init__(self, worker_args, large_model=False):
            super().__init__(max_batch_size=1, large_model=large_model)
            self._worker_args = dict(worker_args)

        def load_model(self):
            return ShardWorker(**self._worker_args)

        def run_inference(self, batch, model, inference_args=None):
            return [PredictionResult(shard, model.run(shard)) for shard in batch]

        def get_metrics_namespace(self):
            return "kipoi_genome"

    return ShardModelHandler


def pipeline_options(runner, beam_options=()):
    """Beam `PipelineOptions` for a CLI runner name and ``KEY=VALUE`` options.

    Args:
        runner: one of `RUNNERS`.
        beam_options: iterable of ``"KEY=VALUE"`` (or ``"KEY"`` for a flag);
            each becomes the Beam flag ``--KEY=VALUE``, so every standard
            Beam option (``project``, ``region``, ``temp_location``,
            ``sdk_container_image``, ``direct_num_workers``, ...) passes
            through.

    Returns:
        (runner object or runner name, PipelineOptions).
    """
    from apache_beam.options.pipeline_options import PipelineOptions

    if runner not in RUNNERS:
        raise ValueError(f"`runner` must be one of {sorted(RUNNERS)}. Received: runner={runner!r}")
    flags = []
    for option in beam_options:
        key = option.split("=", 1)[0].strip().lstrip("-")
        if not key or key == "runner":
            raise ValueError(
                f"--beam-option must be KEY=VALUE with a Beam option name (the runner is set by --runner). "
                f"Received: {option!r}"
            )
        flags.append("--" + option.strip().lstrip("-"))
    options = PipelineOptions(flags)
    if runner == "direct":
        # Beam's default DirectRunner first tries to download the Prism
        # binary; the in-process FnApiRunner needs nothing from outside.
        from apache_beam.runners.portability.fn_api_runner import FnApiRunner

        return FnApiRunner(), options
    return RUNNERS[runner], options


class _QuietBeam(logging.Filter):
    """Drops records that Beam's modules log on the root logger."""

    def filter(self, record):
        return f"{os.sep}apache_beam{os.sep}" not in record.pathname


def _root_error(error):
    # Beam re-raises a worker's exception with "[while running ...]" appended;
    # the original (with the one-line message) is the start of the chain.
    while error.__context__ is not None and error.__context__ is not error:
        error = error.__context__
    return error


def run_shards(shards, worker_args, runner="direct", beam_options=(), large_model=False, progress=True):
    """Runs the incomplete `shards` through RunInference and writes them.

    Args:
        shards: list of Shard.
        worker_args: dict of `ShardWorker` arguments.
        runner: one of `RUNNERS`.
        beam_options: ``KEY=VALUE`` Beam options (see `pipeline_options`).
        large_model: bool. Share one model per machine across processes.
        progress: show a progress bar over shards (in-process runs).

    Returns:
        PipelineReport.

    Raises:
        The worker's own error (e.g. `InputFileError`, `FileNotFoundError`)
        without Beam's decoration, for in-process runs; complete shards stay.
    """
    report = PipelineReport(list(shards))
    todo = [s for s in shards if not s.is_complete()]
    report.skipped = [s.name for s in shards if s.is_complete()]
    if not todo:
        return report
    import apache_beam as beam
    from apache_beam.ml.inference.base import KeyedModelHandler, RunInference

    runner_object, options = pipeline_options(runner, beam_options)
    handler = KeyedModelHandler(_model_handler_class()(worker_args, large_model=large_model))
    in_process = runner == "direct"
    bar = tqdm(total=len(shards), initial=len(report.skipped), unit="shard", desc="beam",
               disable=not (progress and in_process))

    bar_key = id(bar)
    _PROGRESS_BARS[bar_key] = bar

    beam_logger = logging.getLogger("apache_beam")
    level = beam_logger.level
    quiet = _QuietBeam()
    if in_process:
        # Worker errors are re-raised below as one line; Beam's own log lines
        # (some logged on the root logger) would come before it.
        beam_logger.setLevel(logging.CRITICAL)
        logging.getLogger().addFilter(quiet)
    try:
        pipeline = beam.Pipeline(runner=runner_object, options=options)
        _ = (
            pipeline
            | "Shards" >> beam.Create([(s.name, s) for s in todo], reshuffle=False)
            | "Incomplete" >> beam.Filter(lambda keyed: not keyed[1].is_complete())
            | "RunInference" >> RunInference(handler)
            | "WriteShards" >> beam.Map(_write_result, bar_key)
        )
        result = pipeline.run()
        result.wait_until_finish()
    except Exception as error:
        root = _root_error(error)
        if in_process and isinstance(root, (ValueError, FileNotFoundError, KeyError)):
            raise root from None
        raise
    finally:
        beam_logger.setLevel(level)
        logging.getLogger().removeFilter(quiet)
        _PROGRESS_BARS.pop(bar_key, None)
        bar.close()
    report.computed = [s.name for s in todo if s.is_complete()]
    return report


def _variant_description(model, fasta, vcfs, options, shard_size, precision, jit_compile):
    return {
        "task": "score-variants",
        "model": _model_identity(model),
        "fasta": _file_identity(fasta),
        "inputs": [_file_identity(v) for v in vcfs],
        "indexes": [_file_identity(vcf_index(v)) if vcf_index(v) else None for v in vcfs],
        "options": {k: list(v) if isinstance(v, tuple) else v for k, v in options.items() if k != "batch_size"},
        "precision": precision,
        "xla": jit_compile,
        "shard_size": shard_size,
        "layout": SHARD_LAYOUT,
    }


def run_variant_pipeline(
    model,
    fasta,
    vcfs,
    shard_dir,
    score="sum",
    shifts=(0,),
    reverse_complement=False,
    central_bins=None,
    batch_size=4,
    on_ref_mismatch="skip",
    precision="float32",
    jit_compile=False,
    shard_size=1000,
    runner="direct",
    beam_options=(),
    large_model=False,
    progress=True,
):
    """Scores the variants of one or more VCFs on Beam; see the module docstring.

    Args:
        model: preset name or `.keras` path (loaded on the workers).
        fasta: FASTA path.
        vcfs: a VCF path or a list of them (scored in order).
        shard_dir: folder of the shard manifests and results (reused by reruns).
        score, shifts, reverse_complement, central_bins, batch_size,
            on_ref_mismatch: as `kipoi_genome.interpret.score_variants`.
        precision: ``"float32"`` or ``"bfloat16"``.
        jit_compile: bool. XLA-compile the forward pass.
        shard_size: int. Variant alleles per shard.
        runner: one of `RUNNERS`.
        beam_options: ``KEY=VALUE`` Beam options.
        large_model: bool. One model per machine, shared by its processes.
        progress: progress bar over shards.

    Returns:
        PipelineReport. Read the results with `merge_variant_shards`.
    """
    if on_ref_mismatch not in ("skip", "error"):
        raise ValueError(f"`on_ref_mismatch` must be 'skip' or 'error'. Received: {on_ref_mismatch!r}")
    _check_model_name(model)
    _validate_shard_size(shard_size)
    vcfs = [os.fspath(vcfs)] if isinstance(vcfs, (str, os.PathLike)) else [os.fspath(v) for v in vcfs]
    fasta_path = fasta.path if isinstance(fasta, FastaExtractor) else os.fspath(fasta)
    options = {
        "score": score,
        "shifts": tuple(int(s) for s in shifts),
        "reverse_complement": bool(reverse_complement),
        "central_bins": central_bins,
        "batch_size": batch_size,
    }
    _check_run_file(
        shard_dir, _variant_description(model, fasta_path, vcfs, options, shard_size, precision, jit_compile)
    )
    shards = plan_variant_shards(
        vcfs, FastaExtractor(fasta_path), shard_dir, shard_size, check_ref=on_ref_mismatch == "error"
    )
    worker_args = {
        "task": "score-variants", "model": os.fspath(model), "fasta": fasta_path,
        "precision": precision, "jit_compile": jit_compile, "options": options,
    }
    return run_shards(shards, worker_args, runner, beam_options, large_model, progress)


def run_region_pipeline(
    model,
    fasta,
    intervals,
    shard_dir,
    batch_size=4,
    use_strand=False,
    precision="float32",
    jit_compile=False,
    shard_size=100,
    runner="direct",
    beam_options=(),
    large_model=False,
    progress=True,
    inputs=(),
):
    """Predicts for intervals on Beam; see the module docstring.

    Args:
        model: preset name or `.keras` path (loaded on the workers).
        fasta: FASTA path.
        intervals: list of Interval, checked against the FASTA here.
        shard_dir: folder of the shard manifests and results.
        batch_size, use_strand: as `predict_regions`.
        precision: ``"float32"`` or ``"bfloat16"``.
        jit_compile: bool. XLA-compile the forward pass.
        shard_size: int. Intervals per shard.
        runner, beam_options, large_model, progress: as `run_variant_pipeline`.
        inputs: paths the intervals came from (part of the run's identity,
            so a changed BED is not merged with old shards).

    Returns:
        PipelineReport. Read the results with `merge_region_shards`.
    """
    from kipoi_genome.data import check_intervals

    _check_model_name(model)
    _validate_shard_size(shard_size)
    fasta_path = fasta.path if isinstance(fasta, FastaExtractor) else os.fspath(fasta)
    intervals = list(intervals)
    check_intervals(intervals, FastaExtractor(fasta_path))
    digest = hashlib.sha256(
        "\n".join(f"{i.chrom}\t{i.start}\t{i.end}\t{i.name}\t{i.strand}" for i in intervals).encode()
    ).hexdigest()
    options = {"batch_size": batch_size, "use_strand": bool(use_strand)}
    _check_run_file(
        shard_dir,
        {
            "task": "predict",
            "model": _model_identity(model),
            "fasta": _file_identity(fasta_path),
            "inputs": [_file_identity(p) for p in inputs],
            "intervals_sha256": digest,
            "use_strand": bool(use_strand),
            "precision": precision,
            "xla": jit_compile,
            "shard_size": shard_size,
            "layout": SHARD_LAYOUT,
        },
    )
    shards = plan_region_shards(intervals, shard_dir, shard_size)
    worker_args = {
        "task": "predict", "model": os.fspath(model), "fasta": fasta_path,
        "precision": precision, "jit_compile": jit_compile, "options": options,
    }
    return run_shards(shards, worker_args, runner, beam_options, large_model, progress)


def run_tile_pipeline(
    model,
    fasta,
    contigs,
    span,
    shard_dir,
    batch_size=4,
    precision="float32",
    jit_compile=False,
    shard_size=100,
    runner="direct",
    beam_options=(),
    large_model=False,
    progress=True,
):
    """Predicts a whole-genome tiling on Beam (`kipoi_genome.inference.tiling`).

    Each shard is `shard_size` consecutive tiles of one contig; its worker
    builds the tiles from the shard's contig and start, so nothing is
    written before the run but the run file.

    Args:
        model: preset name or `.keras` path (loaded on the workers).
        fasta: FASTA path.
        contigs: list of (contig, length) to tile (`tiling.tile_contigs`).
        span: int. Output bp per tile (`tiling.tile_span` of the model).
        shard_dir: folder of the shard results.
        batch_size: tiles per forward pass.
        precision, jit_compile, shard_size, runner, beam_options,
            large_model, progress: as `run_region_pipeline`.

    Returns:
        PipelineReport. Read the results with `merge_region_shards`.
    """
    _check_model_name(model)
    _validate_shard_size(shard_size)
    fasta_path = fasta.path if isinstance(fasta, FastaExtractor) else os.fspath(fasta)
    _check_run_file(
        shard_dir,
        {
            "task": "predict-tiles",
            "model": _model_identity(model),
            "fasta": _file_identity(fasta_path),
            "contigs": [[chrom, int(length)] for chrom, length in contigs],
            "span": int(span),
            "precision": precision,
            "xla": jit_compile,
            "shard_size": shard_size,
            "layout": SHARD_LAYOUT,
        },
    )
    shards = plan_tile_shards(contigs, span, shard_dir, shard_size)
    worker_args = {
        "task": "predict", "model": os.fspath(model), "fasta": fasta_path,
        "precision": precision, "jit_compile": jit_compile,
        "options": {"batch_size": batch_size, "use_strand": False},
    }
    return run_shards(shards, worker_args, runner, beam_options, large_model, progress)


def _load_shard(shard):
    if not shard.is_complete():
        raise ValueError(f"{shard.output}: shard {shard.region} is not computed; rerun the pipeline to complete it")
    with np.load(shard.output) as data:
        return {key: data[key] for key in data.files}


def merge_variant_shards(shards, summary=None):
    """Yields `(VariantWindow, dict name -> float32 [tracks])` of all shards, in order.

    The windows carry the variant, its line and window start; their
    sequences are not stored (empty strings). Fills `summary` (a
    `ScoringSummary`) with the counts and first messages of all shards.

    Args:
        shards: list of Shard from `run_variant_pipeline`.
        summary: ScoringSummary or None.
    """
    for shard in shards:
        data = _load_shard(shard)
        names = [str(n) for n in data["score_names"]]
        source = str(data["source"])
        keys = zip(*(data[k].tolist() for k in ("chrom", "pos", "id", "ref", "alt", "line", "start")))
        for row, (chrom, pos, vid, ref, alt, line, start) in enumerate(keys):
            variant = Variant(chrom, pos, None if vid == "." else vid, ref, alt, source, None if line < 0 else line)
            scores = {name: data[f"score_{i}"][row] for i, name in enumerate(names)}
            if summary is not None:
                summary.scored += 1
            yield VariantWindow(variant, start, "", ""), scores
        if summary is not None:
            summary.ref_mismatches += int(data["ref_mismatches"])
            room = 20 - len(summary.messages)
            summary.messages += [str(m) for m in data["messages"][: max(room, 0)]]


def merge_region_shards(shards):
    """Yields `(Interval, dict name -> np.ndarray)` of all shards, in order."""
    for shard in shards:
        data = _load_shard(shard)
        intervals = _shard_intervals(shard)
        names = [str(n) for n in data["output_names"]]
        for row, interval in enumerate(intervals):
            yield interval, {name: data[f"output_{i}"][row] for i, name in enumerate(names)}


def print_report(report, shard_dir, stream=None):
    """One stderr line: shards computed now, reused, and where they are."""
    stream = stream or sys.stderr
    print(
        f"beam: {len(report.computed)} shard(s) computed, {len(report.skipped)} reused "
        f"of {len(report.shards)} in {shard_dir}",
        file=stream,
    )
