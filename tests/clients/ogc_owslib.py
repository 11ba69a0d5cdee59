"""Reads Vedetta's OGC API - Features with the independent OWSLib client and prints what it found as JSON.

usage: ogc_owslib.py BASE_URL   (e.g. http://127.0.0.1:8080/ogc/)
"""
import json
import sys

from owslib.ogcapi.features import Features


def main(base):
    api = Features(base)
    conformance = api.conformance()["conformsTo"]
    collections = api.collections()["collections"]
    # Page through the comuni 25 at a time, following the server's `next` links.
    pages, comuni, offset = 0, [], 0
    while True:
        page = api.collection_items("comuni", limit=25, offset=offset)
        pages += 1
        comuni.extend(f["properties"]["name"] for f in page["features"])
        if not any(link["rel"] == "next" for link in page["links"]):
            break
        offset += 25
    centre = api.collection_items("comuni", bbox=[8.93, 44.40, 8.94, 44.41], limit=100)
    genova = api.collection_item("comuni", "010025")
    hydrometers = api.collection_items("stations", kind="hydrometer", limit=100)
    utm = api.collection_items("stations", limit=1, crs="http://www.opengis.net/def/crs/EPSG/0/7791")
    print(
        json.dumps(
            {
                "conformance": conformance,
                "collections": [c["id"] for c in collections],
                "pages": pages,
                "comuni": comuni,
                "matched": page["numberMatched"],
                "centre": [f["properties"]["name"] for f in centre["features"]],
                "genova": genova["properties"]["name"],
                "genova_type": genova["geometry"]["type"],
                "hydrometers": [f["id"] for f in hydrometers["features"]],
                "utm_point": utm["features"][0]["geometry"]["coordinates"],
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
