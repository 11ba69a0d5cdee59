"""Reads Vedetta's SensorThings API with the independent frost-sta-client and prints what it found as JSON.

usage: sta_frost.py BASE_URL STATION_CODE
"""
import json
import sys

import frost_sta_client as fsc
from dateutil.parser import isoparse

GENOVA = "POLYGON((8.6 44.3, 9.3 44.3, 9.3 44.6, 8.6 44.6, 8.6 44.3))"


def millis(t):
    return int(round(isoparse(t).timestamp() * 1000))


def main(base, code):
    svc = fsc.SensorThingsService(base)
    # One Thing per page: iterating follows @iot.nextLink.
    things = list(svc.things().query().expand("Datastreams").top(1).list())
    thing = next(t for t in things if (t.properties or {}).get("code") == code)
    datastreams = list(thing.datastreams)
    ds = datastreams[0]
    found = svc.things().find(thing.id)
    pages = ds.get_observations().query().orderby("phenomenonTime", "asc").top(500).count().list()
    observations = list(pages)
    above = list(
        svc.observations().query().filter(f"result gt 2.0 and Datastream/id eq {ds.id}").top(1000).list()
    )
    one_day = list(
        ds.get_observations()
        .query()
        .filter("phenomenonTime ge 2020-03-20T00:00:00Z and phenomenonTime lt 2020-03-21T00:00:00+00:00")
        .top(1000)
        .list()
    )
    inside = list(svc.locations().query().filter(f"st_within(location, geography'{GENOVA}')").list())
    point = thing_location = list(thing.get_locations().query().list())[0].location["coordinates"]
    hit = list(
        svc.locations().query().filter(f"geo.intersects(location, geography'POINT({point[0]} {point[1]})')").list()
    )
    sensors = list(svc.sensors().query().list())
    properties = list(svc.observed_properties().query().orderby("name", "asc").list())
    features = list(svc.features_of_interest().query().list())
    print(
        json.dumps(
            {
                "things": len(things),
                "found": found.name,
                "datastreams": len(datastreams),
                "unit": ds.unit_of_measurement.symbol,
                "count": pages.count,
                "observations": [[millis(o.phenomenon_time), o.result] for o in observations],
                "above_2m": len(above),
                "one_day": len(one_day),
                "inside_genova": sorted(l.name for l in inside),
                "at_point": sorted(l.name for l in hit),
                "sensors": len(sensors),
                "observed_properties": [p.name for p in properties],
                "features": len(features),
                "location": thing_location,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
