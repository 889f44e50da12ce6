// Drives the gateway's demo page in headless Chromium with playwright-core:
// connect, type and send, read the log, then check binary and 1 MiB
// messages through the browser's own WebSocket, that the browser answers the
// server's pings, and a clean close with code 1000. Saves a screenshot.
//
// Usage: node browser.mjs http://host:port/echo screenshot.png [chromium path]
import { chromium } from 'playwright-core';

const [pageURL, screenshot, executablePath = '/usr/bin/chromium'] = process.argv.slice(2);

function report(check, ok, detail = {}) {
  console.log(JSON.stringify({ check, ok, ...detail }));
  if (!ok) throw new Error(`check failed: ${check}`);
}

const browser = await chromium.launch({
  executablePath,
  headless: true,
  // Chromium's own background traffic is refused by a closed network;
  // these flags keep it quiet (see the machine notes).
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
});
let failed = false;
try {
  const page = await browser.newPage({ viewport: { width: 1000, height: 760 } });
  page.on('console', (m) => console.error('page console:', m.text()));
  const response = await page.goto(pageURL);
  report('demo page', response.status() === 200, { status: response.status(), title: await page.title() });

  await page.click('#connect');
  await page.waitForSelector('#state.open', { timeout: 5000 });
  const connected = await page.textContent('#log li:last-child .text');
  report('connect', true, { log: connected, browser: browser.version() });

  await page.fill('#message', 'hello from chromium ✓');
  await page.click('#send');
  await page.waitForFunction(() => [...document.querySelectorAll('#log li.recv .text')]
    .some((e) => e.textContent === 'hello from chromium ✓'), null, { timeout: 5000 });
  const rtt = await page.textContent('#rtt');
  report('text echo via the page', /ms$/.test(rtt), { rtt });
  report('compressed exchange', connected.includes('permessage-deflate'), { log: connected });

  // The gateway under test pings every 200ms and drops clients silent for
  // 1s; staying idle for 2s proves the browser answers pings.
  await page.waitForTimeout(2000);
  report('ping (server pings, browser answers)', (await page.textContent('#state')) === 'open');

  const wsURL = new URL('/ws', pageURL.replace(/^http/, 'ws')).href;
  const result = await page.evaluate(async (url) => {
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    const next = () => new Promise((resolve, reject) => {
      ws.onmessage = (e) => resolve(e.data);
      ws.onclose = (e) => reject(new Error('closed ' + e.code));
    });
    await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
    const small = new Uint8Array(300).map((_, i) => i % 256);
    ws.send(small);
    const gotSmall = new Uint8Array(await next());
    const big = new Uint8Array(1024 * 1024).map((_, i) => (i * 7) % 251);
    ws.send(big);
    const gotBig = new Uint8Array(await next());
    const same = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);
    const closed = new Promise((resolve) => { ws.onclose = (e) => resolve({ code: e.code, reason: e.reason, clean: e.wasClean }); });
    ws.close(1000, 'browser done');
    return { binary: same(gotSmall, small), big: same(gotBig, big), bigSize: gotBig.length, close: await closed };
  }, wsURL);
  report('binary echo', result.binary);
  report('1 MiB message', result.big, { size: result.bigSize });
  report('close 1000 (API)', result.close.code === 1000 && result.close.clean, result.close);

  await page.click('#disconnect');
  await page.waitForSelector('#log li.close', { timeout: 5000 });
  const closeLine = await page.textContent('#log li.close .text');
  report('close 1000 via the page', closeLine.startsWith('code 1000'), { log: closeLine });

  await page.screenshot({ path: screenshot, fullPage: true });
  report('screenshot', true, { path: screenshot });
} catch (err) {
  console.log(JSON.stringify({ check: 'browser run', ok: false, error: String(err) }));
  failed = true;
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
