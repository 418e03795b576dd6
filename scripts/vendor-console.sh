#!/usr/bin/env bash
# Reproduces console/vendor/maplibre-gl/ from the npm registry (the cargo build never needs
# npm: these files are committed and embedded in the binary). Bump VERSION to upgrade.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=6.20.0
out=console/vendor/maplibre-gl
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "maplibre-gl@$VERSION" >/dev/null && tar xzf "maplibre-gl-$VERSION.tgz")
rm -rf "$out" && mkdir -p "$out"
# The ES-module build: its worker is a module file beside it, started from the same origin,
# so the console's Content-Security-Policy needs no blob: worker and no eval.
for f in maplibre-gl.mjs maplibre-gl-worker.mjs maplibre-gl.css; do
  # Source maps are not shipped; the comment pointing at them would only draw a 404.
  grep -v '^//# sourceMappingURL=' "$tmp/package/dist/$f" >"$out/$f"
done
cp "$tmp/package/LICENSE.txt" "$out/LICENSE.txt"
echo "maplibre-gl $VERSION (npm), dist/ ES-module build without source maps" >"$out/VERSION"
echo "vendored maplibre-gl $VERSION into $out"
