#!/usr/bin/env bash
# Fetch real photographs from public Debian packages into benchmarks/corpus/ (not committed).
#   photos/   JPEG/PNG wallpapers from plasma-workspace-wallpapers and mate-backgrounds
# Usage: scripts/fetch_corpus.sh [DEST]   (needs apt-get; works offline from the Debian mirror)
set -euo pipefail
DEST="${1:-$(dirname "$0")/../benchmarks/corpus}"
mkdir -p "$DEST/photos" "$DEST/debs"
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
