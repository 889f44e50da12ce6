// Drives the gateway's chat demo page (the real centrifuge JS SDK, served
// by the gateway from /vendor/centrifuge.js) in headless Chromium with
// playwright-core: two pages join one room, chat both ways, see each other
// present, one reloads and sees the history, one loses its connection (the
// Go test cuts it at the proxy) and recovers what was said meanwhile.
// Saves a screenshot of each page.
//
// Usage: node chat.mjs '<json options>'
// Options: page (the chat page's URL), cutPage (the same through the test's
// cuttable proxy, for bob), backend (POST /cut, /restore), room, shots (a
// path prefix for the screenshots), chromium (the browser's path).
import { chromium } from 'playwright-core';

const opts = JSON.parse(process.argv[2]);
let checks = 0;

function report(check, ok, detail = {}) {
  console.log(JSON.stringify({ scenario: 'chat', check, ok, ...detail }));
  checks++;
  if (!ok) throw new Error(`check failed: ${check}`);
}

const control = (path) => fetch(opts.backend + path, { method: 'POST' }).then((r) => {
  if (!r.ok) throw new Error(`${path}: ${r.status}`);
});

const browser = await chromium.launch({
  executablePath: opts.chromium,
  headless: true,
  // Chromium's own background traffic is refused by a closed network;
  // these flags keep it quiet (see test/interop/node/browser.mjs).
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
});

const texts = (page, selector) => page.$$eval(selector, (els) => els.map((e) => e.textContent));
const messages = (page) => page.$$eval('#messages li.msg', (els) => els.map((e) =>
  [e.querySelector('.name').textContent, e.querySelector('.text').textContent]));
const waitMessage = (page, text, timeout = 10000) => page.waitForFunction(
  (t) => [...document.querySelectorAll('#messages li.msg .text')].some((e) => e.textContent === t), text, { timeout });

async function open(name, url) {
  const page = await browser.newPage({ viewport: { width: 1000, height: 700 } });
  page.on('console', (m) => console.error(`${name} console:`, m.text()));
  page.on('pageerror', (e) => console.error(`${name} page error:`, String(e)));
  const response = await page.goto(url);
  report(`${name}: page loads`, response.status() === 200, { status: response.status(), title: await page.title() });
  await page.fill('#name', name);
  await page.fill('#room', opts.room);
  await page.click('#join');
  await page.waitForSelector('#status.connected', { timeout: 10000 });
  await page.waitForFunction(() => !document.getElementById('send').disabled, null, { timeout: 10000 });
  return page;
}

async function say(page, text) {
  await page.fill('#text', text);
  await page.click('#send');
}

let failed = false;
try {
  const alice = await open('alice', opts.page);
  report('the SDK is the embedded one', await alice.evaluate(() => typeof Centrifuge === 'function' &&
    window.chat.client.state === 'connected'), { version: await alice.textContent('#sdk-version') });
  const bob = await open('bob', opts.cutPage);

  await say(alice, 'hello bob');
  await waitMessage(bob, 'hello bob');
  await say(bob, 'hi alice ✓');
  await waitMessage(alice, 'hi alice ✓');
  const want = [['alice', 'hello bob'], ['bob', 'hi alice ✓']];
  report('chat both ways, in order', JSON.stringify(await messages(alice)) === JSON.stringify(want) &&
    JSON.stringify(await messages(bob)) === JSON.stringify(want), { alice: await messages(alice), bob: await messages(bob) });

  await alice.waitForFunction(() => document.querySelectorAll('#presence li').length === 2, null, { timeout: 5000 });
  await bob.waitForFunction(() => document.querySelectorAll('#presence li').length === 2, null, { timeout: 5000 });
  const pa = await texts(alice, '#presence li');
  const pb = await texts(bob, '#presence li');
  report('presence shows both', JSON.stringify(pa) === JSON.stringify(['alice (you)', 'bob']) &&
    JSON.stringify(pb) === JSON.stringify(['alice', 'bob (you)']) && (await alice.textContent('#presence-count')) === '2',
  { alice: pa, bob: pb });
  report('alice saw bob join', (await texts(alice, '#messages li.system')).some((t) => /joined$/.test(t)),
    { system: await texts(alice, '#messages li.system') });

  // Bob reloads: the page joins the room again from its URL and shows the
  // history; alice sees him leave and come back.
  await bob.reload();
  await bob.waitForSelector('#status.connected', { timeout: 10000 });
  await waitMessage(bob, 'hi alice ✓');
  const history = await bob.$$eval('#messages li.msg.history', (els) => els.map((e) =>
    [e.querySelector('.name').textContent, e.querySelector('.text').textContent]));
  report('history after a reload', JSON.stringify(history) === JSON.stringify(want), { history });
  await alice.waitForFunction(() => [...document.querySelectorAll('#messages li.system')].some((e) => / left$/.test(e.textContent)),
    null, { timeout: 5000 });
  await alice.waitForFunction(() => document.querySelectorAll('#presence li').length === 2, null, { timeout: 5000 });
  report('alice saw bob leave and come back', true, { system: await texts(alice, '#messages li.system') });

  // Bob's connection is cut at the socket; alice says three things; bob's
  // page reconnects by itself and recovers them.
  await control('/cut');
  await bob.waitForSelector('#status.connecting', { timeout: 10000 });
  await alice.waitForFunction(() => document.querySelectorAll('#presence li').length === 1, null, { timeout: 10000 });
  for (const t of ['while you were away 1', 'while you were away 2', 'while you were away 3']) await say(alice, t);
  await waitMessage(alice, 'while you were away 3');
  await control('/restore');
  await bob.waitForSelector('#status.connected', { timeout: 10000 });
  await waitMessage(bob, 'while you were away 3');
  const recovered = await messages(bob);
  const wantAll = [...want, ['alice', 'while you were away 1'], ['alice', 'while you were away 2'], ['alice', 'while you were away 3']];
  report('reconnected and recovered what was missed', JSON.stringify(recovered) === JSON.stringify(wantAll) &&
    (await texts(bob, '#messages li.system')).includes('reconnected: missed messages recovered'),
  { messages: recovered, system: await texts(bob, '#messages li.system') });

  await say(bob, 'back');
  await waitMessage(alice, 'back');
  report('live again after the recovery', JSON.stringify((await messages(alice)).at(-1)) === JSON.stringify(['bob', 'back']));

  await alice.screenshot({ path: `${opts.shots}-alice.png`, fullPage: true });
  await bob.screenshot({ path: `${opts.shots}-bob.png`, fullPage: true });
  report('screenshots', true, { paths: [`${opts.shots}-alice.png`, `${opts.shots}-bob.png`], browser: browser.version() });
} catch (err) {
  console.log(JSON.stringify({ scenario: 'chat', check: 'browser run', ok: false, error: String(err && err.stack || err) }));
  failed = true;
} finally {
  await browser.close();
}
if (!failed) console.log(JSON.stringify({ scenario: 'chat', done: checks }));
process.exit(failed ? 1 : 0);
