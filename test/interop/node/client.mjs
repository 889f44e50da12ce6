// Interop client for the gateway, built on Node's `ws` library.
//
// Usage: node client.mjs ws://host:port/ws
//
// Runs text and binary echoes, a 1 MiB message, a compressed exchange, a
// ping and a clean close with code 1000. Prints one JSON line per check and
// exits non-zero at the first failure.
import WebSocket, { Receiver } from 'ws';

// Messages the library had to inflate: ws calls Receiver.decompress only for
// a message whose first frame has RSV1 set, so the compressed exchange is
// checked on the wire, not only by its echo.
let inflated = 0;
const decompress = Receiver.prototype.decompress;
Receiver.prototype.decompress = function (...args) {
  inflated++;
  return decompress.apply(this, args);
};

const url = process.argv[2];

function report(check, ok, detail = {}) {
  console.log(JSON.stringify({ check, ok, ...detail }));
  if (!ok) process.exit(1);
}

function next(ws, event) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within 10s`)), 10000);
    ws.once(event, (...args) => { clearTimeout(timer); resolve(args); });
  });
}

const ws = new WebSocket(url, { perMessageDeflate: true, maxPayload: 2 * 1024 * 1024 });
ws.on('error', (err) => report('error', false, { error: String(err) }));
await next(ws, 'open');
report('connect', true, { library: 'ws', extensions: ws.extensions });

ws.send('héllo from node ✓');
let [data, isBinary] = await next(ws, 'message');
report('text echo', !isBinary && data.toString() === 'héllo from node ✓', { got: data.toString() });

const payload = Buffer.alloc(4096, 0).map((_, i) => i % 256);
ws.send(payload);
[data, isBinary] = await next(ws, 'message');
report('binary echo', isBinary && Buffer.compare(data, payload) === 0, { size: data.length });

const big = Buffer.alloc(1024 * 1024).map((_, i) => (i * 7) % 251);
ws.send(big);
[data] = await next(ws, 'message');
report('1 MiB message', Buffer.compare(data, big) === 0, { size: data.length });

const text = '{"topic":"prices","symbol":"GW","price":123.45},'.repeat(2000);
const inflatedBefore = inflated;
ws.send(text);
[data, isBinary] = await next(ws, 'message');
report('compressed exchange', ws.extensions.includes('permessage-deflate') && inflated === inflatedBefore + 1 &&
  !isBinary && data.toString() === text, { extensions: ws.extensions, size: data.length, inflated: inflated - inflatedBefore });

ws.ping(Buffer.from('interop ping'));
[data] = await next(ws, 'pong');
report('ping', data.toString() === 'interop ping', { payload: data.toString() });

ws.close(1000, 'node done');
const [code, reason] = await next(ws, 'close');
report('close 1000', code === 1000, { code, reason: reason.toString() });
