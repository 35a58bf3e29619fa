"""The CalDAV client side of the e2e tests (tests/suite/api/caldav.rs), on the
Python `caldav` library, so the server's CalDAV code is checked against an
independent client as well as a real server (Radicale).

    caldav_client.py make URL USER PASSWORD NAME     create calendar NAME, print its URL
    caldav_client.py add  CAL_URL USER PASSWORD FILE  store the iCalendar object in FILE
    caldav_client.py list CAL_URL USER PASSWORD       print the events as JSON lines

`list` prints one JSON object per event: its resource name, UID, DTSTART and
DTEND (UTC, RFC 3339), STATUS and SUMMARY.
"""

import datetime
import json
import sys

import caldav


def utc(value):
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.isoformat()


def main(argv):
    command, url, user, password = argv[1:5]
    client = caldav.DAVClient(url=url, username=user, password=password)
    if command == "make":
        calendar = client.principal().make_calendar(name=argv[5], cal_id=argv[5])
        print(str(calendar.url))
    elif command == "add":
        with open(argv[5], encoding="utf-8") as f:
            client.calendar(url=url).save_event(f.read())
    elif command == "list":
        for event in client.calendar(url=url).events():
            component = event.icalendar_component
            print(json.dumps({
                "resource": str(event.url).rstrip("/").rsplit("/", 1)[-1],
                "uid": str(component.get("uid")),
                "start": utc(component.decoded("dtstart")),
                "end": utc(component.decoded("dtend")),
                "status": str(component.get("status", "")),
                "summary": str(component.get("summary", "")),
            }))
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main(sys.argv)
