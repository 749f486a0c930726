"""The package tree is the pipeline: a module imports only from the layers below its own.

Read from the source, every import counted (module level, inside functions, and for type
checking only), so a new import that reaches up a layer fails here, with the line to look at.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "assistant"

#: Lowest first. A module may import from lower layers and from its own sub-package; two parts of
#: one layer stay independent (ingest writes the index, retrieval reads it: neither needs the other).
LAYERS: list[set[str]] = [
    {"text"},  # primitives: sentences, tokens, bullets, number words
    {"models", "errors", "settings", "topics"},  # the values that cross stages, and configuration
    {"embed", "places", "render", "events"},  # the model; the gazetteer; how values read in a terminal;
    # an answer as a stream of typed events (app, API)
    {"index"},  # Chroma generations, the word index, the serving generation in memory
    {"ingest", "retrieval"},  # the two pipelines over the index
    {"answers"},  # guard, scoring, gate, composers
    {"pipeline"},  # Assistant: the one place that orders the stages
    {"evaluation", "feedback"},  # measuring Assistant on question sets; what users thought of answers
    {"cli", "langchain", "api", "__init__"},  # the faces (the HTTP API among them)
]


def part_of(module: str) -> str:
    """ "assistant.retrieval.search" -> "retrieval"; "assistant" -> "__init__"."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def layer_of(part: str) -> int:
    found = [i for i, layer in enumerate(LAYERS) if part in layer]
    assert found, f"assistant/{part} belongs to no layer: add it to LAYERS in {__file__}"
    return found[0]


def modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(relative.parts)
        out.append((name.removesuffix(".__init__"), path))
    return out


def imports(module: str, path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import of the package in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target == "assistant" or target.startswith("assistant."):
                names = [f"{target}.{a.name}" for a in node.names] if target.count(".") == 0 else [target]
                found += [(node.lineno, n) for n in names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("assistant")]
    return found


@pytest.mark.parametrize("module,path", modules(), ids=[m for m, _ in modules()])
def test_no_module_imports_from_a_layer_above_its_own(module: str, path: Path) -> None:
    own = part_of(module)
    mine = layer_of(own)
    for line, target in imports(module, path):
        theirs = part_of(target)
        if theirs == own:
            continue
        assert layer_of(theirs) < mine, (
            f"{path.relative_to(PACKAGE.parent)}:{line} imports {target} (layer {layer_of(theirs)}: "
            f"{sorted(LAYERS[layer_of(theirs)])}) from layer {mine} ({sorted(LAYERS[mine])})")


def test_every_part_of_the_package_has_a_layer() -> None:
    parts = {part_of(m) for m, _ in modules()}
    assert parts == set().union(*LAYERS)


@pytest.mark.parametrize("source,reason", [
    ("from ..pipeline import Assistant\n", "an upward import"),
    ("from ..retrieval.search import search\n", "a sibling of the same layer"),
])
def test_the_check_catches_what_it_is_for(tmp_path: Path, source: str, reason: str) -> None:
    """The contract is not vacuous: an import reaching up, or across to the other pipeline, is found."""
    path = tmp_path / "build.py"
    path.write_text(source, encoding="utf-8")
    ((_, target),) = imports("assistant.ingest.build", path)
    assert part_of(target) != "ingest" and layer_of(part_of(target)) >= layer_of("ingest"), reason
