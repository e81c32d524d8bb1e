"""The shape of harness/: stages that import only the stages below them, and a package quiet to import."""

import ast
import os
import subprocess
import sys
from pathlib import Path

HARNESS = Path(__file__).resolve().parents[2] / "harness"
# Bottom to top: a module may import its own stage and the stages before it, never one after it.
LAYERS = ["schema", "errors", "machine", "plan", "measure", "store", "analyse", "sweep", "present", "cli"]


def _stage(module: str) -> str:
    return module.split(".")[1] if "." in module else module


def _imports() -> dict[str, set[str]]:
    """harness module -> harness modules it imports (top level and inside functions)."""
    graph = {}
    for path in HARNESS.rglob("*.py"):
        parts = path.relative_to(HARNESS.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if target.startswith("harness"):
                    found.add(target)
                    found.update(f"{target}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith("harness"))
        modules = {m for m in found if (HARNESS.parent / m.replace(".", "/")).with_suffix(".py").exists()
                   or (HARNESS.parent / m.replace(".", "/") / "__init__.py").exists()}
        graph[module] = modules - {module}
    return graph


def test_each_stage_imports_only_the_stages_below_it():
    wrong = []
    for module, targets in _imports().items():
        if module == "harness" or _stage(module) == "__main__":
            continue
        own = LAYERS.index(_stage(module))
        for target in targets:
            if target != "harness" and LAYERS.index(_stage(target)) > own:
                wrong.append(f"{module} imports {target}")
    assert not wrong, wrong


def test_every_stage_is_in_the_layer_list():
    stages = {p.stem for p in HARNESS.glob("*.py")} | {p.parent.name for p in HARNESS.glob("*/__init__.py")}
    assert stages - {"__init__", "__main__"} == set(LAYERS)


def test_the_import_graph_has_no_cycle():
    graph = _imports()
    state: dict[str, int] = {}

    def visit(node, trail):
        state[node] = 1
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                raise AssertionError(" -> ".join([*trail, node, nxt]))
            if nxt in graph and not state.get(nxt):
                visit(nxt, [*trail, node])
        state[node] = 2

    for node in graph:
        if not state.get(node):
            visit(node, [])


def test_no_contract_probing_in_the_harness():
    for path in HARNESS.rglob("*.py"):
        text = path.read_text()
        assert "hasattr(" not in text and "getattr(" not in text.replace("__getattr__", ""), path


def test_importing_the_packages_changes_nothing_in_the_process():
    code = (
        "import os, matplotlib\n"
        "matplotlib.use('svg')\n"
        "before = dict(os.environ)\n"
        "import harness, kernels\n"
        "harness.run_sweep, harness.plot_all, harness.load_results  # the lazy names load their stages\n"
        "import harness.cli, harness.present.plots, harness.sweep.orchestrate\n"
        "assert matplotlib.get_backend() == 'svg', matplotlib.get_backend()\n"
        "assert dict(os.environ) == before, set(os.environ.items()) ^ set(before.items())\n"
        "import sys; assert 'matplotlib.pyplot' not in sys.modules\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OPENBLAS_THREAD_TIMEOUT")}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=HARNESS.parent)


def test_the_facade_loads_its_names_lazily():
    code = (
        "import sys, harness\n"
        "assert not [m for m in sys.modules if m.startswith('harness.')], sorted(sys.modules)\n"
        "assert harness.load_results.__module__ == 'harness.store.tables'\n"
        "assert set(harness.__all__) <= set(dir(harness))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=HARNESS.parent)
