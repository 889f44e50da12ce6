// Runs one scenario of the gateway's SDK tests with the official Centrifugo
// JS SDK (npm centrifuge 5.x) in Node, on the ws library.
//
// Usage: node scenario.mjs '<json options>'
//
// Options (JSON): api (the gateway's server API base, http://admin/api),
// apiKey, format ("json" | "protobuf"), deflate (offer permessage-deflate or
// not), room (a channel name suffix unique to the run), and runs: the
// scenarios to run, all at once, each {ws, backend}: ws is the SDK's
// endpoint through the scenario's own cuttable TCP proxy, backend the Go
// test's token backend for it (GET /token, GET /subtoken, POST /cut, POST
// /restore).
//
// Prints one JSON line per check ({"scenario", "check", "ok", ...details}),
// and {"scenario", "done": <number of checks>} when all of a scenario's
// passed; a scenario stops at its first failed check. Exits non-zero when
// one failed.
import WebSocket from 'ws';
import { Centrifuge as JsonCentrifuge } from 'centrifuge';
import { Centrifuge as ProtobufCentrifuge } from 'centrifuge/build/protobuf';

const [optionsJSON] = process.argv.slice(2);
const opts = JSON.parse(optionsJSON);
const Centrifuge = opts.format === 'protobuf' ? ProtobufCentrifuge : JsonCentrifuge;

// Failed is thrown by a failed check; it ends its scenario.
class Failed extends Error {}

// Protobuf clients carry data as bytes (here always JSON text, as the
// server API publishes it); JSON clients as JSON values.
const dec = (d) => (d instanceof Uint8Array ? JSON.parse(new TextDecoder().decode(d)) : d);
const enc = (v) => (opts.format === 'protobuf' ? new TextEncoder().encode(JSON.stringify(v)) : v);
const decoded = (ctx) => (ctx && ctx.data instanceof Uint8Array && ctx.data.length > 0 ? { ...ctx, data: dec(ctx.data) } : ctx);

async function history(s, o) {
  const r = await s.history(o);
  return { ...r, publications: r.publications.map(decoded) };
}

// same compares JSON renderings: exact, order included.
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// api calls the gateway's server API and returns its result, or throws on
// an error reply.
async function api(method, params) {
  const res = await fetch(`${opts.api}/${method}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-API-Key': opts.apiKey },
    body: JSON.stringify(params),
  });
  const body = await res.json();
  if (res.status !== 200 || body.error) throw new Error(`api ${method}: ${res.status} ${JSON.stringify(body)}`);
  return body.result ?? {};
}

// events records a client's or subscription's events, and waits for them.
class Events {
  constructor(emitter, names) {
    this.list = [];
    this.waiters = [];
    for (const name of names) {
      emitter.on(name, (raw) => {
        const ctx = decoded(raw);
        this.list.push({ name, ctx });
        this.waiters = this.waiters.filter((w) => !w(name, ctx));
      });
    }
  }

  of(name) {
    return this.list.filter((e) => e.name === name).map((e) => e.ctx);
  }

  // next resolves with the ctx of the count-th event called name (counted
  // from the start), waiting up to ms.
  wait(name, count = 1, ms = 10000) {
    return new Promise((resolve, reject) => {
      const have = this.of(name);
      if (have.length >= count) return resolve(have[count - 1]);
      let seen = have.length;
      const timer = setTimeout(() => reject(new Error(`no ${name} #${count} within ${ms}ms; events: ${
        JSON.stringify(this.list.map((e) => [e.name, e.ctx.code ?? e.ctx.data ?? '']))}`)), ms);
      this.waiters.push((n, ctx) => {
        if (n !== name || ++seen < count) return false;
        clearTimeout(timer);
        resolve(ctx);
        return true;
      });
    });
  }
}

const clientEvents = ['connecting', 'connected', 'disconnected', 'error'];
const subEvents = ['subscribing', 'subscribed', 'unsubscribed', 'publication', 'join', 'leave', 'error'];

// context gives a scenario its report function, its backend and the
// clients it makes (on a WebSocket class that records what was negotiated).
function context(name, run) {
  let checks = 0;
  const report = (check, ok, detail = {}) => {
    console.log(JSON.stringify({ scenario: name, check, ok, ...detail }));
    checks++;
    if (!ok) throw new Failed(check);
  };
  // sockets are every WebSocket this scenario's clients opened.
  const sockets = [];
  class TrackedWebSocket extends WebSocket {
    constructor(url, protocols) {
      super(url, protocols, { perMessageDeflate: opts.deflate });
      sockets.push(this);
    }
  }
  const backend = async (path, method = 'GET') => {
    const res = await fetch(run.backend + path, { method });
    if (!res.ok) throw new Error(`backend ${path}: ${res.status} ${await res.text()}`);
    return res.text();
  };
  const connToken = (user, ttl = 3600) => backend(`/token?user=${encodeURIComponent(user)}&ttl=${ttl}`);
  const subToken = (user, channel, ttl = 3600) =>
    backend(`/subtoken?user=${encodeURIComponent(user)}&channel=${encodeURIComponent(channel)}&ttl=${ttl}`);
  const newClient = (config) => {
    const c = new Centrifuge(run.ws, {
      websocket: TrackedWebSocket,
      minReconnectDelay: 50,
      maxReconnectDelay: 300,
      timeout: 5000,
      ...config,
    });
    c.events = new Events(c, clientEvents);
    return c;
  };
  return { report, sockets, backend, connToken, subToken, newClient, checks: () => checks };
}

function newSub(c, channel, config = {}) {
  const s = c.newSubscription(channel, config);
  s.events = new Events(s, subEvents);
  return s;
}

async function connected(c) {
  c.connect();
  const ctx = await c.events.wait('connected');
  return ctx;
}

// pubData is what the publications carry: {n: 1}, {n: 2}, ...
const pubData = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => ({ n: from + i }));
const offsetNumber = (o) => Number(o);

async function publishAll(channel, list) {
  const results = [];
  for (const data of list) results.push(await api('publish', { channel, data }));
  return results;
}

function closeAll(...clients) {
  for (const c of clients) c.disconnect();
}

const scenarios = {
  // Connect with an HS256 token signed by the Go test; a token with a bad
  // signature is refused with 3500 and the SDK does not reconnect.
  async connect({ report, sockets, backend, connToken, subToken, newClient }) {
    const c = newClient({ token: await connToken('alice') });
    const ctx = await connected(c);
    const ws = sockets[0];
    report('connected with a token', c.state === 'connected' && /^[0-9a-f-]{8,}/.test(ctx.client) && ctx.transport === 'websocket',
      { client: ctx.client, transport: ctx.transport, state: c.state });
    report('subprotocol', ws.protocol === (opts.format === 'protobuf' ? 'centrifuge-protobuf' : ''), { protocol: ws.protocol });
    report('permessage-deflate', ws.extensions.includes('permessage-deflate') === opts.deflate, { extensions: ws.extensions });
    const info = await api('info', {});
    const conns = info.nodes.reduce((n, node) => n + node.num_clients, 0);
    report('the server API counts the client', conns >= 1 && info.nodes.reduce((n, node) => n + node.num_users, 0) >= 1,
      { num_clients: conns });
    c.disconnect();
    report('disconnect by the client', c.state === 'disconnected' && same(c.events.of('disconnected').map((e) => e.code), [0]),
      { disconnected: c.events.of('disconnected') });

    // The signature's first character carries six bits of it (the last
    // one's low bits are padding, which lenient base64 decoders ignore).
    const [head, payload, sig] = (await connToken('mallory')).split('.');
    const bad = [head, payload, (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1)].join('.');
    const b = newClient({ token: bad });
    b.connect();
    const d = await b.events.wait('disconnected');
    await sleep(300);
    report('a forged token: disconnected 3500, no reconnect', d.code === 3500 && b.state === 'disconnected' &&
      b.events.of('connected').length === 0 && b.events.of('connecting').length === 1, { disconnected: d, state: b.state });
  },

  // Subscribe, then publications made through the server API arrive in
  // order, with the offsets the API returned.
  async pubsub({ report, sockets, backend, connToken, subToken, newClient }) {
    const channel = `chat:pubsub-${opts.room}`;
    const c = newClient({ token: await connToken('alice') });
    await connected(c);
    const s = newSub(c, channel);
    s.subscribe();
    const sctx = await s.events.wait('subscribed');
    report('subscribed', s.state === 'subscribed' && sctx.channel === channel && sctx.recoverable && sctx.streamPosition.offset === 0,
      { ctx: sctx });
    const results = await publishAll(channel, pubData(1, 3));
    await s.events.wait('publication', 3);
    const pubs = s.events.of('publication');
    report('three API publications, in order', same(pubs.map((p) => p.data), pubData(1, 3)),
      { got: pubs.map((p) => p.data) });
    report('offsets are the API\'s', same(pubs.map((p) => offsetNumber(p.offset)), results.map((r) => r.offset)) &&
      same(results.map((r) => r.offset), [1, 2, 3]), { sdk: pubs.map((p) => offsetNumber(p.offset)), api: results });
    await s.publish(enc({ n: 4, from: 'client' }));
    await s.events.wait('publication', 4);
    report('a client publication comes back', same(s.events.of('publication')[3].data, { n: 4, from: 'client' }) &&
      s.events.of('publication')[3].info.user === 'alice', { got: s.events.of('publication')[3] });
    s.unsubscribe();
    await publishAll(channel, pubData(5, 5));
    await sleep(200);
    report('nothing after unsubscribe', s.events.of('publication').length === 4 && s.state === 'unsubscribed',
      { publications: s.events.of('publication').length });
    c.disconnect();
  },

  // Presence and presence_stats of two users, join and leave pushes, and
  // the server API's presence agreeing with the SDK's.
  async presence({ report, sockets, backend, connToken, subToken, newClient }) {
    const channel = `chat:presence-${opts.room}`;
    const a = newClient({ token: await connToken('alice') });
    const b = newClient({ token: await connToken('bob') });
    const actx = await connected(a);
    const bctx = await connected(b);
    const sa = newSub(a, channel);
    sa.subscribe();
    await sa.events.wait('subscribed');
    const sb = newSub(b, channel);
    sb.subscribe();
    await sb.events.wait('subscribed');
    await sa.events.wait('join', 2);
    await sb.events.wait('join', 1);
    const joins = (s) => s.events.of('join').map((j) => [j.info.user, j.info.client]);
    // As Centrifugo does, a subscriber gets its own join too.
    report('join pushes: alice sees both, in order', same(joins(sa), [['alice', actx.client], ['bob', bctx.client]]),
      { joins: joins(sa) });
    report('join pushes: bob sees his own', same(joins(sb), [['bob', bctx.client]]), { joins: joins(sb) });
    const p = await sa.presence();
    const clients = Object.fromEntries(Object.entries(p.clients).map(([id, info]) => [id, info.user]));
    report('presence: both clients', same(clients, { [actx.client]: 'alice', [bctx.client]: 'bob' }) ||
      same(clients, { [bctx.client]: 'bob', [actx.client]: 'alice' }), { clients });
    const stats = await sb.presenceStats();
    report('presence_stats', stats.numClients === 2 && stats.numUsers === 2, { stats });
    const viaAPI = await api('presence', { channel });
    report('the server API sees the same', same(Object.keys(viaAPI.presence).sort(), Object.keys(p.clients).sort()),
      { api: Object.keys(viaAPI.presence) });
    sb.unsubscribe();
    const leave = await sa.events.wait('leave');
    report('leave push', leave.info.user === 'bob' && leave.info.client === bctx.client, { leave });
    const after = await sa.presenceStats();
    report('presence_stats after the leave', after.numClients === 1 && after.numUsers === 1, { stats: after });
    closeAll(a, b);
  },

  // History: all, the newest first with a limit, and since a position.
  async history({ report, sockets, backend, connToken, subToken, newClient }) {
    const channel = `chat:history-${opts.room}`;
    const results = await publishAll(channel, pubData(1, 5));
    const c = newClient({ token: await connToken('alice') });
    await connected(c);
    const s = newSub(c, channel);
    s.subscribe();
    await s.events.wait('subscribed');
    const all = await history(s, { limit: -1 });
    report('history: all five, oldest first', same(all.publications.map((p) => p.data), pubData(1, 5)) &&
      same(all.publications.map((p) => offsetNumber(p.offset)), [1, 2, 3, 4, 5]) && offsetNumber(all.offset) === 5 &&
      all.epoch === results[0].epoch, { got: all.publications.map((p) => p.data), offset: all.offset, epoch: all.epoch });
    const newest = await history(s, { limit: 2, reverse: true });
    report('history: limit 2, reverse', same(newest.publications.map((p) => p.data), [{ n: 5 }, { n: 4 }]),
      { got: newest.publications.map((p) => p.data) });
    const since = await history(s, { limit: 10, since: { offset: 3, epoch: all.epoch } });
    report('history: since offset 3', same(since.publications.map((p) => p.data), [{ n: 4 }, { n: 5 }]),
      { got: since.publications.map((p) => p.data) });
    const position = await history(s, { limit: 0 });
    report('history: limit 0 gives the position only', position.publications.length === 0 &&
      offsetNumber(position.offset) === 5 && position.epoch === all.epoch, { got: position });
    let err = null;
    try {
      await history(s, { limit: 10, since: { offset: 3, epoch: 'not-the-epoch' } });
    } catch (e) {
      err = e;
    }
    report('history: a wrong epoch is 112', err !== null && err.code === 112, { error: err && { code: err.code, message: err.message } });
    c.disconnect();
  },

  // A private ($) channel: the SDK's getToken callback fetches a
  // subscription token; without one the subscription is refused with 103.
  async private({ report, sockets, backend, connToken, subToken, newClient }) {
    const channel = `$secret:${opts.room}`;
    const c = newClient({ token: await connToken('alice') });
    await connected(c);
    const asked = [];
    const s = newSub(c, channel, {
      getToken: async (ctx) => {
        asked.push(ctx.channel);
        return subToken('alice', ctx.channel);
      },
    });
    s.subscribe();
    await s.events.wait('subscribed');
    report('subscribed with a subscription token', same(asked, [channel]) && s.state === 'subscribed', { asked });
    await publishAll(channel, pubData(1, 2));
    await s.events.wait('publication', 2);
    report('publications on the private channel', same(s.events.of('publication').map((p) => p.data), pubData(1, 2)));

    const other = `$secret:other-${opts.room}`;
    const denied = newSub(c, other);
    denied.subscribe();
    const u = await denied.events.wait('unsubscribed');
    report('no token: unsubscribed with 103', u.code === 103 && denied.state === 'unsubscribed', { unsubscribed: u });

    const wrong = newSub(c, `$secret:third-${opts.room}`, { getToken: () => subToken('alice', other) });
    wrong.subscribe();
    const w = await Promise.race([wrong.events.wait('unsubscribed'), c.events.wait('disconnected')]);
    // As Centrifugo: a subscription token for another channel closes the
    // connection with 3500 (invalid token), terminal.
    await sleep(300);
    report('a token for another channel: disconnected 3500', w.code === 3500 && w.reason === 'invalid token' &&
      c.state === 'disconnected' && c.events.of('connected').length === 1, { ctx: w, sub: wrong.state, client: c.state });
  },

  // A connection token that expires in 2 s, refreshed by the SDK through
  // getToken: the connection stays, with the same client ID.
  async refresh({ report, sockets, backend, connToken, subToken, newClient }) {
    const channel = `chat:refresh-${opts.room}`;
    let calls = 0;
    const c = newClient({
      token: await connToken('alice', 5),
      getToken: () => { calls++; return connToken('alice', 5); },
    });
    const ctx = await connected(c);
    const s = newSub(c, channel);
    s.subscribe();
    await s.events.wait('subscribed');
    await sleep(6500);
    // Tokens live 4-5 s (exp is in whole seconds): at least one refresh in 6.5 s.
    report('getToken called for the refresh', calls >= 1, { calls });
    report('the connection stays', c.state === 'connected' &&
      same(c.events.list.map((e) => e.name), ['connecting', 'connected']),
    { events: c.events.list.map((e) => e.name), connecting: c.events.of('connecting'), errors: c.events.of('error') });
    await publishAll(channel, pubData(1, 1));
    await s.events.wait('publication');
    report('still receiving, same client', same(s.events.of('publication')[0].data, { n: 1 }) &&
      (await api('presence', { channel })).presence[ctx.client]?.user === 'alice');
    c.disconnect();
  },

  // The same token, not refreshed (the backend fails once): the server
  // closes with 3005, the SDK reconnects, gets a new token and is back.
  async expire({ report, sockets, backend, connToken, subToken, newClient }) {
    let calls = 0;
    const c = newClient({
      token: await connToken('alice', 5),
      getToken: () => {
        calls++;
        if (calls === 1) throw new Error('token backend is down');
        return connToken('alice', 60);
      },
    });
    const first = await connected(c);
    report('connected with a token that expires in 4-5 s', same(c.events.list.map((e) => e.name), ['connecting', 'connected']),
      { events: c.events.list.map((e) => e.name), errors: c.events.of('error') });
    const reconnecting = await c.events.wait('connecting', 2, 10000);
    report('expired: closed with 3005', reconnecting.code === 3005 && reconnecting.reason === 'connection expired',
      { connecting: reconnecting });
    const again = await c.events.wait('connected', 2, 10000);
    report('reconnected with a new token', calls === 2 && again.client !== first.client && c.state === 'connected' &&
      c.events.of('disconnected').length === 0, { calls, first: first.client, again: again.client });
    c.disconnect();
  },

  // A private channel's subscription token that expires in 4-5 s, refreshed
  // by the SDK (sub_refresh) through the subscription's getToken.
  async subRefresh({ report, connToken, subToken, newClient }) {
    const channel = `$secret:subrefresh-${opts.room}`;
    const c = newClient({ token: await connToken('alice') });
    await connected(c);
    let calls = 0;
    const s = newSub(c, channel, { getToken: (ctx) => { calls++; return subToken('alice', ctx.channel, 5); } });
    s.subscribe();
    await s.events.wait('subscribed');
    await sleep(6500);
    report('getToken called to subscribe and to refresh', calls >= 2, { calls });
    const states = s.events.list.map((e) => e.name).filter((n) => n !== 'join');
    report('the subscription stays', s.state === 'subscribed' && same(states, ['subscribing', 'subscribed']), { events: states });
    await publishAll(channel, pubData(1, 1));
    await s.events.wait('publication');
    report('still receiving', same(s.events.of('publication')[0].data, { n: 1 }) && c.events.of('connected').length === 1);
    c.disconnect();
  },

  // The same, not refreshed (the backend fails once): the server
  // unsubscribes with 2501, the SDK resubscribes with a new token.
  async subExpire({ report, connToken, subToken, newClient }) {
    const channel = `$secret:subexpire-${opts.room}`;
    const c = newClient({ token: await connToken('alice') });
    await connected(c);
    let calls = 0;
    const s = newSub(c, channel, {
      getToken: (ctx) => {
        calls++;
        if (calls === 2) throw new Error('token backend is down');
        return subToken('alice', ctx.channel, calls === 1 ? 5 : 60);
      },
    });
    s.subscribe();
    await s.events.wait('subscribed');
    const again = await s.events.wait('subscribing', 2, 10000);
    report('expired: unsubscribed with 2501, resubscribing', again.code === 2501, { subscribing: again });
    await s.events.wait('subscribed', 2, 10000);
    report('subscribed again with a new token, same connection', calls === 3 && s.state === 'subscribed' &&
      c.events.of('connected').length === 1 && c.state === 'connected', { calls });
    c.disconnect();
  },

  // Disconnect through the server API: 4000 reconnects, 4500 does not, and
  // neither does the default (3503 force disconnect).
  async disconnect({ report, sockets, backend, connToken, subToken, newClient }) {
    const user = `dis-${opts.room}`;
    const c = newClient({ token: await connToken(user) });
    const first = await connected(c);
    await api('disconnect', { user, disconnect: { code: 4000, reason: 'come back' } });
    const connecting = await c.events.wait('connecting', 2);
    report('4000: connecting with the code and reason', connecting.code === 4000 && connecting.reason === 'come back',
      { connecting });
    const again = await c.events.wait('connected', 2);
    report('4000: reconnected', again.client !== first.client && c.state === 'connected', { again: again.client });

    await api('disconnect', { user, disconnect: { code: 4500, reason: 'banned' } });
    const d = await c.events.wait('disconnected');
    await sleep(500);
    report('4500: disconnected, no reconnect', d.code === 4500 && d.reason === 'banned' && c.state === 'disconnected' &&
      c.events.of('connected').length === 2, { disconnected: d, state: c.state });

    const c2 = newClient({ token: await connToken(user) });
    await connected(c2);
    await api('disconnect', { user });
    const d2 = await c2.events.wait('disconnected');
    report('default: 3503, no reconnect', d2.code === 3503 && c2.state === 'disconnected', { disconnected: d2 });
  },

  // A gateway shutting down (SIGTERM, sent by the Go test on POST
  // /shutdown) closes channel clients with 3001: the SDK keeps trying.
  async shutdown({ report, backend, connToken, newClient }) {
    const c = newClient({ token: await connToken('alice') });
    await connected(c);
    const s = newSub(c, `chat:shutdown-${opts.room}`);
    s.subscribe();
    await s.events.wait('subscribed');
    await backend('/shutdown', 'POST');
    const lost = await c.events.wait('connecting', 2);
    report('shutdown: 3001, reconnecting', lost.code === 3001 && lost.reason === 'shutdown', { connecting: lost });
    await sleep(500);
    report('still trying, the subscription kept', c.state === 'connecting' && s.state === 'subscribing' &&
      c.events.of('disconnected').length === 0, { client: c.state, sub: s.state });
    c.disconnect();
  },

  // Recovery end to end: the test cuts the TCP connection, 50 publications
  // are made while the client is away, it reconnects by itself and gets
  // exactly those 50, in order, with recovered reported.
  async recovery({ report, sockets, backend, connToken, subToken, newClient }) {
    const channel = `chat:recovery-${opts.room}`;
    const c = newClient({ token: await connToken('alice') });
    const first = await connected(c);
    const s = newSub(c, channel);
    s.subscribe();
    await s.events.wait('subscribed');
    await publishAll(channel, pubData(1, 1));
    await s.events.wait('publication');
    await backend('/cut', 'POST');
    const lost = await c.events.wait('connecting', 2);
    report('the cut is seen as a transport close', lost.code === 1 && s.state === 'subscribing', { connecting: lost });
    const results = await publishAll(channel, pubData(2, 51));
    await backend('/restore', 'POST');
    const again = await c.events.wait('connected', 2);
    const sctx = await s.events.wait('subscribed', 2);
    report('reconnected by itself, recovered', again.client !== first.client && sctx.wasRecovering === true &&
      sctx.recovered === true, { ctx: sctx });
    await s.events.wait('publication', 51);
    await sleep(200);
    const pubs = s.events.of('publication').slice(1);
    report('exactly the 50 missed, in order', same(pubs.map((p) => p.data), pubData(2, 51)),
      { count: pubs.length, first: pubs[0]?.data, last: pubs.at(-1)?.data });
    report('with the offsets the API gave', same(pubs.map((p) => offsetNumber(p.offset)), results.map((r) => r.offset)));
    await publishAll(channel, pubData(52, 52));
    await s.events.wait('publication', 52);
    report('live again', same(s.events.of('publication')[51].data, { n: 52 }) && s.events.of('publication').length === 52);
    c.disconnect();
  },

  // Recovery across a forced reconnect: the server API disconnects the
  // client with 4000 while the proxy holds its reconnects back; 10
  // publications meanwhile are recovered, in order, and nothing twice.
  async forcedRecovery({ report, backend, connToken, newClient }) {
    const user = `forced-${opts.room}`;
    const channel = `chat:forced-${opts.room}`;
    const c = newClient({ token: await connToken(user) });
    await connected(c);
    const s = newSub(c, channel);
    s.subscribe();
    await s.events.wait('subscribed');
    await publishAll(channel, pubData(1, 2));
    await s.events.wait('publication', 2);
    await backend('/hold', 'POST');
    await api('disconnect', { user, disconnect: { code: 4000, reason: 'reconnect please' } });
    const lost = await c.events.wait('connecting', 2);
    report('disconnected with 4000, reconnecting', lost.code === 4000 && s.state === 'subscribing', { connecting: lost });
    await publishAll(channel, pubData(3, 12));
    await backend('/restore', 'POST');
    const sctx = await s.events.wait('subscribed', 2);
    report('recovered', sctx.wasRecovering === true && sctx.recovered === true, { ctx: sctx });
    await publishAll(channel, pubData(13, 13));
    await s.events.wait('publication', 13);
    await sleep(200);
    report('every publication exactly once, in order', same(s.events.of('publication').map((p) => p.data), pubData(1, 13)),
      { got: s.events.of('publication').map((p) => p.data.n) });
    c.disconnect();
  },

  // Past the history window (history_size 10 in namespace "brief"): the
  // resubscribe is told recovery failed, and nothing stale is delivered.
  async recoveryWindow({ report, sockets, backend, connToken, subToken, newClient }) {
    const channel = `brief:recovery-${opts.room}`;
    const c = newClient({ token: await connToken('alice') });
    await connected(c);
    const s = newSub(c, channel);
    s.subscribe();
    await s.events.wait('subscribed');
    await publishAll(channel, pubData(1, 1));
    await s.events.wait('publication');
    await backend('/cut', 'POST');
    await c.events.wait('connecting', 2);
    await publishAll(channel, pubData(2, 51));
    await backend('/restore', 'POST');
    const sctx = await s.events.wait('subscribed', 2);
    report('recovery failed: wasRecovering, not recovered', sctx.wasRecovering === true && sctx.recovered === false,
      { ctx: sctx });
    await publishAll(channel, pubData(52, 52));
    await s.events.wait('publication', 2);
    await sleep(200);
    const pubs = s.events.of('publication');
    report('only live publications after it', same(pubs.map((p) => p.data), [{ n: 1 }, { n: 52 }]),
      { got: pubs.map((p) => p.data) });
    c.disconnect();
  },
};

async function runScenario(name, run) {
  const t = context(name, run);
  const scenario = scenarios[name];
  try {
    if (!scenario) throw new Error(`unknown scenario ${name}`);
    let timer;
    await Promise.race([scenario(t), new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error('did not finish in 30s')), 30000);
    })]);
    clearTimeout(timer);
  } catch (err) {
    if (!(err instanceof Failed)) {
      console.log(JSON.stringify({ scenario: name, check: 'scenario', ok: false, error: String(err && err.stack || err) }));
    }
    return false;
  }
  console.log(JSON.stringify({ scenario: name, done: t.checks() }));
  return true;
}

const results = await Promise.all(Object.entries(opts.runs).map(([name, run]) => runScenario(name, run)));
process.exit(results.every(Boolean) ? 0 : 1);
