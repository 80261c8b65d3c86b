"""Cluster users: encode and decode on a dask cluster, with the image and the container on
shared storage (a bucket, or any fsspec URL).

    dask scheduler --port 8786 &          # on the head node
    dask worker tcp://HEAD:8786 &         # on each worker node
    export AWS_ENDPOINT_URL=...           # and credentials, if the bucket needs them
    python examples/cluster_job.py tcp://HEAD:8786 s3://bucket/scene.tif s3://bucket/out/

Without arguments it starts a local cluster and works on local files (a photo from
scripts/fetch_corpus.sh). Kill the client midway and run the same encode with
``resume=True``: it continues from the chunks already written.
"""

from __future__ import annotations

import sys
from pathlib import Path

import tilestream

ROOT = Path(__file__).resolve().parent.parent


def main(scheduler: object, source: str, prefix: str, block: int = 512, chunk: int | None = None) -> str:
    container = prefix.rstrip("/") + "/scene.tsz"
    result = tilestream.encode(source, container, quality=2, block=block, chunk=chunk, scheduler=scheduler, overwrite=True)
    print(f"{source} → {container}: {result.stream_bytes:,} bytes ({result.bpp:.3f} bpp)")
    decoded = prefix.rstrip("/") + "/scene_decoded.zarr"
    tilestream.decode(container, decoded, scheduler=scheduler, overwrite=True)
    print(f"{container} → {decoded}")
    return decoded


if __name__ == "__main__":
    if len(sys.argv) == 4:
        main(sys.argv[1], sys.argv[2], sys.argv[3])
    else:
        from distributed import Client, LocalCluster

        import numpy as np
        import tifffile
        from PIL import Image

        photo = sorted((ROOT / "benchmarks/corpus/photos").glob("*.jpg"))[0]
        work = Path("cluster-example")
        work.mkdir(exist_ok=True)
        tifffile.imwrite(work / "scene.tif", np.asarray(Image.open(photo).convert("RGB")), tile=(512, 512))
        with LocalCluster(n_workers=2, threads_per_worker=1) as cluster, Client(cluster) as client:
            main(client, str(work / "scene.tif"), str(work.resolve()))
