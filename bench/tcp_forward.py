"""A TCP forwarder: listen on ADDRESS:PORT and relay each connection to TARGET_HOST:TARGET_PORT.

bench/hosts.py starts one on the host side of a second "host" (a network namespace) so that
services listening on 127.0.0.1 only (PostgreSQL, Redis, the sandboxes) are reachable from it,
without touching their configuration. Prints "forwarding" once every port listens.

    python bench/tcp_forward.py 10.231.7.1 5432=127.0.0.1:5432 6379=127.0.0.1:6379
"""

import asyncio
import contextlib
import sys


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


def _relay(host: str, port: int):  # noqa: ANN202
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            target_reader, target_writer = await asyncio.open_connection(host, port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, target_writer), _pipe(target_reader, writer))

    return handle


async def main(address: str, rules: list[str]) -> None:
    servers = []
    for rule in rules:
        listen, _, target = rule.partition("=")
        host, _, port = target.rpartition(":")
        servers.append(await asyncio.start_server(_relay(host, int(port)), address, int(listen)))
    print("forwarding", flush=True)
    await asyncio.gather(*(server.serve_forever() for server in servers))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2:]))
