"""The package's import graph flows one way: each module imports only modules above it."""

import ast
from pathlib import Path

import melodyrnn

PKG = Path(melodyrnn.__file__).parent

# upstream first; a module may import only modules listed before it
ORDER = [
    "melodyrnn", "atomic", "inputs", "vocab",
    "notes", "midi_scan", "midi_io", "quantize", "keys", "copies", "structure", "tracks", "seeds",
    "encodings.base", "encodings.melody", "encodings.performance", "encodings.text",
    "encodings.registry",
    "encodings",
    "dataset",
    "ingest_worker", "ingest_cache", "ingest_pool", "ingest", "shards",
    "models.plugins", "models.config", "models.elman", "models.attention", "models.barcopy",
    "models.network", "models", "checkpoint", "batching", "metrics", "scoring", "finetune", "trainer",
    "classifier", "sampling", "beam",
    "continuation", "loading", "text", "tasks", "labels", "render", "compose", "settings",
    "features", "sample_eval", "continuations", "report", "stages", "pipeline", "live", "live_ports",
    "cli_common", "cli_batch", "cli_live", "cli_generate", "cli", "__main__",
]
# the sequence core works on ints and must not know about music
CORE = {"atomic", "inputs", "vocab", "dataset", "models.plugins", "models.config", "models.elman",
        "models.attention",
        "models.barcopy", "models.network", "models", "checkpoint", "batching", "metrics", "scoring",
        "finetune", "trainer",
        "classifier",
        "sampling", "beam", "continuation"}
MUSIC = {"render", "notes", "midi_scan", "midi_io", "keys", "tracks", "seeds", "copies", "structure",
         "quantize", "encodings", "encodings.base", "encodings.melody",
         "encodings.performance", "encodings.registry", "ingest", "ingest_worker",
         "ingest_cache", "ingest_pool", "shards", "features", "sample_eval"}


def test_models_know_only_ids():
    for path in all_modules():
        if module_name(path).startswith("models"):
            assert internal_imports(path) <= {"models.plugins", "models.config", "models.elman",
                                              "models.attention", "models.barcopy",
                                              "models.network"}, path


def module_name(path: Path) -> str:
    rel = path.relative_to(PKG).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) or "melodyrnn"


def internal_imports(path: Path) -> set[str]:
    """Package-internal modules imported by the file (relative or absolute)."""
    name = module_name(path)
    package = name.split(".")[:-1] if path.name != "__init__.py" else name.split(".")
    if name == "melodyrnn":
        package = []
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.startswith("melodyrnn"):
                target = node.module[len("melodyrnn."):] if node.module != "melodyrnn" else ""
            else:
                continue
            found.add(target or "melodyrnn")
            if not node.module:  # from . import x  -> x may be a module
                for alias in node.names:
                    sub = ".".join(filter(None, [target, alias.name]))
                    if sub in ORDER:
                        found.add(sub)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("melodyrnn."):
                    found.add(alias.name[len("melodyrnn."):])
    return found


def all_modules():
    return sorted(PKG.rglob("*.py"))


def test_every_module_is_ranked():
    missing = [module_name(p) for p in all_modules() if module_name(p) not in ORDER]
    assert not missing, f"add these modules to ORDER in tests/test_layering.py: {missing}"


def test_imports_flow_one_way():
    bad = []
    for path in all_modules():
        name = module_name(path)
        for target in internal_imports(path):
            if target not in ORDER:
                bad.append(f"{name} imports unknown {target}")
            elif ORDER.index(target) >= ORDER.index(name) and target != "melodyrnn":
                bad.append(f"{name} imports downstream {target}")
    assert not bad, bad


def test_sequence_core_knows_no_music():
    for path in all_modules():
        name = module_name(path)
        if name in CORE:
            assert not internal_imports(path) & MUSIC, name


def test_only_midi_io_imports_the_midi_library():
    """midi_io owns MIDI files; live_ports owns real-time MIDI ports (mido + rtmidi)."""
    for path in all_modules():
        text = path.read_text()
        uses = any(f"import {lib}" in text or f"from {lib}" in text
                   for lib in ("symusic", "pretty_midi", "mido"))
        assert uses == (module_name(path) in ("midi_io", "live_ports")), module_name(path)


def test_modules_stay_small():
    long = {module_name(p): n for p in all_modules()
            if (n := len(p.read_text().splitlines())) > 400}
    assert not long, long


def test_dir_lists_the_public_api():
    import melodyrnn as mr

    names = dir(mr)
    assert {"generate", "train", "read_midi", "load_checkpoint", "__version__"} <= set(names)
    assert all(hasattr(mr, n) for n in ("generate", "TrainConfig", "Tune"))
