"""An open-loop HTTP/1.1 load generator on loopback (the wrk2 method, in asyncio).

Requests are *scheduled* at a constant rate, independently of how fast the server answers;
the latency of a request is measured from its scheduled start, so a server that falls behind
sees its queueing delay counted (no "coordinated omission"). Connections are kept alive and
pooled; a request that finds no idle connection opens a new one (up to ``max_conns``) or
waits, and the wait is part of its latency.

It is a helper of ``bench_load.py`` (not a benchmark by itself). It runs in its own process
so its CPU time is separate from the server's; it reports its own CPU time so a reader can
see when the generator, not the server, was the limit.

Usage (JSON on stdout): ``python bench/loadgen.py PORT RATE SECONDS PATHS_FILE``.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time

HOST = "127.0.0.1"
TIMEOUT_S = 5.0


class Pool:
    def __init__(self, port: int, max_conns: int) -> None:
        self.port = port
        self.max_conns = max_conns
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.open = 0
        self.waiters: list[asyncio.Future] = []

    async def get(self):
        if self.idle:
            return self.idle.pop()
        if self.open < self.max_conns:
            self.open += 1
            try:
                return await asyncio.open_connection(HOST, self.port)
            except OSError:
                self.open -= 1
                raise
        fut = asyncio.get_running_loop().create_future()
        self.waiters.append(fut)
        return await fut

    def put(self, conn) -> None:
        while self.waiters:
            fut = self.waiters.pop(0)
            if not fut.done():
                fut.set_result(conn)
                return
        self.idle.append(conn)

    def drop(self, conn) -> None:
        self.open -= 1
        conn[1].close()


async def fetch(pool: Pool, path: str) -> int:
    conn = await pool.get()
    reader, writer = conn
    try:
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nAccept-Encoding: identity\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        close = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        if length:
            await reader.readexactly(length)
    except BaseException:
        pool.drop(conn)
        raise
    if close:
        pool.drop(conn)
    else:
        pool.put(conn)
    return status


async def run(port: int, rate: float, seconds: float, paths: list[str], max_conns: int) -> dict:
    pool = Pool(port, max_conns)
    latencies: list[float] = []
    errors = {"status": 0, "timeout": 0, "io": 0}
    loop = asyncio.get_running_loop()
    n = int(rate * seconds)
    start = loop.time() + 0.05
    tasks = []

    async def one(i: int, intended: float) -> None:
        try:
            status = await asyncio.wait_for(fetch(pool, paths[i % len(paths)]), TIMEOUT_S)
        except TimeoutError:
            errors["timeout"] += 1
            return
        except (OSError, asyncio.IncompleteReadError, ValueError):
            errors["io"] += 1
            return
        latencies.append(loop.time() - intended)
        if status != 200:
            errors["status"] += 1

    for i in range(n):
        intended = start + i / rate
        delay = intended - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(i, intended)))
    await asyncio.gather(*tasks)
    elapsed = loop.time() - start
    for reader_writer in pool.idle:
        reader_writer[1].close()
    return {
        "rate": rate,
        "sent": n,
        "ok": len(latencies) - errors["status"],
        "errors": errors,
        "elapsed_s": elapsed,
        "achieved_rps": len(latencies) / elapsed if elapsed > 0 else 0.0,
        "latencies_s": latencies,
        "connections": pool.open,
    }


def main() -> int:
    port, rate, seconds, paths_file = sys.argv[1:5]
    max_conns = int(sys.argv[5]) if len(sys.argv) > 5 else 64
    with open(paths_file, encoding="utf-8") as fh:
        paths = [line.rstrip("\n") for line in fh if line.strip()]
    t0 = time.process_time()
    result = asyncio.run(run(int(port), float(rate), float(seconds), paths, max_conns))
    result["generator_cpu_s"] = time.process_time() - t0
    result["generator_maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
