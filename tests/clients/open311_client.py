"""Reads Vedetta's Open311 GeoReport v2 endpoint with an independent client, the `georeport` package (PyPI), in
both of its formats (JSON, and XML parsed with xmltodict), and prints what it read as one JSON document.

Usage: open311_client.py ROOT_ADDRESS JURISDICTION_ID SERVICE_CODE SERVICE_REQUEST_ID
(e.g. http://127.0.0.1:8080/open311/v2 010025 buca_stradale 1).
"""

import json
import sys

from georeport import GeoReport


def main() -> None:
    root, jurisdiction, service_code, request_id = sys.argv[1:5]
    out = {}
    for fmt in ("json", "xml"):
        client = GeoReport(root, jurisdiction=jurisdiction, output_format=fmt)
        services = client.get_service_list()
        if isinstance(services, dict):  # xmltodict gives one child as a dict, several as a list
            services = [services]
        definition = client.get_service_definition(service_code)
        request = client.get_service_request(request_id)
        listed = client.get_service_requests(service_request_id=request_id)
        if isinstance(listed, dict):
            listed = [listed]
        out[fmt] = {
            "services": [
                {"service_code": s["service_code"], "service_name": s["service_name"]} for s in services
            ],
            "definition": definition,
            "request": request,
            "listed_ids": [r["service_request_id"] for r in listed],
        }
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
