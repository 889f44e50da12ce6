// N clients of the official JS SDK (npm centrifuge) in Node, for
// test/cluster: node clients.mjs <ws-url> <channel> <count>
// Each connects, subscribes to the channel with recovery and reports on
// stdout one line per event, which the Go test parses:
//   connected <i> <client ID>     (the session ID: its first 4 hex digits are the node)
//   disconnected <i>
//   subscribed <i>
//   pub <i> <offset>
// It runs until stdin closes (the Go test ends it).
import WebSocket from 'ws';
import { Centrifuge } from 'centrifuge';

const [url, channel, count] = process.argv.slice(2);
const out = (line) => process.stdout.write(line + '\n');
const clients = [];
for (let i = 0; i < Number(count); i++) {
  const c = new Centrifuge(url, { websocket: WebSocket, minReconnectDelay: 50, maxReconnectDelay: 300 });
  c.on('connected', (ctx) => out(`connected ${i} ${ctx.client}`));
  c.on('disconnected', () => out(`disconnected ${i}`));
  c.on('connecting', () => out(`disconnected ${i}`));
  const s = c.newSubscription(channel, { recoverable: true });
  s.on('subscribed', () => out(`subscribed ${i}`));
  s.on('publication', (ctx) => out(`pub ${i} ${ctx.offset}`));
  s.subscribe();
  c.connect();
  clients.push(c);
}
process.stdin.resume();
process.stdin.on('end', () => {
  clients.forEach((c) => c.disconnect());
  process.exit(0);
});
