import { existsSync, readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import { chromium, type ConsoleMessage } from 'playwright-core'
import t, { type Test } from 'tap'
import { build, type TestContext, waitUntil } from './helper.js'

// End to end in a real browser: an HTML page, unchanged but for the hub's address, served from
// another origin so that its EventSource goes through the hub's CORS headers. The project's own
// page always runs; the original service's page runs when its README is beside the repository.

const CHROMIUM = '/usr/bin/chromium'
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'
]
const TIMEOUT = 10_000

interface Batch { events: Array<{ channelName: string, type: string, payload: unknown }> }

/**
 * The project's page, as the README's browser example: it logs `registered` and `lastEvent` and
 * appends the data of `message`, `foo` and `bar` events to the body.
 */
const OWN_PAGE = `<!DOCTYPE html>
<html>
<body>
<script>
  const source = new EventSource('http://localhost:9090/subscribe/?channels=' + encodeURIComponent('channel1,channel2'))
  source.addEventListener('registered', (e) => console.log(JSON.parse(e.data)))
  source.addEventListener('lastEvent', (e) => console.log(JSON.parse(e.data)))
  for (const type of ['message', 'foo', 'bar']) {
    source.addEventListener(type, (e) => { document.body.innerHTML += e.data + '<br>' })
  }
</script>
</body>
</html>`

/** Four events over both channels; the payloads are a JSON string, an object, null and a number. */
const OWN_BATCH: Batch = {
  events: [
    { channelName: 'channel1', type: 'message', payload: '{ "location": "123.44,34.234234"}' },
    { channelName: 'channel1', type: 'foo', payload: { message: 'Hi fooo' } },
    { channelName: 'channel2', type: 'message', payload: null },
    { channelName: 'channel2', type: 'bar', payload: 42 }
  ]
}

/**
 * The original service's README (the shared contract folder beside this repository) is the
 * compatibility fixture: its subscribe page and its publish example are read from it as they are.
 * A clone on its own does not have it.
 */
const SEED_README = join(import.meta.dirname, '..', '..', 'shared', 'seed', 'node-sse-server-README.txt')

function seedFixtures (): { page: string, batch: Batch } {
  const text = readFileSync(SEED_README, 'utf8')
  const page = /<!DOCTYPE html>[\s\S]*?<\/html>/.exec(text)
  const body = /^body:\s*\n(\t\{[\s\S]*?\n\t\})\s*$/m.exec(text)
  if (page === null || body === null) throw new Error(`no HTML page or publish body found in ${SEED_README}`)
  return { page: page[0], batch: JSON.parse(body[1]) }
}

/**
 * Serves `html` at `/` from 127.0.0.1 on an ephemeral port; closed at teardown. The browser's
 * favicon request gets a 204, so that a 404 does not log a console error.
 */
async function servePage (t: TestContext, html: string): Promise<string> {
  const server: Server = createServer((req, res) => {
    if (req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      res.end(html)
    } else if (req.url === '/favicon.ico') {
      res.writeHead(204)
      res.end()
    } else {
      res.writeHead(404)
      res.end()
    }
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return `http://127.0.0.1:${address.port}`
}

/**
 * Serves `html` cross-origin to a fresh hub, opens it in Chromium and publishes `batch` (4 events on
 * channel1 and channel2, of types the page listens to): the page must log one `registered` and
 * two `lastEvent`, then show the 4 events in order, over one stream and without console errors.
 */
async function checkPage (t: Test, html: string, batch: Batch): Promise<void> {
  const hub = await build(t)
  // The only change to the page: the hub's address.
  const pageUrl = await servePage(t, html.replace('http://localhost:9090', hub.url))
  t.not(new URL(pageUrl).origin, new URL(hub.url).origin, 'the page is cross-origin to the hub')

  // Registered after build(): teardowns run last-in first-out, so the browser goes before the hub.
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
  t.teardown(() => browser.close())
  const page = await browser.newPage()

  const logs: unknown[] = []
  const pending: Array<Promise<void>> = []
  const problems: string[] = []
  const subscribes: string[] = []
  const subscribeHeaders: Array<Record<string, string>> = []
  page.on('console', (message: ConsoleMessage) => {
    if (message.type() === 'log') {
      pending.push(message.args()[0].jsonValue().then((value) => { logs.push(value) }))
    } else {
      problems.push(`console.${message.type()}: ${message.text()}`)
    }
  })
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
  page.on('requestfailed', (request) => {
    if (request.url().startsWith(hub.url)) problems.push(`request failed: ${request.url()} ${request.failure()?.errorText}`)
  })
  page.on('request', (request) => {
    if (request.url().startsWith(`${hub.url}/subscribe`)) subscribes.push(request.url())
  })
  page.on('response', (response) => {
    if (response.status() >= 400) problems.push(`HTTP ${response.status()}: ${response.url()}`)
    if (response.url().startsWith(`${hub.url}/subscribe`)) subscribeHeaders.push(response.headers())
  })
  const ofType = (type: string): any[] => logs.filter((log: any) => log?.type === type)

  await page.goto(pageUrl)

  // Open once the page has logged `registered` and both snapshots, and the hub counts it.
  await waitUntil(() => ofType('registered').length >= 1 && ofType('lastEvent').length >= 2, TIMEOUT,
    () => `the page's registered and lastEvent logs; got ${JSON.stringify(logs)} ${JSON.stringify(problems)}`)
  await waitUntil(() => hub.app.hub.connectionCount === 1, TIMEOUT, 'one connection on the hub')
  await Promise.all(pending)

  const registered = ofType('registered')
  t.equal(registered.length, 1, 'one registered')
  t.same(Object.keys(registered[0]).sort(), ['payload', 'type'], 'registered has no channelName')
  const { clientId } = JSON.parse(registered[0].payload)
  t.match(clientId, /^\S+$/, 'registered carries a clientId')
  t.same(ofType('lastEvent'), [
    { channelName: 'channel1', type: 'lastEvent', payload: '{}' },
    { channelName: 'channel2', type: 'lastEvent', payload: '{}' }
  ], 'one lastEvent per channel, "{}" as nothing was published yet')

  const res = await hub.publish(batch)
  t.equal(res.statusCode, 200)
  t.equal(res.json.published, 4)

  // The page appends `event.data + "<br>"` to the body: read the text between the <br>s.
  const lines = async (): Promise<string[]> => page.evaluate(() => Array.from(document.body.childNodes)
    .filter((node) => node.nodeType === Node.TEXT_NODE)
    .map((node) => (node.textContent ?? '').trim())
    .filter((text) => text !== ''))
  await page.waitForFunction(() => document.body.getElementsByTagName('br').length >= 4, undefined, { timeout: TIMEOUT })
  const expected = batch.events.map(({ channelName, type, payload }) => JSON.stringify({ channelName, type, payload }))
  t.same(await lines(), expected, 'the body holds exactly the 4 events, in order, as {"channelName","type","payload"}')
  t.equal(await page.evaluate(() => document.body.getElementsByTagName('br').length), 4, 'one <br> per event')

  await Promise.all(pending)
  t.equal(ofType('registered').length, 1, 'still one registered: no reconnect')
  t.equal(ofType('lastEvent').length, 2, 'still two lastEvent logs')
  t.equal(logs.length, 3, 'nothing else was logged')
  t.equal(await page.evaluate('source.readyState'), 1, 'the EventSource is still OPEN')
  t.equal(hub.app.hub.connectionCount, 1, 'still one connection on the hub')
  t.same(subscribes, [`${hub.url}/subscribe/?channels=channel1%2Cchannel2`], 'one subscribe request')
  t.equal(subscribeHeaders[0]?.['access-control-allow-origin'], '*', 'the stream carries the CORS header')
  t.match(subscribeHeaders[0]?.['content-type'], /^text\/event-stream/)
  t.same(problems, [], 'no console errors, page errors or failed requests')
}

/** Fails the test when Chromium is not installed; true when it is. */
function haveChromium (t: Test): boolean {
  if (existsSync(CHROMIUM)) return true
  t.fail(`${CHROMIUM} not found: the browser test needs Debian's chromium package (apt-get install chromium)`)
  return false
}

t.test('the project\'s page works in Chromium', async (t) => {
  if (haveChromium(t)) await checkPage(t, OWN_PAGE, OWN_BATCH)
})

t.test('the seed README page works unchanged in Chromium', {
  skip: existsSync(SEED_README) ? false : `${SEED_README} is not there (it lies beside the repository, not in a clone)`
}, async (t) => {
  if (!haveChromium(t)) return
  const { page, batch } = seedFixtures()
  t.equal(batch.events.length, 4, 'the seed example publishes 4 events')
  await checkPage(t, page, batch)
})
