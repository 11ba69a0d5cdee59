#!/usr/bin/env python3
"""Decodes a Mapbox Vector Tile with the independent `mapbox-vector-tile` package and prints it as JSON.

Usage: decode_tile.py < TILE   or   decode_tile.py FILE…   (gzip-compressed bytes are decompressed first)

Output: {"<layer>": {"extent": 4096, "features": [{"id": …, "properties": {…}, "geometry": {"type": …,
"coordinates": …}}]}} with coordinates in tile units, y pointing down (as the tile stores them); for FILE
arguments, a JSON array of those, in order.
"""
import gzip
import json
import sys

import mapbox_vector_tile


def decode(data: bytes) -> dict:
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    tile = mapbox_vector_tile.decode(data, default_options={"y_coord_down": True}) if data else {}
    layers = {
        name: {
            "extent": layer.get("extent"),
            "version": layer.get("version"),
            "features": [
                {"id": f.get("id"), "properties": f.get("properties", {}), "geometry": f.get("geometry")}
                for f in layer.get("features", [])
            ],
        }
        for name, layer in tile.items()
    }
    return layers


def main() -> None:
    if len(sys.argv) > 1:
        tiles = []
        for path in sys.argv[1:]:
            with open(path, "rb") as f:
                tiles.append(decode(f.read()))
        json.dump(tiles, sys.stdout, default=str)
    else:
        json.dump(decode(sys.stdin.buffer.read()), sys.stdout, default=str)


if __name__ == "__main__":
    main()
