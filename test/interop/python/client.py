#!/usr/bin/env python3
"""Interop client for the gateway, built on the `websockets` library.

Usage: client.py ws://host:port/ws

Runs text and binary echoes, a 1 MiB message, a compressed exchange, a ping
and a clean close with code 1000. Prints one JSON line per check and exits
non-zero at the first failure.
"""
import asyncio
import json
import sys

import websockets
from websockets.extensions import permessage_deflate
from websockets.frames import Opcode

# RSV1 of each data frame the client receives, recorded on the way into the
# library's inflater: the compressed exchange must arrive compressed on the
# wire, not only echo the right text.
received_rsv1 = []
_decode = permessage_deflate.PerMessageDeflate.decode


def _recording_decode(self, frame, *args, **kwargs):
    if frame.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
        received_rsv1.append(bool(frame.rsv1))
    return _decode(self, frame, *args, **kwargs)


permessage_deflate.PerMessageDeflate.decode = _recording_decode


def report(check, ok, **detail):
    print(json.dumps({"check": check, "ok": ok, **detail}), flush=True)
    if not ok:
        sys.exit(1)


async def run(url):
    async with websockets.connect(url, compression="deflate", max_size=2 * 1024 * 1024) as ws:
        extensions = ws.response_headers.get("Sec-WebSocket-Extensions", "")
        report("connect", True, library="websockets " + websockets.__version__, extensions=extensions)

        await ws.send("héllo from python ✓")
        got = await asyncio.wait_for(ws.recv(), 5)
        report("text echo", got == "héllo from python ✓", got=got)

        payload = bytes(range(256)) * 16
        await ws.send(payload)
        got = await asyncio.wait_for(ws.recv(), 5)
        report("binary echo", isinstance(got, bytes) and got == payload, size=len(got))

        big = bytes((i * 7) % 251 for i in range(1024 * 1024))
        await ws.send(big)
        got = await asyncio.wait_for(ws.recv(), 10)
        report("1 MiB message", got == big, size=len(got))

        text = '{"topic":"prices","symbol":"GW","price":123.45},' * 2000
        received_rsv1.clear()
        await ws.send(text)
        got = await asyncio.wait_for(ws.recv(), 5)
        compressed = bool(received_rsv1) and received_rsv1[0]
        report("compressed exchange", "permessage-deflate" in extensions and compressed and got == text,
               extensions=extensions, size=len(got), rsv1=received_rsv1[:4])

        pong = await ws.ping(b"interop ping")
        await asyncio.wait_for(pong, 5)
        report("ping", True)

        await ws.close(code=1000, reason="python done")
        report("close 1000", ws.close_code == 1000, code=ws.close_code, reason=ws.close_reason)


if __name__ == "__main__":
    asyncio.run(run(sys.argv[1]))
