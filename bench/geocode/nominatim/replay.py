"""Replays bench/geocode's query log against a Nominatim database, in-process, through nominatim-api's library.

Usage: replay.py PROJECT_DIR QUERIES OUT LIMIT WARM_UP

QUERIES has one query a line: `text<TAB>viewbox` where viewbox is `minlon,minlat,maxlon,maxlat` (a bounded
filter, as the HTTP API's `viewbox=…&bounded=1`) or empty. OUT gets one line a query, in order:
`milliseconds<TAB>N12 W3 …<TAB>display name of the first result<TAB>1 if it timed out`, then `total<TAB>seconds` of
the measured loop.

Each query does what the HTTP `/search` endpoint does before formatting: `search()` with address details (the
display name needs them) and the results localised; the first WARM_UP queries are run once before measuring.
One client, queries one after another, one event loop.
"""

import asyncio
import sys
import time

import nominatim_api as napi


def parse(path):
    queries = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            text, _, box = line.rstrip("\n").partition("\t")
            viewbox = napi.Bbox(*(float(v) for v in box.split(","))) if box else None
            queries.append((text, viewbox))
    return queries


async def one(api, locales, text, viewbox, limit):
    params = {"max_results": limit, "address_details": True, "locales": locales}
    if viewbox is not None:
        params["viewbox"] = viewbox
        params["bounded_viewbox"] = True
    try:
        results = await api.search(text, **params)
    except napi.UsageError:
        # What the HTTP API answers with a 400 (e.g. nothing left to search for): no result.
        return [], False
    except TimeoutError:
        # NOMINATIM_QUERY_TIMEOUT (10 s by default): the HTTP API answers 503.
        return [], True
    locales.localize_results(results)
    return results, False


async def main(project_dir, queries_path, out_path, limit, warm_up):
    queries = parse(queries_path)
    api = napi.NominatimAPIAsync(project_dir)
    locales = napi.Locales(["it"])
    try:
        for text, viewbox in queries[:warm_up]:
            await one(api, locales, text, viewbox, limit)
        lines = []
        started = time.perf_counter()
        for text, viewbox in queries:
            t = time.perf_counter()
            results, timed_out = await one(api, locales, text, viewbox, limit)
            ms = (time.perf_counter() - t) * 1000.0
            ids = " ".join(f"{r.osm_object[0]}{r.osm_object[1]}" for r in results if r.osm_object)
            first = (results[0].display_name or "") if results else ""
            lines.append(f"{ms:.4f}\t{ids}\t{first.replace(chr(9), ' ')}\t{int(timed_out)}\n")
        total = time.perf_counter() - started
    finally:
        await api.close()
    with open(out_path, "w", encoding="utf-8") as f:
        f.writelines(lines)
        f.write(f"total\t{total:.6f}\n")


if __name__ == "__main__":
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])))
