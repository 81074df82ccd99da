"""The layer rule of docs/architecture.md, checked on the code: a module imports only its own layer and the layers
below it. Every import counts, the ones inside functions too (a lazy import is still a dependency)."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "platform" / "lakehouse"

# Bottom to top; a name is a top-level module or package of lakehouse. Names on one line are one layer.
LAYERS = [
    ("errors", "timing", "secrets"),
    ("config", "console"),
    ("model",),  # the table model: spec, declarations, partitions, metadata keys
    ("engine",),
    ("storage",),
    ("catalog", "quality"),
    ("ingest",),  # the landing zone, the readers, database and Kafka extraction
    ("resources",),
    ("domains",),
    ("pipeline",),  # the asset factory, the model and quality steps, readiness, the registry of domains
    ("jobs", "runs", "summary"),
    ("automation",),  # sensors, schedules, maintenance
    ("definitions",),
    ("query",),
    ("dev",),
    ("service",),
    ("cli",),
]

# The model is the leaf: besides itself, only these.
MODEL_MAY_IMPORT = {"config", "errors"}

# True entry points only: a `python -m` module that hands its work to a layer above it.
ENTRY_POINTS = {
    ("lakehouse.service.__main__", "lakehouse.cli"),  # `python -m lakehouse.service` is `lakehouse serve`
}


def _layer_of() -> dict[str, int]:
    return {name: i for i, names in enumerate(LAYERS) for name in names}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every lakehouse module `path` imports (a `from x import y` counts as x)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                found.add(".".join(base + ([node.module] if node.module else [])))
            elif node.module:
                found.add(node.module)
    return {name for name in found if name == "lakehouse" or name.startswith("lakehouse.")}


def _top(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def upward_imports() -> list[str]:
    layer = _layer_of()
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        own = _top(module)
        if own is None:
            continue
        if own not in layer:
            problems.append(f"{module}: {own} is in no layer of LAYERS (add it where it belongs)")
            continue
        for imported in sorted(_imports(path)):
            theirs = _top(imported)
            if theirs is None or theirs == own or (module, imported) in ENTRY_POINTS:
                continue
            if theirs not in layer:
                problems.append(f"{module} imports {imported}: {theirs} is in no layer of LAYERS")
            elif layer[theirs] > layer[own]:
                problems.append(f"{module} imports {imported}: {own} (layer {layer[own]}) is below {theirs} "
                                f"(layer {layer[theirs]})")
            elif own == "model" and theirs not in MODEL_MAY_IMPORT:
                problems.append(f"{module} imports {imported}: the model imports nothing of ours but "
                                f"{', '.join(sorted(MODEL_MAY_IMPORT))}")
    return problems


def test_every_import_points_down_or_sideways():
    problems = upward_imports()
    assert not problems, "imports against the layer rule (docs/architecture.md):\n" + "\n".join(problems)


def test_every_top_level_module_has_a_layer():
    names = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
             if (p.suffix == ".py" and p.stem != "__init__") or (p.is_dir() and (p / "__init__.py").exists())}
    assert names <= set(_layer_of()), f"not in LAYERS: {sorted(names - set(_layer_of()))}"


def test_the_entry_point_exceptions_are_still_needed():
    """An exception that no import uses any more is taken out, so the list never hides a new upward import."""
    used = {(module, imported) for module, imported in ENTRY_POINTS
            if imported in _imports(PACKAGE.parent / (module.replace(".", "/") + ".py"))}
    assert used == ENTRY_POINTS, f"unused exceptions: {sorted(ENTRY_POINTS - used)}"
