"""Size metrics of the package's Python modules, read with ``ast``.

Prints each module's line count, the kernel sources' line counts, the
longest Python functions (methods included) and the largest classes (lines
and methods).

    python tools/code_metrics.py [src/fastrnn] [--top 10]
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path


def functions(tree, module):
    """(lines, qualified name) of every function and method in tree."""
    found = []

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{prefix}{child.name}"
                found.append((child.end_lineno - child.lineno + 1, f"{module}:{name}"))
                visit(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
    visit(tree, "")
    return found


def classes(tree, module):
    """(lines, methods, name) of every top-level class in tree."""
    out = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            n_methods = sum(isinstance(c, (ast.FunctionDef, ast.AsyncFunctionDef))
                            for c in node.body)
            out.append((node.end_lineno - node.lineno + 1, n_methods,
                        f"{module}:{node.name}"))
    return out


def _generated(path):
    """True for a .pxi rendered from a .pxi.tp template beside it."""
    return path.suffix == ".pxi" and path.with_name(path.name + ".tp").exists()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", default="src/fastrnn")
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args(argv)
    funcs, classes_ = [], []
    print("module sizes (lines)")
    for path in sorted(Path(args.root).glob("*.py")):
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        print(f"  {path.name:<20} {len(text.splitlines()):>5}")
        funcs += functions(tree, path.stem)
        classes_ += classes(tree, path.stem)
    print("\nkernel sources (lines; generated files left out)")
    for path in sorted(Path(args.root).iterdir()):
        if path.name.endswith((".pyx", ".pxd", ".pxi", ".pxi.tp")) and not _generated(path):
            n = len(path.read_text(encoding="utf-8").splitlines())
            print(f"  {path.name:<24} {n:>5}")
    print(f"\n{args.top} longest functions (lines)")
    for n, name in sorted(funcs, reverse=True)[: args.top]:
        print(f"  {n:>5}  {name}")
    print("\nlargest classes (lines, methods)")
    for n, m, name in sorted(classes_, reverse=True)[:3]:
        print(f"  {n:>5} {m:>4}  {name}")


if __name__ == "__main__":
    main()
