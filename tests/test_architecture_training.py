"""`kipoi_genome.training` reads no data file and holds no command-line script (issue 17).

Every training input is built by `kipoi_genome.data`; a module under
`training/` may call data's dataset builders (`read_contig`,
`tfrecord_streams`, `read_sequence_table`, ...) but never opens a FASTA,
BED, VCF, bigWig or TFRecord file itself: no file-format library, no
TFRecord reader, no table reader, no read-mode `open()`, and no use of
data's per-format readers (`FastaExtractor`, `iter_bed`, ...). The check
walks each module's syntax tree, so it sees calls and imports, not words in
docstrings.
"""

import ast
import pathlib

import pytest

import kipoi_genome

TRAINING = pathlib.Path(kipoi_genome.__file__).parent / "training"

# Libraries that open genomic or compressed files.
FILE_LIBRARIES = {"gzip", "bz2", "lzma", "pyfaidx", "cyvcf2", "pysam", "pyBigWig", "h5py", "Bio"}
# Attribute calls that read files: tf.data.TFRecordDataset, tf.io.tf_record_iterator,
# tf.io.gfile.GFile, pandas.read_csv, numpy.loadtxt, ...
READING_ATTRIBUTES = {
    "TFRecordDataset", "tf_record_iterator", "TFRecordWriter", "GFile", "read_csv", "read_table",
    "read_parquet", "read_hdf", "loadtxt", "genfromtxt", "fromfile", "load",
}
# data's per-format readers: training gets datasets from data's builders instead.
DATA_READERS = {
    "FastaExtractor", "iter_bed", "read_bed", "iter_vcf", "read_vcf", "read_tfrecords", "BigWigTargets",
    "BedTargets", "open_text", "iter_lines", "read_genes", "iter_gff",
}
# Read-mode open() of files that are not data, with the reason.
ALLOWED_OPEN = {
    "config.py": "the run's YAML config (load_config)",
    "logo_tasks.py": "the trainer's own train_log.jsonl, turned into log.csv",
}
# Modules another developer is moving into data/ (issue 21); empty once they have moved.
EXPECTED_TO_MOVE = {}  # genome_data.py and longrange_data.py moved their reading to data/ (B, 7b7c0b4)


def _open_mode(call):
    if len(call.args) > 1 and isinstance(call.args[1], ast.Constant):
        return call.args[1].value
    for keyword in call.keywords:
        if keyword.arg == "mode" and isinstance(keyword.value, ast.Constant):
            return keyword.value.value
    return "r"


def file_reads(path):
    """`(line, what)` of every file-reading import or call in a module."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in FILE_LIBRARIES:
                    found.append((node.lineno, f"import {alias.name}"))
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if module.split(".")[0] in FILE_LIBRARIES:
                found.append((node.lineno, f"from {module} import ..."))
            for alias in node.names:
                if alias.name in DATA_READERS or alias.name in READING_ATTRIBUTES:
                    found.append((node.lineno, f"from {module} import {alias.name}"))
        elif isinstance(node, ast.Attribute) and node.attr in DATA_READERS | READING_ATTRIBUTES:
            if node.attr == "load" and not (isinstance(node.value, ast.Name) and node.value.id in ("np", "numpy")):
                continue  # json.load of an open handle is caught at the open()
            found.append((node.lineno, f".{node.attr}"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id == "open" and "r" in str(_open_mode(node)) and path.name not in ALLOWED_OPEN:
                found.append((node.lineno, "open(..., 'r')"))
            elif node.func.id in DATA_READERS:
                found.append((node.lineno, f"{node.func.id}(...)"))
    return found


def _has_main(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    imports_argparse = any(
        isinstance(node, (ast.Import, ast.ImportFrom))
        and any(alias.name == "argparse" for alias in node.names) or getattr(node, "module", None) == "argparse"
        for node in ast.walk(tree)
    )
    defines_main = any(isinstance(node, ast.FunctionDef) and node.name == "main" for node in tree.body)
    return imports_argparse or defines_main


def test_the_checker_sees_file_reads(tmp_path):
    module = tmp_path / "reader.py"
    module.write_text(
        "import gzip\nimport tensorflow as tf\nfrom kipoi_genome.data import FastaExtractor, iter_bed\n"
        "def f(p):\n"
        "    with open(p) as h:\n        pass\n"
        "    with open(p, 'w') as h:\n        pass\n"
        "    tf.data.TFRecordDataset([p])\n"
        "    \"\"\"open( in a docstring does not count\"\"\"\n"
    )
    assert sorted(file_reads(module)) == [
        (1, "import gzip"),
        (3, "from kipoi_genome.data import FastaExtractor"),
        (3, "from kipoi_genome.data import iter_bed"),
        (5, "open(..., 'r')"),
        (9, ".TFRecordDataset"),
    ]


def test_no_module_under_training_opens_a_data_file():
    offenders = {}
    for path in sorted(TRAINING.glob("*.py")):
        reads = file_reads(path)
        if reads and path.name not in EXPECTED_TO_MOVE:
            offenders[path.name] = reads
    assert not offenders, (
        "training/ modules reading files (move the reading into kipoi_genome/data): "
        + "; ".join(f"{name}: " + ", ".join(f"line {line} {what}" for line, what in reads)
                    for name, reads in offenders.items())
    )


@pytest.mark.parametrize("name", sorted(EXPECTED_TO_MOVE))
def test_modules_expected_to_move_still_read_files(name):
    # Keeps the exemption list honest: once a module has moved or no longer reads files, drop it.
    path = TRAINING / name
    assert path.exists() and file_reads(path), f"training/{name} has moved or reads no file: remove it from EXPECTED_TO_MOVE"


def test_training_holds_no_command_line_scripts():
    scripts = [path.name for path in sorted(TRAINING.glob("*.py")) if _has_main(path)]
    assert not scripts, f"argparse / main() under training/ (entry points belong in kipoi_genome/cli): {scripts}"
