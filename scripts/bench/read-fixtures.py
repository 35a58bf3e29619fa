"""Bookings for the availability-read benchmarks (bench-http.sh, ab-reads.sh):
the seed service (`srv_consultation`) with 40 bookings in January 2029, the
dense service (`srv_dense`, 15 minutes, 24x7) with 1,000 bookings in one 31-day
window from 2029-03-01. Both services must exist.

Usage: python3 scripts/bench/read-fixtures.py PORT KEY
"""
import datetime
import json
import sys
import urllib.request

port, key = sys.argv[1], sys.argv[2]


def book(service, at):
    body = json.dumps({"service": service, "scheduled_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                       "customer": {"email": "f@example.com", "name": "Fixture"}}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/bookings", data=body,
                                 headers={"Authorization": f"Bearer {key}",
                                          "Content-Type": "application/json"})
    urllib.request.urlopen(req).read()


day, n = datetime.datetime(2029, 1, 1, 15), 0
while n < 40:
    if day.weekday() < 5:
        for h in (0, 3):
            book("srv_consultation", day + datetime.timedelta(hours=h))
            n += 1
    day += datetime.timedelta(days=1)
start = datetime.datetime(2029, 3, 1)
for i in range(1000):
    book("srv_dense", start + datetime.timedelta(minutes=45 * i))
