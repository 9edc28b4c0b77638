"""Import hook: user modules are compiled with every call inside a function rewritten.

``f(a, k=b)`` inside any function body (methods, lambdas and nested functions too)
becomes ``_akd_call(f, a, k=b)``. Module-level code, decorators and default values
run at import time and are left alone; so are ``super()``, ``locals()`` and other
builtins that need the caller's frame.

Rewriting costs a parse, a tree walk and a compile (about a millisecond for a small
file, every segment); the rewritten code is cached on disk, keyed by the file's path
and bytes, the Python version and the rewriter's own source, so it never goes stale.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import marshal
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import CodeType, ModuleType
from typing import Any

from akd.runner import purity
from akd.runner.purity import FRAME_BUILTINS

CALL_NAME = "_akd_call"


def _rewriter_salt() -> bytes:
    """What the rewritten code depends on besides the file: Python's bytecode and this rewriter."""
    digest = hashlib.sha256(importlib.util.MAGIC_NUMBER)
    for source in (__file__, purity.__file__):
        digest.update(Path(source).read_bytes())
    return digest.digest()


SALT = _rewriter_salt()


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


class CodeCache:
    """Rewritten code objects in a directory, one marshal file per (path, source, rewriter)."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def _file(self, path: str, source: bytes) -> str:
        key = hashlib.sha256(SALT + path.encode() + b"\0" + source).hexdigest()
        return os.path.join(self.directory, key[:2], key)

    def code(self, path: str, source: bytes) -> CodeType:
        file = self._file(path, source)
        with contextlib.suppress(OSError, ValueError, EOFError, TypeError):
            with open(file, "rb") as f:
                cached = marshal.load(f)
            if isinstance(cached, CodeType):
                return cached
        code = rewrite(source, path)
        self._store(file, code)
        return code

    @staticmethod
    def _store(file: str, code: CodeType) -> None:
        """Write atomically (another runner may read the same entry); a failure only costs speed."""
        tmp = f"{file}.{os.getpid()}.tmp"
        try:
            os.makedirs(os.path.dirname(file), mode=0o700, exist_ok=True)
            with open(tmp, "wb") as f:
                marshal.dump(code, f)
            os.replace(tmp, file)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


class UserLoader(importlib.machinery.SourceFileLoader):
    """Loads a project file with its calls rewritten and the session hooks injected."""

    def __init__(
        self,
        fullname: str,
        path: str,
        inject: Callable[[ModuleType], None],
        cache: CodeCache | None = None,
        importing: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__(fullname, path)
        self._inject = inject
        self._cache = cache
        self._importing = importing

    def get_code(self, fullname: str) -> CodeType:
        # Never Python's own bytecode cache: the rewritten code must come from the source.
        path = self.get_filename(fullname)
        source = self.get_data(path)
        if self._cache is None:
            return rewrite(source, path)
        return self._cache.code(path, source)

    def exec_module(self, module: ModuleType) -> None:
        self._inject(module)
        if self._importing is None:
            super().exec_module(module)
            return
        # A module's top level (and what it calls) runs directly, also on replay.
        self._importing(1)
        try:
            super().exec_module(module)
        finally:
            self._importing(-1)


class UserCodeFinder(importlib.abc.MetaPathFinder):
    """Claims modules whose source lives under the build directory."""

    def __init__(
        self,
        root: str,
        inject: Callable[[ModuleType], None],
        cache: CodeCache | None = None,
        importing: Callable[[int], None] | None = None,
    ) -> None:
        self.root = root.rstrip("/") + "/"
        self._inject = inject
        self._cache = cache
        self._importing = importing

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not spec.origin or not spec.origin.startswith(self.root):
            return None
        if not spec.origin.endswith(".py"):
            return None
        loader = UserLoader(fullname, spec.origin, self._inject, self._cache, self._importing)
        new = importlib.machinery.ModuleSpec(
            fullname, loader, origin=spec.origin, is_package=spec.submodule_search_locations is not None
        )
        if spec.submodule_search_locations is not None:
            new.submodule_search_locations = spec.submodule_search_locations
        new.has_location = True
        return new


def install(
    root: str,
    inject: Callable[[ModuleType], None],
    cache_dir: str = "",
    importing: Callable[[int], None] | None = None,
) -> UserCodeFinder:
    """Rewrite the modules under ``root``; cache the rewritten code in ``cache_dir`` if given.

    ``importing(+1)`` and ``importing(-1)`` bracket the execution of each module's top level.
    """
    sys.dont_write_bytecode = True
    finder = UserCodeFinder(root, inject, CodeCache(cache_dir) if cache_dir else None, importing)
    sys.meta_path.insert(0, finder)
    return finder


__all__ = ["Any", "install", "rewrite"]
