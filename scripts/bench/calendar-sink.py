"""A CalDAV-shaped sink for the write-back variant of the booking benchmarks:
answers PUT with 201 and an ETag, DELETE with 204, REPORT with an empty
multistatus, and GET /count with how many distinct resources were PUT and
how many PUTs there were ("events puts"). Not a test.

    python3 calendar-sink.py PORT
"""

import http.server
import sys
import threading

lock = threading.Lock()
puts = 0
resources = set()


class Sink(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _drain(self):
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)

    def _answer(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self):
        global puts
        self._drain()
        with lock:
            puts += 1
            resources.add(self.path)
            n = puts
        self._answer(201, headers=[("etag", f'"{n}"')])

    def do_DELETE(self):
        self._drain()
        self._answer(204)

    def do_REPORT(self):
        self._drain()
        self._answer(207, b'<?xml version="1.0"?><multistatus xmlns="DAV:"/>',
                     [("content-type", "application/xml")])

    def do_GET(self):
        with lock:
            answer = f"{len(resources)} {puts}"
        self._answer(200, answer.encode())


http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
