"""The journal of a resumable decode: which wavefront steps of a partial output are written.

A decode to a zarr output or a local TIFF (``decode --resume``) keeps, inside its partial
output (a zarr folder) or in a folder beside it (``OUT.tif.partial.journal``), a small
JSON file: a fingerprint of what it decodes (the container's metadata, the weights, the
device and the output's settings), the last wavefront step whose block rows are all
written, the band of rows per step, and for serial contexts the name of a ``.npz`` file
with the held results of that step (:func:`~tilestream.pipeline.resume.pack_state`). Each
step's state is written before the journal points to it and the previous one is removed
after; the journal and the states are removed before the output is published.
"""

from __future__ import annotations

import json
from typing import Any

from tilestream.errors import TilestreamError
from tilestream.storage import Location, StorageError

__all__ = ["JOURNAL", "Journal"]

#: the journal's file name inside a partial output
JOURNAL = "tilestream-progress.json"
_STATE = "tilestream-state-"


class Journal:
    """The journal of the partial output at ``folder``.

    Parameters
    ----------
    folder : Location
        The partial output (a zarr store's root).
    fingerprint : str
        Identifies what is decoded into it (checked by :meth:`load`).
    """

    def __init__(self, folder: Location, fingerprint: str):
        self.folder = folder
        self.fingerprint = fingerprint
        #: called before each record: the sink pushes what it wrote to storage
        self.flush: Any = None
        self._state: tuple[int, str] | None = None
        self._published: str | None = None

    def load(self) -> dict[str, Any] | None:
        """The recorded progress (``step``, ``band``, maybe ``state``), or ``None`` when
        nothing was recorded yet.

        Raises
        ------
        TilestreamError
            If the partial output was started from another container, other weights, on
            another device or with other settings.
        """
        try:
            record = json.loads(self.folder.join(JOURNAL).read_bytes())
        except (OSError, StorageError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("fingerprint") != self.fingerprint:
            raise TilestreamError(
                f"cannot resume the decode into {self.folder.url!r}: it was started from another "
                f"container, other weights, another device or other settings; run without --resume "
                f"(and with --overwrite) to start over"
            )
        self._published = record.get("state") if isinstance(record.get("state"), str) else None
        return record

    def read_state(self, record: dict[str, Any]) -> bytes | None:
        """The state file ``record`` points to, if any and readable."""
        name = record.get("state")
        if not isinstance(name, str) or not name.startswith(_STATE):
            return None
        try:
            return self.folder.join(name).read_bytes()
        except (OSError, StorageError):
            return None

    def record_state(self, step: int, data: bytes) -> None:
        """Save the held results of step ``step`` (before :meth:`record` of that step)."""
        name = f"{_STATE}{int(step)}.npz"
        self.folder.join(name).write_bytes(data)
        self._state = (int(step), name)

    def record(self, step: int, band: int) -> None:
        """Every block row that wavefront steps ``0 … step`` emit is written."""
        if self.flush is not None:
            self.flush()
        record: dict[str, Any] = {"fingerprint": self.fingerprint, "step": int(step), "band": int(band)}
        if self._state is not None and self._state[0] == int(step):
            record["state"] = self._state[1]
        self.folder.join(JOURNAL).write_bytes(json.dumps(record).encode())
        previous = self._published
        if previous is not None and previous != record.get("state"):
            self.folder.join(previous).remove()
        self._published = record.get("state")

    def clear(self) -> None:
        """Remove the journal and its state (before the output is published); a folder of
        its own (``*.journal``, beside a partial file) goes too."""
        if self._published is not None:
            self.folder.join(self._published).remove()
        if self._state is not None:
            self.folder.join(self._state[1]).remove()
        self.folder.join(JOURNAL).remove()
        if self.folder.url.endswith(".journal"):
            self.folder.remove()
