"""Where bytes live: local paths and fsspec URLs (``s3://``, ``gs://``, ``memory://``, ``file://``).

Everything that names a file or folder (a source, a container, a decoded output) is
normalised once, at the edge, into a :class:`Location`: the URL as given plus the storage
options that reach it. A local path (or ``file://`` URL) stays a plain path, read and written
with the operating system's calls as before; anything else goes through fsspec (and zarr's
``FsspecStore``). A :class:`Location` is small and picklable, so dask workers reopen the
same storage themselves.

Storage options come from, in increasing priority: the environment the filesystem itself
reads (for S3: ``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_DEFAULT_REGION``, …), ``TILESTREAM_STORAGE_OPTIONS`` (a JSON object), and the options
given in Python (``storage_options=``) or on the command line (``--storage-option KEY=VALUE``).
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from typing import Any

from tilestream.errors import TilestreamError

__all__ = ["Location", "StorageError", "parse_storage_options", "storage_options_from_env"]

#: environment variable holding storage options as a JSON object
ENV_OPTIONS = "TILESTREAM_STORAGE_OPTIONS"

_FS: dict[tuple[int, str, str], Any] = {}
#: asynchronous filesystems of zarr stores, one per process and options (zarr runs all of
#: their calls on its own event loop; one instance keeps one connection pool)
_ASYNC_FS: dict[tuple[int, str, str], Any] = {}
_LOCK = threading.Lock()


def _close_async_filesystems() -> None:
    """Close the HTTP sessions of the zarr stores' filesystems at exit, on zarr's loop
    (left to the garbage collector, aiohttp warns of unclosed sessions)."""
    for fs in list(_ASYNC_FS.values()):
        client = getattr(fs, "_s3", None)
        if client is None:
            continue
        try:
            from zarr.core.sync import sync

            sync(client.close())
        except Exception:  # noqa: BLE001 - best effort at interpreter exit
            pass
    _ASYNC_FS.clear()


class StorageError(TilestreamError):
    """A URL, its storage options or the storage behind it cannot be used."""


def _value(text: str) -> Any:
    """A command-line option value: JSON when it parses (``true``, ``3``, ``{"a": 1}``), else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_storage_options(items: list[str] | None) -> dict[str, Any]:
    """``["KEY=VALUE", …]`` → a dict (``a.b=VALUE`` nests: ``{"a": {"b": VALUE}}``).

    Raises
    ------
    StorageError
        For an item without ``=`` or with an empty key.
    """
    options: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise StorageError(
                f"storage option {item!r} is not KEY=VALUE; write e.g. --storage-option "
                f"endpoint_url=http://127.0.0.1:9000"
            )
        *parents, leaf = key.strip().split(".")
        target = options
        for name in parents:
            target = target.setdefault(name, {})
        target[leaf] = _value(value)
    return options


def storage_options_from_env() -> dict[str, Any]:
    """Options from ``TILESTREAM_STORAGE_OPTIONS`` (a JSON object), or ``{}``.

    Raises
    ------
    StorageError
        If the variable is set but not a JSON object.
    """
    text = os.environ.get(ENV_OPTIONS, "").strip()
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise StorageError(
            f"{ENV_OPTIONS}={text!r} is not a JSON object; set it to e.g. "
            f"'{{\"endpoint_url\": \"http://127.0.0.1:9000\"}}' or unset it"
        )
    return value


def _protocol(url: str) -> str:
    head, sep, _ = url.partition("://")
    if not sep or os.sep in head or not head.replace("+", "").replace("-", "").isalnum():
        return "file"
    return head.lower()


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, tuple) and all(isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], str) for v in value):
        return {k: _thaw(v) for k, v in value}
    return value


@dataclass(frozen=True)
class Location:
    """A file or folder, local or behind an fsspec URL, with its storage options.

    Use :meth:`of` to build one from what a user passed.
    """

    url: str
    #: storage options, frozen into nested ``(key, value)`` tuples (hashable, picklable)
    frozen_options: tuple[Any, ...] = field(default=())

    @classmethod
    def of(cls, target: Any, storage_options: dict[str, Any] | None = None) -> Location:
        """Normalise a path, URL or :class:`Location`.

        Parameters
        ----------
        target : str, os.PathLike or Location
            A local path, ``file://`` URL, or any fsspec URL (``s3://bucket/key``).
        storage_options : dict, optional
            Options of the filesystem (merged over ``TILESTREAM_STORAGE_OPTIONS``).
        """
        if isinstance(target, Location):
            if storage_options:
                merged = {**target.options, **storage_options}
                return cls(target.url, _freeze(merged))
            return target
        url = os.fspath(target)
        if url.startswith("file://"):
            url = url[len("file://"):]
        options = {**storage_options_from_env(), **(storage_options or {})} if _protocol(url) != "file" else {}
        return cls(url, _freeze(options))

    # -- what it is ---------------------------------------------------------------------
    @property
    def options(self) -> dict[str, Any]:
        """The storage options as a dict."""
        return _thaw(self.frozen_options) if self.frozen_options else {}

    @property
    def protocol(self) -> str:
        """``"file"`` for local paths, else the URL's scheme (``"s3"``, ``"memory"``, …)."""
        return _protocol(self.url)

    @property
    def is_local(self) -> bool:
        """Whether this is a path on the local filesystem."""
        return self.protocol == "file"

    @property
    def path(self) -> str:
        """The path inside its filesystem (the local path, or the URL without its scheme)."""
        return self.url if self.is_local else self.url.split("://", 1)[1]

    def __str__(self) -> str:
        return self.url

    def name(self) -> str:
        """The last component of the path."""
        return self.url.rstrip("/").rsplit("/", 1)[-1]

    def join(self, *parts: str) -> Location:
        """A location below this one."""
        if self.is_local:
            return Location(os.path.join(self.url, *parts), self.frozen_options)
        return Location("/".join([self.url.rstrip("/"), *parts]), self.frozen_options)

    def with_suffix(self, suffix: str) -> Location:
        """This location with ``suffix`` appended to its last component."""
        return Location(self.url.rstrip("/") + suffix, self.frozen_options)

    # -- the filesystem -----------------------------------------------------------------
    def fs(self) -> Any:
        """The fsspec filesystem (cached per process and options).

        Raises
        ------
        StorageError
            For an unknown protocol, a missing fsspec implementation or bad options.
        """
        import fsspec

        key = (os.getpid(), self.protocol, repr(self.frozen_options))
        with _LOCK:
            fs = _FS.get(key)
            if fs is None:
                try:
                    fs = fsspec.filesystem(self.protocol, **self.options)
                except (ValueError, ImportError) as exc:
                    raise StorageError(
                        f"cannot open storage {self.url!r} ({exc}); install the fsspec "
                        f"implementation of {self.protocol!r} (e.g. pip install s3fs) or pass a local path"
                    ) from exc
                except TypeError as exc:
                    raise StorageError(
                        f"storage options {self.options} do not fit {self.protocol!r} ({exc}); "
                        f"check --storage-option"
                    ) from exc
                _FS[key] = fs
        return fs

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a filesystem call; storage failures become one-line :class:`StorageError`."""
        try:
            return fn(*args, **kwargs)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise
        except TilestreamError:
            raise
        except Exception as exc:  # botocore / aiohttp / fsspec raise many types
            raise StorageError(
                f"cannot {what} {self.url!r} ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
                f"check that the storage is reachable and the credentials / --storage-option "
                f"(e.g. endpoint_url) are right"
            ) from exc

    def _fresh(self) -> Any:
        """The filesystem with its cached listings dropped: other processes (workers) and
        zarr's own filesystem instance write here too."""
        fs = self.fs()
        fs.invalidate_cache()
        return fs

    def exists(self) -> bool:
        """Whether a file or folder exists here."""
        if self.is_local:
            return os.path.lexists(self.url)
        return bool(self._call("reach", self._fresh().exists, self.path))

    def isfile(self) -> bool:
        """Whether a file exists here."""
        if self.is_local:
            return os.path.isfile(self.url)
        return bool(self._call("reach", self._fresh().isfile, self.path))

    def isdir(self) -> bool:
        """Whether a folder (or key prefix) exists here."""
        if self.is_local:
            return os.path.isdir(self.url)
        return bool(self._call("reach", self._fresh().isdir, self.path))

    def remove(self) -> None:
        """Remove the file or folder here, if any."""
        if self.is_local:
            import shutil

            if os.path.isdir(self.url) and not os.path.islink(self.url):
                shutil.rmtree(self.url, ignore_errors=True)
            elif os.path.lexists(self.url):
                os.remove(self.url)
            return
        fs = self._fresh()
        if self._call("reach", fs.exists, self.path):
            self._call("remove", fs.rm, self.path, recursive=True)
            fs.invalidate_cache()

    def open(self, mode: str = "rb") -> Any:
        """A file object (local: the builtin ``open``)."""
        if self.is_local:
            return open(self.url, mode)
        return self._call("open", self._fresh().open, self.path, mode)

    def read_bytes(self) -> bytes:
        """The whole file."""
        with self.open("rb") as fh:
            return fh.read()

    def write_bytes(self, data: bytes) -> None:
        """Write a whole file (local: through a temporary file renamed into place, making
        the folders above it)."""
        if self.is_local:
            os.makedirs(os.path.dirname(os.path.abspath(self.url)), exist_ok=True)
            tmp = f"{self.url}.tmp-{os.getpid()}"
            with open(tmp, "wb") as fh:
                fh.write(data)
            os.replace(tmp, self.url)
            return
        self._call("write", self.fs().pipe_file, self.path, data)

    def put_file(self, local: str) -> None:
        """Upload the local file ``local`` here (local locations: move it)."""
        if self.is_local:
            os.replace(local, self.url)
            return
        self._call("write", self.fs().put_file, local, self.path)

    def _async_fs(self) -> Any:
        """The process's asynchronous instance of this filesystem, or ``None`` for one
        without an asynchronous implementation (zarr wraps those itself)."""
        import fsspec

        key = (os.getpid(), self.protocol, repr(self.frozen_options))
        with _LOCK:
            if key in _ASYNC_FS:
                return _ASYNC_FS[key]
            try:
                cls = fsspec.get_filesystem_class(self.protocol)
            except (ValueError, ImportError):
                return None  # zarr's own opening reports it (see fs())
            if not getattr(cls, "async_impl", False):
                return None
            fs = self._call("open", cls, asynchronous=True, skip_instance_cache=True, **self.options)
            if not _ASYNC_FS:
                import atexit

                atexit.register(_close_async_filesystems)
            _ASYNC_FS[key] = fs
            return fs

    def zarr_store(self, *, read_only: bool) -> Any:
        """A zarr store rooted here (local: ``LocalStore``; else zarr's ``FsspecStore``,
        which opens its own asynchronous filesystem with the same options)."""
        import warnings

        from zarr.storage import FsspecStore, LocalStore

        if self.is_local:
            return LocalStore(self.url, read_only=read_only)
        fs = self._async_fs()
        if fs is not None:
            return FsspecStore(fs=fs, path=self.path, read_only=read_only)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self._call(
                "open", FsspecStore.from_url, self.url, storage_options=self.options or None, read_only=read_only
            )
