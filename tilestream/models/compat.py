"""Import CompressAI quietly and leanly.

Two things in CompressAI 1.2.8's import cost a tilestream user without giving them anything:

- it calls ``torch.jit.script`` at import time, which recent torch releases answer with a
  ``FutureWarning``. That warning is silenced here, for this one import only;
- ``compressai/__init__.py`` imports every subpackage eagerly, among them ``datasets``,
  ``transforms`` and ``registry.transforms``, which import torchvision, torch_geometric and,
  through them, torch._dynamo, sympy and pandas. On this machine that is about 210 MiB of
  resident memory and 3 s of start-up in every process (CLI, dask worker), for point-cloud
  datasets and training transforms that coding an image never touches.

So, unless ``compressai`` is already imported (then that module is used as it is) or
``TILESTREAM_COMPRESSAI_EAGER=1`` is set, :func:`compressai` runs CompressAI's own
``compressai/__init__.py`` and ``compressai/registry/__init__.py`` with their eager
``from … import …`` of those subpackages left out. Every name they would have bound stays
reachable: the first access to ``compressai.datasets``, ``compressai.registry.TRANSFORMS`` and
the like imports it then. Functions, classes and entropy coders are CompressAI's own; nothing
is copied or re-implemented. If anything in that differs from what is expected (another
CompressAI release), the partial import is undone and CompressAI is imported the usual way.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import sys
import warnings
from types import ModuleType

__all__ = ["EAGER_ENV", "compressai"]

#: Environment variable that, set to ``1``, makes :func:`compressai` import CompressAI whole.
EAGER_ENV = "TILESTREAM_COMPRESSAI_EAGER"

#: Modules imported lazily, with the subpackages whose eager import each one skips.
_LAZY: dict[str, frozenset[str]] = {
    "compressai": frozenset({"datasets", "losses", "optimizers", "registry", "transforms"}),
    "compressai.registry": frozenset({"transforms"}),
}

#: Registry dictionaries that a skipped subpackage fills as it is imported: the first access to
#: one imports that subpackage, so the dictionary holds what an eager import would have put there.
_FILLED: dict[str, dict[str, str]] = {
    "compressai.registry": {
        "CRITERIONS": "compressai.losses",
        "DATASETS": "compressai.datasets",
        "OPTIMIZERS": "compressai.optimizers",
        "TRANSFORMS": "compressai.transforms",
    },
}

#: What tilestream itself uses; imported explicitly after the package.
_NEEDED = ("layers", "entropy_models", "latent_codecs", "models", "registry", "zoo")


def compressai() -> ModuleType:
    """Return the ``compressai`` package with its layers, registry and zoo imported.

    Returns
    -------
    ModuleType
        ``sys.modules["compressai"]``; see the module docstring for what is imported lazily.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit.*", category=FutureWarning)
        warnings.filterwarnings("ignore", message=r".*torch\.jit.*", category=DeprecationWarning)
        package = sys.modules.get("compressai")
        if package is None and os.environ.get(EAGER_ENV, "0") in ("", "0"):
            package = _lean_import()
        if package is None:
            import compressai as package
        for name in _NEEDED:
            importlib.import_module(f"compressai.{name}")
    return package


def _lean_import() -> ModuleType | None:
    """Import ``compressai`` without its eager subpackage imports, or return None."""
    try:
        package = _load("compressai")
        _load("compressai.registry")
        for name in _NEEDED:
            importlib.import_module(f"compressai.{name}")
        return package
    except Exception:  # another release laid out otherwise: undo, import it whole
        for name in [n for n in sys.modules if n == "compressai" or n.startswith("compressai.")]:
            del sys.modules[name]
        return None


def _load(name: str) -> ModuleType:
    """Execute package ``name``'s ``__init__`` without the imports of ``_LAZY[name]``."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or spec.origin is None:
        raise ImportError(f"no package {name}")
    source = spec.loader.get_source(name)  # type: ignore[attr-defined]
    if source is None:
        raise ImportError(f"no source for {name}")
    tree = ast.parse(source, spec.origin)
    deferred: dict[str, tuple[str, str, str | None]] = {}
    bound: dict[str, tuple[str, str]] = {}  # name -> (module, name) of the imports kept
    body = []
    for node in tree.body:
        target = _skipped(node, name)
        if isinstance(node, ast.ImportFrom):
            origin = target or _resolve(node, name)
            for alias in node.names:
                where = (origin, alias.name)
                if target:
                    deferred[alias.asname or alias.name] = (*where, None)
                else:
                    bound[alias.asname or alias.name] = where
        if target is None:
            body.append(node)
    tree.body = body
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, module)
    exec(compile(tree, spec.origin, "exec"), module.__dict__)  # noqa: S102
    for attr, filler in _FILLED.get(name, {}).items():
        if attr in deferred:
            deferred[attr] = (*deferred[attr][:2], filler)
        elif attr in bound and attr in module.__dict__:
            del module.__dict__[attr]
            deferred[attr] = (*bound[attr], filler)
    module.__getattr__ = _lazy_getattr(name, deferred)  # type: ignore[attr-defined]
    return module


def _resolve(node: ast.ImportFrom, package: str) -> str:
    """The absolute name of the module that a ``from … import …`` in ``package``'s init reads."""
    if node.level == 0:
        return node.module or package
    base = package.rsplit(".", node.level - 1)[0]
    return f"{base}.{node.module}" if node.module else base


def _skipped(node: ast.stmt, package: str) -> str | None:
    """The module a skipped ``from … import …`` reads from, or None to keep ``node``."""
    if not isinstance(node, ast.ImportFrom):
        return None
    if node.level == 0 and node.module == package:
        names = {alias.name for alias in node.names}
        return package if names & _LAZY[package] else None
    if node.level == 1 and node.module in _LAZY[package]:
        return f"{package}.{node.module}"
    return None


def _lazy_getattr(package: str, deferred: dict[str, tuple[str, str, str | None]]):
    """A module ``__getattr__`` (PEP 562) that imports a deferred name on first access."""

    def __getattr__(attr: str) -> object:
        source, name, filler = deferred.get(attr, (package, attr, None))
        try:
            if filler is not None:
                importlib.import_module(filler)
            module = importlib.import_module(source)
            if source == package or not hasattr(module, name):
                value = importlib.import_module(f"{source}.{name}")
            else:
                value = getattr(module, name)
        except ModuleNotFoundError as exc:
            if exc.name not in (f"{source}.{name}", source):
                raise
            raise AttributeError(f"module {package!r} has no attribute {attr!r}") from None
        setattr(sys.modules[package], attr, value)
        return value

    return __getattr__
