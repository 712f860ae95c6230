"""The package's layout is its architecture: layer packages with rules, one-way imports.

Each layer package may import only the layers its rule lists (the core knows no music or
text; music and text know only the core and themselves...), and inside the whole package
every module imports only modules ranked above it. ``from melodyrnn import NAME`` counts as
importing the module the public API table maps ``NAME`` to, so it is no loophole.
"""

import ast
from pathlib import Path

import melodyrnn

PKG = Path(melodyrnn.__file__).parent

#: layer -> the layers it may import (itself included); "melodyrnn" is the top-level glue
RULES = {
    "core": {"core"},
    "music": {"core", "music"},
    "text": {"core", "text"},
    "settings": {"core", "music", "text", "settings"},
    "pipeline": {"core", "music", "text", "settings", "pipeline"},
    "live": {"core", "music", "settings", "live"},
    "studio": {"core", "music", "settings", "studio"},
    "cli": {"core", "music", "text", "settings", "pipeline", "live", "studio", "cli"},
    "melodyrnn": {"melodyrnn", "core", "cli"},
}

# upstream first; a module may import only modules listed before it
ORDER = [
    "core.install", "melodyrnn",
    "core", "core.atomic", "core.inputs", "core.vocab", "core.dataset", "core.encoding",
    "core.registry", "core.models.plugins", "core.models.config", "core.models.layout",
    "core.models.form", "core.models.elman",
    "core.models.attention", "core.models.barcopy", "core.models.network",
    "core.models.numpy_net", "core.models", "core.ptfile", "core.checkpoint", "core.loading",
    "core.batching", "core.metrics", "core.scoring",
    "core.finetune", "core.distributed", "core.resume", "core.trainer", "core.classifier", "core.sampling", "core.beam",
    "core.rules", "core.continuation", "core.form_bars", "core.form_policy", "core.form_fit",
    "core.form_bias",
    "core.shards", "core.tasks", "core.labels",
    "music", "music.limits", "music.notes", "music.midi_scan", "music.midi_io", "music.quantize", "music.keys",
    "music.copies", "music.structure", "music.tracks", "music.seeds",
    "music.ingest", "music.ingest.worker", "music.ingest.files", "music.ingest.cache",
    "music.ingest.pool", "music.ingest.build",
    "music.encodings.base", "music.encodings.melody", "music.encodings.performance",
    "music.encodings.chorale",
    "music.encodings", "music.render", "music.outputs", "music.generated", "music.counterpoint",
    "music.voices",
    "music.compose", "music.features", "music.critic",
    "music.sample_eval", "music.continuations", "music.form_calibration", "music.voice_leading",
    "text", "text.files", "text.encodings", "text.corpus",
    "settings",
    "pipeline", "pipeline.report", "pipeline.stages", "pipeline.plan",
    "live", "live.engine", "live.ports", "live.jack",
    "studio", "studio.guard", "studio.forms", "studio.outputs", "studio.session", "studio.app", "studio.server",
    "cli.common", "cli.batch", "cli.live", "cli.studio", "cli.generate", "cli.main", "cli", "__main__",
]


def layer(module: str) -> str:
    top = module.split(".")[0]
    return top if top in RULES else "melodyrnn"


def module_name(path: Path, root: Path = PKG) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) or "melodyrnn"


def internal_imports(path: Path, root: Path = PKG, api: dict | None = None) -> set[str]:
    """Package-internal modules imported by the file (relative or absolute); a name taken
    from the package itself resolves through the public API table ``api``."""
    api = melodyrnn._API if api is None else api
    name = module_name(path, root)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    if name == "melodyrnn":
        package = []
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and (node.module == "melodyrnn" or node.module.startswith("melodyrnn.")):
                target = node.module[len("melodyrnn."):] if node.module != "melodyrnn" else ""
            else:
                continue
            for alias in node.names:
                sub = ".".join(filter(None, [target, alias.name]))
                if sub in ORDER or (root / sub.replace(".", "/")).exists() \
                        or (root / (sub.replace(".", "/") + ".py")).exists():
                    found.add(sub)  # from PACKAGE import MODULE
                elif not target and alias.name in api:
                    found.add(api[alias.name])  # from melodyrnn import PUBLIC_NAME
                else:
                    found.add(target or "melodyrnn")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("melodyrnn."):
                    found.add(alias.name[len("melodyrnn."):])
    return found


def all_modules(root: Path = PKG):
    return sorted(root.rglob("*.py"))


def violations(root: Path = PKG, api: dict | None = None) -> list[str]:
    """Every import that breaks a layer rule or the one-way order."""
    bad = []
    for path in all_modules(root):
        name = module_name(path, root)
        for target in internal_imports(path, root, api):
            if layer(target) not in RULES[layer(name)]:
                bad.append(f"{name} ({layer(name)}) may not import {target} ({layer(target)})")
            elif target not in ORDER or name not in ORDER:
                bad.append(f"{name} imports {target}: rank both in ORDER")
            elif ORDER.index(target) >= ORDER.index(name):
                bad.append(f"{name} imports downstream {target}")
    return bad


def test_every_module_is_ranked():
    missing = [module_name(p) for p in all_modules() if module_name(p) not in ORDER]
    assert not missing, f"add these modules to ORDER in tests/test_layering.py: {missing}"


def test_layers_keep_their_rules_and_imports_flow_one_way():
    assert violations() == []


def test_a_planted_violation_is_caught(tmp_path):
    """The rules can fail: a copy of the package with the core importing music, one
    using the public API table to reach music through ``from melodyrnn import``, and one
    importing the top package itself."""
    import shutil

    root = tmp_path / "melodyrnn"
    shutil.copytree(PKG, root, ignore=shutil.ignore_patterns("assets", "__pycache__"))
    vocab = root / "core" / "vocab.py"
    vocab.write_text(vocab.read_text() + "\nfrom melodyrnn.music.notes import Tune\n")
    sampling = root / "core" / "sampling.py"
    sampling.write_text(sampling.read_text() + "\nfrom melodyrnn import read_midi\n")
    trainer = root / "core" / "trainer.py"
    trainer.write_text(trainer.read_text() + "\nfrom melodyrnn.core import tasks\n")
    rules = root / "core" / "rules.py"  # the version lives in core.install, not the top package
    rules.write_text(rules.read_text() + "\nfrom melodyrnn import __version__\n")
    found = violations(root)
    assert "core.vocab (core) may not import music.notes (music)" in found
    assert "core.sampling (core) may not import music.midi_io (music)" in found
    assert "core.trainer imports downstream core.tasks" in found
    assert "core.rules (core) may not import melodyrnn (melodyrnn)" in found
    assert len(found) == 4


def test_models_know_only_ids():
    for path in all_modules():
        if module_name(path).startswith("core.models"):
            assert all(t.startswith("core.models") for t in internal_imports(path)), path


def test_only_midi_io_and_live_ports_import_a_midi_library():
    """music.midi_io owns MIDI files; live.ports owns real-time MIDI ports (mido + rtmidi)."""
    for path in all_modules():
        text = path.read_text()
        uses = any(f"import {lib}" in text or f"from {lib}" in text
                   for lib in ("symusic", "pretty_midi", "mido"))
        assert uses == (module_name(path) in ("music.midi_io", "live.ports")), module_name(path)


def test_modules_stay_small():
    long = {module_name(p): n for p in all_modules()
            if (n := len(p.read_text().splitlines())) > 400}
    assert not long, long


def test_every_layer_package_says_what_it_owns_and_may_import():
    for name in ("core", "music", "text", "pipeline", "live", "cli"):
        doc = ast.get_docstring(ast.parse((PKG / name / "__init__.py").read_text()))
        assert doc and len(doc) > 80, name


def test_dir_lists_the_public_api():
    import melodyrnn as mr

    names = dir(mr)
    assert {"generate", "train", "read_midi", "load_checkpoint", "__version__"} <= set(names)
    assert all(hasattr(mr, n) for n in mr._API)  # every table entry resolves
