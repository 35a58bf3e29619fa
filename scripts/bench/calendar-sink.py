"""A CalDAV-shaped sink for the write-back variant of the booking benchmarks:
answers PUT with 201 and an ETag, DELETE with 204, REPORT with an empty
multistatus, and GET /count with how many distinct resources were PUT and
how many PUTs there were ("events puts"). Not a test.

    python3 calendar-sink.py PORT

It stands in for the calendar service, which runs on another machine: it
must cost this machine as little as it can, or the write-back rows measure
the sink. So it is a bare asyncio protocol on one thread (keep-alive HTTP/1.1,
no per-request thread or header parsing beyond what it needs): about a tenth
of the CPU per request of `http.server`'s threading server, which it
replaced (that one took most of a core at a few thousand writes per second).
"""

import asyncio
import sys

puts = 0
resources = set()

MULTISTATUS = b'<?xml version="1.0"?><multistatus xmlns="DAV:"/>'


def answer(status, reason, body=b"", headers=b""):
    return (b"HTTP/1.1 %d %s\r\n%scontent-length: %d\r\n\r\n"
            % (status, reason, headers, len(body))) + body


class Sink(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.buffer = b""

    def data_received(self, data):
        global puts
        self.buffer += data
        out = []
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head = self.buffer[:end]
            length = 0
            lower = head.lower()
            at = lower.find(b"\r\ncontent-length:")
            if at >= 0:
                stop = lower.find(b"\r\n", at + 2)
                length = int(lower[at + 17:stop if stop >= 0 else len(lower)])
            total = end + 4 + length
            if len(self.buffer) < total:
                break
            self.buffer = self.buffer[total:]
            line = head[:head.find(b"\r\n")] if b"\r\n" in head else head
            method, path = line.split(b" ", 2)[:2]
            if method == b"PUT":
                puts += 1
                resources.add(path)
                out.append(answer(201, b"Created", headers=b'etag: "%d"\r\n' % puts))
            elif method == b"DELETE":
                out.append(answer(204, b"No Content"))
            elif method == b"REPORT":
                out.append(answer(207, b"Multi-Status", MULTISTATUS,
                                  b"content-type: application/xml\r\n"))
            else:
                out.append(answer(200, b"OK", b"%d %d" % (len(resources), puts)))
        if out:
            self.transport.write(b"".join(out))


async def main(port):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Sink, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


asyncio.run(main(int(sys.argv[1])))
