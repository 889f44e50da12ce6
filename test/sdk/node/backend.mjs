// The README's full loop with the official Centrifugo JS SDK (npm
// centrifuge 5.x, JSON) in Node: the gateway's proxies point at
// examples/backend, which knows alice-secret and bob-secret (cookie
// "session" or "Authorization: Bearer"), lets alice into "chat:" and
// "news", bob into "chat:", refuses publications containing "spam",
// stamps the rest with "by", and answers rpc "time".
//
// Usage: node backend.mjs '{"ws": "ws://gateway/connection/websocket"}'
//
// alice sends her Authorization in the connect command's headers map (SDK
// headers emulation: the gateway lists it in emulated_headers); bob his
// Cookie in the WebSocket upgrade request (ws options: http_headers).
//
// Prints one JSON line per check ({"check", "ok", ...details}) and
// {"done": <number of checks>} when every one passed; stops at the first
// failed check and exits non-zero.
import WebSocket from 'ws';
import { Centrifuge } from 'centrifuge';

const { ws: url } = JSON.parse(process.argv[2]);
const room = `chat:room-${process.pid}`;

let checks = 0;
class Failed extends Error {}
const report = (check, ok, detail = {}) => {
  console.log(JSON.stringify({ check, ok, ...detail }));
  checks++;
  if (!ok) throw new Failed(check);
};
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// record keeps an emitter's events and waits for the count-th of a name.
function record(emitter, names) {
  const list = [];
  let waiters = [];
  for (const name of names) {
    emitter.on(name, (ctx) => {
      list.push({ name, ctx });
      waiters = waiters.filter((w) => !w());
    });
  }
  const of = (name) => list.filter((e) => e.name === name).map((e) => e.ctx);
  const wait = (name, count = 1, ms = 5000) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${name} #${count} within ${ms}ms; events: ${
      JSON.stringify(list.map((e) => [e.name, e.ctx.code ?? e.ctx.data ?? '']))}`)), ms);
    const check = () => {
      const have = of(name);
      if (have.length < count) return false;
      clearTimeout(timer);
      resolve(have[count - 1]);
      return true;
    };
    if (!check()) waiters.push(check);
  });
  return { of, wait };
}

// CookieWebSocket sends bob's session cookie with the upgrade request.
class CookieWebSocket extends WebSocket {
  constructor(address, protocols) {
    super(address, protocols, { headers: { Cookie: 'session=bob-secret' } });
  }
}

function client(config) {
  const c = new Centrifuge(url, { websocket: WebSocket, minReconnectDelay: 50, maxReconnectDelay: 300, timeout: 5000, ...config });
  c.events = record(c, ['connecting', 'connected', 'disconnected', 'error']);
  return c;
}

function subscription(c, channel) {
  const s = c.newSubscription(channel);
  s.events = record(s, ['subscribing', 'subscribed', 'unsubscribed', 'publication', 'error']);
  s.subscribe();
  return s;
}

// refusal runs p, which must reject, and returns its error.
const refusal = (p) => p.then((r) => ({ resolved: r }), (e) => e);

async function main() {
  const alice = client({ headers: { Authorization: 'Bearer alice-secret' } });
  const bob = client({ websocket: CookieWebSocket });
  alice.connect();
  bob.connect();
  const [actx, bctx] = await Promise.all([alice.events.wait('connected'), bob.events.wait('connected')]);
  report('alice (headers emulation) and bob (cookie) connected through the connect proxy',
    alice.state === 'connected' && bob.state === 'connected' && actx.transport === 'websocket' && bctx.transport === 'websocket',
    { alice: actx.client, bob: bctx.client });

  const as = subscription(alice, room);
  const bs = subscription(bob, room);
  await Promise.all([as.events.wait('subscribed'), bs.events.wait('subscribed')]);
  report('subscribe proxy: chat: allowed for both', as.state === 'subscribed' && bs.state === 'subscribed');

  // Refused by the backend with 403: a non-temporary error, so the SDK
  // unsubscribes with its code and does not retry.
  const refused = [subscription(alice, 'lobby'), subscription(bob, 'news')];
  const unsubs = await Promise.all(refused.map((s) => s.events.wait('unsubscribed')));
  await sleep(300);
  report('subscribe proxy: refused with 403, unsubscribed, no retry',
    unsubs.every((u) => u.code === 403) && refused.every((s) => s.state === 'unsubscribed' && s.events.of('subscribed').length === 0 &&
      s.events.of('subscribing').length === 1),
    { unsubscribed: unsubs, subscribing: refused.map((s) => s.events.of('subscribing').length) });

  await as.publish({ text: 'hello' });
  const pub = await bs.events.wait('publication');
  report('publish proxy: rewritten with by: alice', same(pub.data, { by: 'alice', text: 'hello' }), { data: pub.data });
  report('client info: user alice, connInfo from the connect proxy',
    pub.info?.user === 'alice' && pub.info?.client === actx.client && same(pub.info?.connInfo, { name: 'Alice' }), { info: pub.info });

  const spam = await refusal(as.publish({ text: 'buy spam now' }));
  report('publish proxy: "spam" refused with 1000', spam.code === 1000 && spam.message === 'message refused', { error: spam });
  await as.publish({ text: 'bye' });
  await bs.events.wait('publication', 2);
  await as.events.wait('publication', 2);
  await sleep(200);
  const want = [{ by: 'alice', text: 'hello' }, { by: 'alice', text: 'bye' }];
  const got = [bs, as].map((s) => s.events.of('publication').map((p) => p.data));
  report('the refused publication reached nobody', got.every((g) => same(g, want)), { got });

  const before = Math.floor(Date.now() / 1000);
  const t = await alice.rpc('time', {});
  const after = Math.ceil(Date.now() / 1000);
  report('rpc proxy: time returns unix', Number.isInteger(t.data?.unix) && t.data.unix >= before && t.data.unix <= after,
    { data: t.data, before, after });
  const unknown = await refusal(alice.rpc('nope', {}));
  report('rpc proxy: unknown method refused with 104', unknown.code === 104, { error: unknown });
  report('the clients stayed connected', alice.state === 'connected' && bob.state === 'connected' &&
    alice.events.of('disconnected').length === 0 && bob.events.of('disconnected').length === 0);

  // No credentials: the backend answers disconnect 4501, terminal.
  const anon = client({});
  anon.connect();
  const d = await anon.events.wait('disconnected');
  await sleep(500);
  report('no credentials: disconnected 4501, no reconnect', d.code === 4501 && d.reason === 'unauthorized' &&
    anon.state === 'disconnected' && anon.events.of('connected').length === 0 && anon.events.of('connecting').length === 1,
  { disconnected: d, state: anon.state, connecting: anon.events.of('connecting').length });

  alice.disconnect();
  bob.disconnect();
}

try {
  await main();
  console.log(JSON.stringify({ done: checks }));
  process.exit(0);
} catch (err) {
  if (!(err instanceof Failed)) console.log(JSON.stringify({ check: 'script', ok: false, error: String(err?.stack || err) }));
  process.exit(1);
}
