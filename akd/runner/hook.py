"""Import hook: user modules are compiled with every call inside a function rewritten.

``f(a, k=b)`` inside any function body (methods, lambdas and nested functions too)
becomes ``_akd_call(f, a, k=b)``. Module-level code, decorators and default values
run at import time and are left alone; so are ``super()``, ``locals()`` and other
builtins that need the caller's frame.
"""

from __future__ import annotations

import ast
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Callable, Sequence
from types import CodeType, ModuleType
from typing import Any

from akd.runner.purity import FRAME_BUILTINS

CALL_NAME = "_akd_call"


class CallRewriter(ast.NodeTransformer):
    def __init__(self) -> None:
        self.depth = 0

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> ast.AST:
        if not isinstance(node, ast.Lambda):
            # Decorators, defaults and annotations belong to the enclosing scope.
            node.decorator_list = [self.visit(d) for d in node.decorator_list]
        node.args = self.visit(node.args)
        self.depth += 1
        try:
            if isinstance(node, ast.Lambda):
                node.body = self.visit(node.body)
            else:
                node.body = [self.visit(stmt) for stmt in node.body]
        finally:
            self.depth -= 1
        return node

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function
    visit_Lambda = _visit_function

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if self.depth == 0:
            return node
        if isinstance(node.func, ast.Name) and node.func.id in FRAME_BUILTINS | {CALL_NAME}:
            return node
        wrapped = ast.Call(
            func=ast.Name(id=CALL_NAME, ctx=ast.Load()),
            args=[node.func, *node.args],
            keywords=node.keywords,
        )
        return ast.copy_location(wrapped, node)


def rewrite(source: bytes | str, filename: str) -> CodeType:
    tree = ast.parse(source, filename)
    tree = CallRewriter().visit(tree)
    ast.fix_missing_locations(tree)
    code: CodeType = compile(tree, filename, "exec", dont_inherit=True)
    return code


class UserLoader(importlib.machinery.SourceFileLoader):
    """Loads a project file with its calls rewritten and the session hooks injected."""

    def __init__(self, fullname: str, path: str, inject: Callable[[ModuleType], None]) -> None:
        super().__init__(fullname, path)
        self._inject = inject

    def get_code(self, fullname: str) -> CodeType:
        # Never read or write bytecode caches: the rewritten code must come from source.
        path = self.get_filename(fullname)
        return rewrite(self.get_data(path), path)

    def exec_module(self, module: ModuleType) -> None:
        self._inject(module)
        super().exec_module(module)


class UserCodeFinder(importlib.abc.MetaPathFinder):
    """Claims modules whose source lives under the build directory."""

    def __init__(self, root: str, inject: Callable[[ModuleType], None]) -> None:
        self.root = root.rstrip("/") + "/"
        self._inject = inject

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not spec.origin or not spec.origin.startswith(self.root):
            return None
        if not spec.origin.endswith(".py"):
            return None
        loader = UserLoader(fullname, spec.origin, self._inject)
        new = importlib.machinery.ModuleSpec(
            fullname, loader, origin=spec.origin, is_package=spec.submodule_search_locations is not None
        )
        if spec.submodule_search_locations is not None:
            new.submodule_search_locations = spec.submodule_search_locations
        new.has_location = True
        return new


def install(root: str, inject: Callable[[ModuleType], None]) -> UserCodeFinder:
    sys.dont_write_bytecode = True
    finder = UserCodeFinder(root, inject)
    sys.meta_path.insert(0, finder)
    return finder


__all__ = ["Any", "install", "rewrite"]
