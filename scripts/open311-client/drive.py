"""Drives an Open311 GeoReport v2 server with two published clients from PyPI.

  georeport  (GeoReport)     reads: services, a service definition, requests
                             and one request, in JSON and in XML.
  civicbot   (Open311Client) posts a request with an api_key, after checking
                             it against the server's service definition, and
                             reads back (JSON only: it has no XML reader).

Neither client can do everything: georeport does not post, civicbot does
not read XML. Output is one JSON object a line: {"step", "client",
"format", "data"}; the first failure ends the run with a traceback on stderr
and exit status 1.

  python drive.py ENDPOINT --api-key KEY --service CODE --hamlet ID
                  --description TEXT [--lat X --long Y]
                  [--point-lat X --point-long Y] [--address TEXT] [--unplaced TEXT]

With --point-lat/--point-long civicbot also posts a request with that
location alone (no hamlet id), with --address one with that address_string
alone, and with --unplaced one whose address names no hamlet (its error is
printed); each placed request is read back by georeport.
"""

import argparse
import json
import sys

import civicbot
from civicbot.http import HttpError, HttpTransport, RateLimiter
from georeport import GeoReport


def emit(step, client, fmt, data):
    line = {"step": step, "client": client, "format": fmt, "data": data}
    print(json.dumps(line, ensure_ascii=False, default=str), flush=True)


def as_list(x):
    """xmltodict gives a dict for a single repeated element, a list for more."""
    if x is None:
        return []
    return x if isinstance(x, list) else [x]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("endpoint", help="the server's Open311 base URL, e.g. http://127.0.0.1:8080/open311/v2")
    p.add_argument("--api-key", required=True)
    p.add_argument("--service", required=True)
    p.add_argument("--hamlet", required=True)
    p.add_argument("--description", required=True)
    p.add_argument("--lat", type=float)
    p.add_argument("--long", type=float)
    p.add_argument("--point-lat", type=float)
    p.add_argument("--point-long", type=float)
    p.add_argument("--address")
    p.add_argument("--unplaced")
    a = p.parse_args()

    # georeport: every read, in both formats.
    readers = {fmt: GeoReport(a.endpoint, output_format=fmt) for fmt in ("json", "xml")}
    for fmt, r in readers.items():
        emit("services", "georeport", fmt, as_list(r.get_service_list()))
        emit("definition", "georeport", fmt, r.get_service_definition(a.service))

    # civicbot: POST, checked first against the live service list and
    # definition (validate_remote); no politeness delay against a test server.
    endpoint = civicbot.Endpoint(id="danvan", name="Dan Van", base_url=a.endpoint, write=True)
    transport = HttpTransport(rate_limiter=RateLimiter(min_interval=0.0))
    poster = civicbot.Open311Client(endpoint, transport=transport)
    emit("services", "civicbot", "json", poster.list_services())

    wrong = None
    try:
        poster.create_request(
            a.service, dry_run=False, confirm="SEND", api_key="not-a-key",
            address_id=a.hamlet, description=a.description,
            attributes={"hamlet_id": a.hamlet},
        )
    except HttpError as e:
        wrong = {"status": e.status, "body": json.loads(e.body)}
    emit("post_wrong_key", "civicbot", "json", wrong)

    sent = poster.create_request(
        a.service, dry_run=False, confirm="SEND", api_key=a.api_key,
        validate_remote=True, lat=a.lat, lng=a.long, description=a.description,
        attributes={"hamlet_id": a.hamlet, "severity": "normal"},
        first_name="Thị Hoa", last_name="Lê",
    )
    emit("post", "civicbot", "json", sent.response)
    created = sent.response[0]
    rid = created.get("service_request_id") or poster.get_token(created["token"])[0]["service_request_id"]

    emit("request", "civicbot", "json", poster.get_request(rid))
    emit("token", "civicbot", "json", poster.get_token(rid))
    for fmt, r in readers.items():
        emit("request", "georeport", fmt, r.get_service_request(rid))
        listed = as_list(r.get_service_requests(service_code=a.service, status="open"))
        emit("requests", "georeport", fmt, listed)
        emit("requests_by_id", "georeport", fmt, as_list(r.get_service_requests(service_request_id=rid)))

    # Without the hamlet id: a location alone, an address alone. civicbot
    # checks each against our service definition first (the hamlet is not
    # required there).
    placed = []
    if a.point_lat is not None:
        placed.append(("point", {"lat": a.point_lat, "lng": a.point_long}))
    if a.address:
        placed.append(("address", {"address_string": a.address}))
    for step, where in placed:
        sent = poster.create_request(
            a.service, dry_run=False, confirm="SEND", api_key=a.api_key,
            validate_remote=True, description=a.description, **where,
        )
        emit("post_" + step, "civicbot", "json", sent.response)
        rid = sent.response[0]["service_request_id"]
        for fmt, r in readers.items():
            emit("request_" + step, "georeport", fmt, r.get_service_request(rid))
    if a.unplaced:
        refused = None
        try:
            poster.create_request(
                a.service, dry_run=False, confirm="SEND", api_key=a.api_key,
                validate_remote=True, description=a.description, address_string=a.unplaced,
            )
        except HttpError as e:
            refused = {"status": e.status, "body": json.loads(e.body)}
        emit("post_unplaced", "civicbot", "json", refused)


if __name__ == "__main__":
    try:
        main()
    except HttpError as e:
        print(f"HTTP {e.status} {e.url}: {e.body}", file=sys.stderr)
        sys.exit(1)
