"""Shared settings of the benchmark scripts."""

from __future__ import annotations

#: every model tilestream runs block-wise, with the zoo quality used (None: default config)
MODELS: list[tuple[str, int | None]] = [
    ("bmshj2018-factorized", 1),
    ("bmshj2018-hyperprior", 1),
    ("mbt2018-mean", 1),
    ("mbt2018", 1),
    ("cheng2020-anchor", 1),
    ("cheng2020-attn", 1),
    ("cheng2020-anchor-checkerboard", None),
    ("elic2022-official", None),
]


def machine() -> dict[str, object]:
    """The machine and software a benchmark ran on (recorded in every result file)."""
    import os
    import platform
    from importlib.metadata import version

    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), cpu)
    except OSError:
        pass
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": round(ram),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
        "python": platform.python_version(),
        "versions": {n: version(n) for n in ("torch", "compressai", "numpy", "zarr", "dask", "tifffile")},
    }


def describe_machine(record: object) -> str:
    """One line for a machine record written by :func:`machine`."""
    if not isinstance(record, dict):
        return str(record)
    versions = ", ".join(f"{k} {v}" for k, v in record.get("versions", {}).items())
    return (
        f"{record['cpu']}, {record['cores']} cores, {record['ram_gib']} GiB RAM, GPU: {record['gpu']}; "
        f"Python {record['python']}, {versions}"
    )


def save_json(path, data) -> None:
    """Write a result file, with the machine that produced it."""
    import json
    from pathlib import Path

    record = {"rows": data} if isinstance(data, list) else dict(data)
    record["machine"] = machine()
    Path(path).write_text(json.dumps(record, indent=2))
