#!/usr/bin/env python3
"""slowproxy.py — a TCP proxy that adds latency (and optionally limits the
rate), for tests and benchmarks that need a "real link" on 127.0.0.1.

  slowproxy.py --target HOST:PORT --port-file PATH [--listen 127.0.0.1]
               [--delay-ms 25] [--rate BYTES_PER_SECOND]

Every byte is delivered --delay-ms after it was received, in each direction,
without serialising round trips (so pipelined commands really overlap).
It binds port 0, writes the port to --port-file (atomically), and serves
until it gets SIGTERM. Standard library only.
"""

import argparse
import asyncio
import collections
import os
import signal
import time


async def pump(reader, writer, delay, rate):
    """Copy reader to writer, each chunk released `delay` seconds after it arrived."""
    queue = collections.deque()
    more = asyncio.Event()
    done = False

    async def read_side():
        nonlocal done
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                queue.append((time.monotonic() + delay, data))
                more.set()
        except (ConnectionError, OSError):
            pass
        done = True
        more.set()

    async def write_side():
        try:
            while True:
                while not queue:
                    if done:
                        return
                    more.clear()
                    await more.wait()
                due, data = queue.popleft()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()
                if rate:
                    await asyncio.sleep(len(data) / rate)
        except (ConnectionError, OSError):
            pass
        finally:
            try:
                writer.close()
            except OSError:
                pass

    await asyncio.gather(read_side(), write_side())


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--listen", default="127.0.0.1")
    ap.add_argument("--delay-ms", type=float, default=25.0)
    ap.add_argument("--rate", type=float, default=0.0)
    args = ap.parse_args()
    host, port = args.target.rsplit(":", 1)
    delay = args.delay_ms / 1000.0

    async def handle(creader, cwriter):
        try:
            sreader, swriter = await asyncio.open_connection(host, int(port))
        except OSError:
            cwriter.close()
            return
        await asyncio.gather(pump(creader, swriter, delay, args.rate),
                             pump(sreader, cwriter, delay, args.rate))

    server = await asyncio.start_server(handle, args.listen, 0)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.sockets[0].getsockname()[1]))
    os.replace(tmp, args.port_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
