"""How the AST checks of the layers read an import (tests/test_layering.py,
tests/test_architecture.py): nothing is imported, relative imports are resolved."""

import ast


def from_module(node: ast.ImportFrom, package: str) -> str:
    """The module a ``from ... import`` statement reads, relative dots resolved against
    ``package`` (the importing module's package)."""
    if not node.level:
        return node.module or ""
    base = package.split(".")
    base = base[: len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))
