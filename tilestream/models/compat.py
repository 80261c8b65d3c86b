"""Import CompressAI quietly.

CompressAI 1.2.8 calls ``torch.jit.script`` at import time, which recent torch releases
answer with a ``FutureWarning`` that says nothing to a tilestream user. It is silenced
here, for that one import only.
"""

from __future__ import annotations

import warnings
from types import ModuleType

__all__ = ["compressai"]


def compressai() -> ModuleType:
    """Return the ``compressai`` package with its registry and zoo imported."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit.*", category=FutureWarning)
        warnings.filterwarnings("ignore", message=r".*torch\.jit.*", category=DeprecationWarning)
        import compressai as package
        import compressai.layers  # noqa: F401
        import compressai.registry  # noqa: F401
        import compressai.zoo  # noqa: F401
    return package
