"""The import direction of docs/architecture.md holds for every module of the package.

The allowed-direction table is read from docs/architecture.md itself (the
"Rooms" table, last column), so the document and the check cannot drift
apart. Every import is found with `ast`, module-level and inside functions,
absolute and relative; no module is imported.
"""

import ast
import collections
import pathlib
import re

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = REPO / "kipoi_genome"
ARCHITECTURE = REPO / "docs" / "architecture.md"
PACKAGE_ROOM = "kipoi_genome"

# File names that two rooms share on purpose, with the reason (docs/architecture.md).
SHARED_FILE_NAMES = {
    "genes.py": {"data/genes.py", "inference/genes.py"},  # gene annotations vs gene-level predictions
}

Import = collections.namedtuple("Import", "path line module target")


def allowed_table(text):
    """`{room: set of rooms it may import}` from the Rooms table of docs/architecture.md."""
    table = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        room = re.match(r"`([a-z_]+)`", cells[0]).group(1)
        if cells[2] == "every room":
            table[room] = None
        else:
            table[room] = set(re.findall(r"`([a-z_]+)`", cells[2]))
    return table


def module_name(path):
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(source, module, is_package, path="<string>"):
    """Every `kipoi_genome` import in `source`, at any depth, as `Import`s.

    `from kipoi_genome.x import y` gives target `kipoi_genome.x.y` (y may be
    a module or a name: only the room matters); relative imports are resolved
    against `module`.
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found += [Import(path, node.lineno, module, t) for t in targets if t.split(".")[0] == PACKAGE_ROOM]
    return found


def room_of(name):
    """`kipoi_genome.models.enformer` -> `models`; `kipoi_genome.__version__` -> `version`."""
    parts = name.split(".")
    if len(parts) == 1:
        return PACKAGE_ROOM
    return "version" if parts[1] == "__version__" else parts[1]


def package_imports():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_name(path)
        found += imports_of(path.read_text(), module, path.name == "__init__.py", path.relative_to(REPO))
    return found


def violations(imports, table):
    bad = []
    for item in imports:
        source, target = room_of(item.module), room_of(item.target)
        allowed = table.get(source, set())
        if source == target or allowed is None:
            continue
        if target not in allowed:
            bad.append(
                f"{item.path}:{item.line}: {item.module} imports {item.target} "
                f"({source} -> {target} is not in the table of docs/architecture.md)"
            )
    return bad


@pytest.fixture(scope="module")
def table():
    return allowed_table(ARCHITECTURE.read_text())


def test_the_table_names_every_room_of_the_package(table):
    rooms = {path.stem for path in PACKAGE.glob("*.py") if path.name != "__init__.py"}
    rooms |= {path.parent.name for path in PACKAGE.glob("*/__init__.py")}
    rooms.add(PACKAGE_ROOM)
    assert rooms == set(table), (
        f"rooms without a row in docs/architecture.md: {sorted(rooms - set(table))}; "
        f"rows without a room: {sorted(set(table) - rooms)}"
    )
    assert table["cli"] is None and table["utils"] == set() and "cli" not in set().union(
        *(allowed for allowed in table.values() if allowed is not None)
    )


def test_imports_follow_the_architecture_table(table):
    imports = package_imports()
    assert len(imports) > 300  # the walk sees the package (function-level imports included)
    bad = violations(imports, table)
    assert not bad, "imports against docs/architecture.md:\n" + "\n".join(bad)


def test_the_rules_the_issue_names(table):
    """The direction rules stated in docs/architecture.md, read from its table."""
    assert "layers" in table["models"] and "models" not in table["layers"]
    assert not {"tokenizers", "layers", "models"} & table["data"]
    for room in ("training", "convert", "export", "inference", "interpret"):
        assert "models" in table[room], room
        assert room not in table["models"], room
    assert "inference" not in table["export"]


def test_the_walk_finds_nested_and_relative_imports(table):
    """The checker fails on a function-level or relative import against the table."""
    source = (
        "import os\n"
        "from kipoi_genome.utils import atomic\n"
        "def f():\n"
        "    if True:\n"
        "        from kipoi_genome.tokenizers import KmerTokenizer\n"
        "class C:\n"
        "    def g(self):\n"
        "        from ..models import Enformer\n"
        "        import kipoi_genome.cli.main\n"
    )
    found = imports_of(source, "kipoi_genome.data.reader", is_package=False, path="data/reader.py")
    assert [(i.line, i.target) for i in found] == [
        (2, "kipoi_genome.utils.atomic"),
        (5, "kipoi_genome.tokenizers.KmerTokenizer"),
        (8, "kipoi_genome.models.Enformer"),
        (9, "kipoi_genome.cli.main"),
    ]
    bad = violations(found, table)
    assert len(bad) == 3
    assert bad[0] == (
        "data/reader.py:5: kipoi_genome.data.reader imports kipoi_genome.tokenizers.KmerTokenizer "
        "(data -> tokenizers is not in the table of docs/architecture.md)"
    )
    assert "data -> models" in bad[1] and "data -> cli" in bad[2]


def test_file_names_are_unique_outside_cli():
    """No two modules share a file name (cli/ modules are named after their commands)."""
    by_name = collections.defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        if path.name != "__init__.py" and relative.parts[0] != "cli":
            by_name[path.name].add(relative.as_posix())
    shared = {name: paths for name, paths in by_name.items() if len(paths) > 1}
    assert shared == SHARED_FILE_NAMES, f"file names used twice: {shared}"
    assert "kipoi_dataloaders.py" not in by_name  # data/kipoi_datasets.py, export/kipoi/dataloaders.py
