"""An open-loop HTTP/1.1 load generator on loopback (the wrk2 method, in asyncio).

Requests are *scheduled* at a constant rate, independently of how fast the server answers;
the latency of a request is measured from its scheduled start, so a server that falls behind
sees its queueing delay counted (no "coordinated omission"). Connections are kept alive and
pooled; a request that finds no idle connection opens a new one (up to ``max_conns``) or
waits, and the wait is part of its latency.

It is a helper of ``bench_load.py`` (not a benchmark by itself). It runs in its own process
so its CPU time is separate from the server's; it reports its own CPU time so a reader can
see when the generator, not the server, was the limit.

Usage (JSON on stdout): ``python bench/loadgen.py PORT RATE SECONDS PATHS_FILE [MAX_CONNS]``.

**Clients mode** (``--clients N``): N clients, each with its *own* kept-alive connection,
all opened at the start and held open to the end (as browsers keep theirs). The rate is
split evenly: client ``i`` sends its ``k``-th request at ``start + (k * N + i) / RATE``, one
at a time on its connection; a request not answered ``TIMEOUT_S`` after its scheduled time is
a timeout (its connection is then closed and the next request opens a new one). Reported
per run: answers by status, timeouts and I/O errors, the latency of every answer and of each
client's first answer (both from the scheduled time), each client's longest wait, and how
many clients never got an answer.
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


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str):
    """One request on a kept-alive connection: ``(status, server_closes)``."""
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nAccept-Encoding: identity\r\n\r\n".encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    length, close = 0, False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            close = True
    if length:
        await reader.readexactly(length)
    return int(head[9:12]), close


async def run_clients(port: int, rate: float, seconds: float, paths: list[str], n: int) -> dict:
    """The clients mode (see the module text)."""
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05
    end = start + seconds
    statuses: dict[str, int] = {}
    errors = {"timeout": 0, "io": 0}
    latencies: list[float] = []
    refused: list[float] = []  # latencies of the 503 answers alone
    clients: list[dict] = []

    async def client(i: int) -> None:
        me = {"sent": 0, "answered": 0, "first_s": None, "max_wait_s": 0.0}
        clients.append(me)
        conn = None
        k = 0
        while (intended := start + (k * n + i) / rate) < end:
            path = paths[(k * n + i) % len(paths)]
            k += 1
            if intended > loop.time():
                await asyncio.sleep(intended - loop.time())
            me["sent"] += 1
            try:
                budget = intended + TIMEOUT_S - loop.time()
                if budget <= 0:
                    raise TimeoutError
                async with asyncio.timeout(budget):
                    if conn is None:
                        conn = await asyncio.open_connection(HOST, port)
                    status, close = await _exchange(*conn, path)
            except TimeoutError:
                errors["timeout"] += 1
                me["max_wait_s"] = max(me["max_wait_s"], loop.time() - intended)
                if conn is not None:
                    conn[1].close()
                conn = None
                continue
            except (OSError, asyncio.IncompleteReadError, ValueError):
                errors["io"] += 1
                if conn is not None:
                    conn[1].close()
                conn = None
                continue
            wait = loop.time() - intended
            latencies.append(wait)
            if status == 503:
                refused.append(wait)
            statuses[str(status)] = statuses.get(str(status), 0) + 1
            me["answered"] += 1
            me["max_wait_s"] = max(me["max_wait_s"], wait)
            if me["first_s"] is None:
                me["first_s"] = wait
            if close:
                conn[1].close()
                conn = None
        if conn is not None:
            await asyncio.sleep(max(0.0, end - loop.time()))  # kept alive to the end
            conn[1].close()

    await asyncio.gather(*(client(i) for i in range(n)))
    elapsed = loop.time() - start
    firsts = [c["first_s"] for c in clients if c["first_s"] is not None]
    return {
        "clients": n,
        "rate": rate,
        "seconds": seconds,
        "sent": sum(c["sent"] for c in clients),
        "statuses": statuses,
        "errors": errors,
        "elapsed_s": elapsed,
        "latencies_s": latencies,
        "refused_latencies_s": refused,
        "first_answer_s": firsts,
        "clients_never_answered": n - len(firsts),
        "clients_all_answered": sum(1 for c in clients if c["answered"] == c["sent"]),
        "max_client_wait_s": max((c["max_wait_s"] for c in clients), default=0.0),
    }


def main() -> int:
    args = sys.argv[1:]
    n_clients = 0
    if args and args[0] == "--clients":
        n_clients, args = int(args[1]), args[2:]
    port, rate, seconds, paths_file = args[:4]
    max_conns = int(args[4]) if len(args) > 4 else 64
    with open(paths_file, encoding="utf-8") as fh:
        paths = [line.rstrip("\n") for line in fh if line.strip()]
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # one descriptor per client
    t0 = time.process_time()
    if n_clients:
        coro = run_clients(int(port), float(rate), float(seconds), paths, n_clients)
    else:
        coro = run(int(port), float(rate), float(seconds), paths, max_conns)
    result = asyncio.run(coro)
    result["generator_cpu_s"] = time.process_time() - t0
    result["generator_maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
