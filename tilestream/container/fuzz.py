"""Random damage to containers, for fuzz tests and the fuzz benchmark.

A :class:`Damage` is one operation on one file of a container folder (flip, overwrite,
truncate, extend, empty or delete it; swap or copy two files; or edit one value of a
``zarr.json`` as JSON). :func:`random_damages` draws a few at random; :func:`apply`
applies them; :func:`outcome` decodes the damaged container and classifies the result
against the undamaged decode: ``"identical"``, ``"refused"`` (a
:class:`~tilestream.errors.TilestreamError`), ``"different"`` (garbage: a failure) or the
name of any other exception (a failure).
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tilestream.errors import TilestreamError

__all__ = ["KINDS", "Damage", "apply", "container_files", "outcome", "random_damages"]

#: the damage operations
KINDS = ("flip", "set", "truncate", "extend", "empty", "delete", "swap", "copy", "json")


@dataclass(frozen=True)
class Damage:
    """One damage operation.

    Attributes
    ----------
    kind : str
        One of :data:`KINDS`.
    target : int
        The file (index into :func:`container_files`, modulo their number).
    offset : int
        Byte position (modulo the file's size); for ``json``, which value to edit.
    value : int
        The byte value, XOR mask or length; for ``swap`` / ``copy`` the other file.
    """

    kind: str
    target: int
    offset: int = 0
    value: int = 0


def container_files(root: str | os.PathLike[str]) -> list[str]:
    """Every file of a container folder, relative to it, sorted (``zarr.json`` first)."""
    root = os.fspath(root)
    found = []
    for folder, _, names in os.walk(root):
        for name in names:
            found.append(os.path.relpath(os.path.join(folder, name), root))
    return sorted(found, key=lambda p: (not p.endswith("zarr.json"), p))


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(node, dict):
        out = [path + (k,) for k in node]
        for k, v in node.items():
            out += _leaves(v, path + (k,))
        return out
    if isinstance(node, list):
        out = [path + (k,) for k in range(len(node))]
        for k, v in enumerate(node):
            out += _leaves(v, path + (k,))
        return out
    return []


def _mutate_value(value: Any, r: int) -> Any:
    """A different JSON value derived from ``value`` and the integer ``r``."""
    choice = r % 6
    if isinstance(value, bool):
        return not value
    if isinstance(value, int) and choice < 4:
        return [value + 1, value - 1, value * 2 + 1, -value - 1][choice]
    if isinstance(value, float) and choice < 4:
        return [value + 0.5, value * 2 + 1, -value - 1, value / 3][choice]
    if isinstance(value, str) and value and choice < 4:
        k = r % len(value)
        return value[:k] + chr((ord(value[k]) + 1 + r % 7) % 0x7F or 0x41) + value[k + 1 :]
    if isinstance(value, list) and value and choice < 3:
        return value[:-1] if choice == 0 else value + value[-1:] if choice == 1 else list(reversed(value))
    return [None, 0, "", [], {}, 1.5][choice]


def _edit_json(data: bytes, pick: int, r: int) -> bytes:
    doc = json.loads(data)
    leaves = _leaves(doc)
    if not leaves:
        return data[:-1]
    path = leaves[pick % len(leaves)]
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if r % 9 == 8:  # drop the key or item
        del parent[path[-1]]
    else:
        parent[path[-1]] = _mutate_value(parent[path[-1]], r)
    return json.dumps(doc).encode()


def apply(root: str | os.PathLike[str], damages: list[Damage]) -> list[str]:
    """Apply ``damages`` to the container folder ``root`` in order; return what each did."""
    root = os.fspath(root)
    done = []
    for d in damages:
        files = container_files(root)
        if not files:
            break
        name = files[d.target % len(files)]
        path = os.path.join(root, name)
        with open(path, "rb") as fh:
            data = fh.read()
        n = max(1, len(data))
        if d.kind in ("swap", "copy"):
            other = files[d.value % len(files)]
            with open(os.path.join(root, other), "rb") as fh:
                second = fh.read()
            with open(path, "wb") as fh:
                fh.write(second)
            if d.kind == "swap":
                with open(os.path.join(root, other), "wb") as fh:
                    fh.write(data)
            done.append(f"{d.kind} {name} {other}")
            continue
        if d.kind == "delete":
            os.remove(path)
            done.append(f"delete {name}")
            continue
        if d.kind == "flip":
            new = bytearray(data or b"\0")
            new[d.offset % n] ^= d.value % 255 + 1
            data = bytes(new)
        elif d.kind == "set":
            new = bytearray(data or b"\0")
            new[d.offset % n] = d.value % 256
            data = bytes(new)
        elif d.kind == "truncate":
            data = data[: d.offset % n]
        elif d.kind == "extend":
            data = data + bytes([d.value % 256]) * (1 + d.offset % 16)
        elif d.kind == "empty":
            data = b""
        elif d.kind == "json":
            try:
                data = _edit_json(data, d.offset, d.value)
            except (ValueError, UnicodeDecodeError):  # not JSON (a chunk): flip a byte instead
                new = bytearray(data or b"\0")
                new[d.offset % n] ^= 0x5A
                data = bytes(new)
        else:
            raise ValueError(f"unknown damage kind {d.kind!r}; use one of {', '.join(KINDS)}")
        with open(path, "wb") as fh:
            fh.write(data)
        done.append(f"{d.kind} {name} @{d.offset % n} ({d.value})")
    return done


def random_damages(rng: random.Random, n_files: int, chunk_files: list[int] | None = None) -> list[Damage]:
    """One to three random damages; ``json`` edits favour the metadata files (the first
    indices of :func:`container_files`), swaps and copies favour chunk files."""
    out = []
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        kind = rng.choice(KINDS)
        target = rng.randrange(n_files)
        value = rng.randrange(1 << 16)
        if kind in ("swap", "copy") and chunk_files:
            target, value = rng.choice(chunk_files), rng.choice(chunk_files)
        elif kind == "json" and chunk_files and rng.random() < 0.8:  # mostly a zarr.json
            target = rng.choice([k for k in range(n_files) if k not in set(chunk_files)] or [target])
        out.append(Damage(kind, target, rng.randrange(1 << 16), value))
    return out


def outcome(decode: Callable[[], np.ndarray], reference: np.ndarray) -> tuple[str, str]:
    """Decode and classify: ``("identical" | "refused" | "different" | exception type, message)``."""
    try:
        pixels = decode()
    except TilestreamError as exc:
        return "refused", f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # noqa: BLE001 - the fuzzer records every other exception as a failure
        return type(exc).__name__, str(exc)[:300]
    if pixels.shape == reference.shape and np.array_equal(pixels, reference, equal_nan=pixels.dtype.kind == "f"):
        return "identical", ""
    return "different", f"shape {pixels.shape} vs {reference.shape}"
