import { existsSync } from 'node:fs'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import { type Browser, chromium, type Page } from 'playwright-core'
import t, { type Test } from 'tap'
import sseHub, { type SseHubOptions } from '../app.js'
import { build, data, type TestContext } from './helper.js'
import { SseClient } from './sse-client.js'

// The dashboard page (`GET /`) in a real browser, against a hub over real sockets: the token it
// asks for, presence and the event log live, the publish form, and a hub that restarts under it.

const CHROMIUM = '/usr/bin/chromium'
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'
]
const TIMEOUT = 10_000
const TOKEN = 'dashboard-test-token-0123456789'
/** Where the screenshot goes: `SSE_HUB_SCREENSHOT=docs/dashboard.png npx tap test/dashboard.test.ts` refreshes the README's. */
const SCREENSHOT = process.env.SSE_HUB_SCREENSHOT

/** Chromium, closed at teardown (register it after the hub: teardowns run last-in first-out). */
async function launch (t: TestContext): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
  t.teardown(() => browser.close())
  return browser
}

/** A 1280×800 page that records console errors, page errors and dialogs (an injected `alert` would be one). */
async function openPage (browser: Browser): Promise<{ page: Page, problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
  page.setDefaultTimeout(TIMEOUT)
  const problems: string[] = []
  page.on('console', (message) => { if (message.type() === 'error') problems.push(`console.error: ${message.text()}`) })
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
  page.on('dialog', (dialog) => {
    problems.push(`dialog: ${dialog.message()}`)
    dialog.dismiss().catch(() => {})
  })
  return { page, problems }
}

/** The text of the page's table body `id`, row by row, cells joined by ` | `. */
function rows (page: Page, id: string): Promise<string[]> {
  return page.$$eval(`#${id} tr`, (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent).join(' | ')))
}

/** Resolves once some row of table body `id` contains every one of `texts`. */
async function rowWith (page: Page, id: string, ...texts: string[]): Promise<void> {
  await page.waitForFunction(([id, texts]) => [...document.querySelectorAll(`#${id} tr`)]
    .some((tr) => texts.every((text) => (tr.textContent ?? '').includes(text))), [id, texts] as const)
}

/** Resolves once no row of table body `id` contains `text`. */
async function noRowWith (page: Page, id: string, text: string): Promise<void> {
  await page.waitForFunction(([id, text]) => ![...document.querySelectorAll(`#${id} tr`)]
    .some((tr) => (tr.textContent ?? '').includes(text)), [id, text] as const)
}

const live = (page: Page) => page.waitForSelector('#status[data-state="live"]')

/** POSTs a batch through HTTP (inject), with the prefix and the token given. */
async function publish (app: FastifyInstance, prefix: string, events: unknown[], token?: string): Promise<string[]> {
  const res = await app.inject({ method: 'POST', url: `${prefix}/publish`, payload: { events }, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } })
  if (res.statusCode !== 200) throw new Error(`publish: ${res.statusCode} ${res.body}`)
  return res.json().ids
}

function haveChromium (t: Test): boolean {
  if (existsSync(CHROMIUM)) return true
  t.fail(`${CHROMIUM} not found: the browser test needs Debian's chromium package (apt-get install chromium)`)
  return false
}

t.test('under a prefix, with a token: the page asks for it, then shows presence and events live and publishes', async (t) => {
  if (!haveChromium(t)) return
  const hub = await build(t, { prefix: '/hub', publishToken: TOKEN, insecure: false })
  const browser = await launch(t)
  const { page, problems } = await openPage(browser)
  const publishes: string[] = []
  page.on('request', (request) => { if (request.url().endsWith('/publish')) publishes.push(request.url()) })

  await page.goto(`${hub.url}/hub`)
  t.equal(page.url(), `${hub.url}/hub/`, '/hub redirects to /hub/, where the page\'s relative URLs stay under the prefix')
  await page.waitForSelector('#token-overlay', { state: 'visible' })
  t.equal(await page.getAttribute('#status', 'data-state'), 'token', 'nothing is read before the token')
  await page.fill('#token', TOKEN)
  await page.click('#token-form button[type=submit]')
  await live(page)
  t.ok(await page.isHidden('#token-overlay'))
  t.same(await page.evaluate(() => Object.values(sessionStorage)), [TOKEN], 'the token is in the tab\'s session storage')
  t.equal(await page.evaluate(() => localStorage.length), 0, 'and nowhere else')
  t.notMatch(page.url(), TOKEN, 'nor in the address bar')

  const alice = await hub.subscribe('/hub/subscribe?channels=room1&clientId=alice')
  await alice.waitForCount(2)
  await rowWith(page, 'clients', 'alice', 'room1')
  await rowWith(page, 'channels', 'room1', '1')

  const hostile = '<img src=x onerror=alert(1)>'
  const [id] = await publish(hub.app, '/hub', [{ channelName: 'room1', type: 'chat', payload: { text: hostile } }], TOKEN)
  await rowWith(page, 'events', 'room1', 'chat', id, hostile)
  t.equal(await page.locator('#events img').count(), 0, 'a payload that looks like HTML is shown as text')
  await page.waitForFunction(() => document.getElementById('c-published')?.textContent === '1')

  // The form: a payload that is not JSON is refused in the page, a good one reaches alice.
  await page.fill('#p-channel', 'room1')
  await page.fill('#p-type', 'note')
  await page.fill('#p-payload', '{"from": "page"')
  await page.click('#publish button[type=submit]')
  await page.waitForSelector('#p-result.error')
  t.match(await page.textContent('#p-result'), /^The payload is not JSON: /)
  t.same(publishes, [], 'nothing was sent')
  await page.fill('#p-payload', '{"from": "page"}')
  await page.click('#publish button[type=submit]')
  await page.waitForSelector('#p-result.ok')
  await alice.waitFor((client) => client.ofType('note').length === 1, TIMEOUT, 'the page\'s event')
  t.same(data(alice.ofType('note')[0]), { channelName: 'room1', type: 'note', payload: { from: 'page' } })
  t.equal(await page.textContent('#p-result'), `Published, id ${alice.ofType('note')[0].id}`)
  await rowWith(page, 'events', 'note', '{"from":"page"}')

  alice.close()
  await noRowWith(page, 'clients', 'alice')
  await rowWith(page, 'clients', 'No client connected')

  // A fuller hub for the picture: a few clients on a few channels, and some traffic.
  const others = [['bob', 'room1,news'], ['carol', 'news'], ['dave', 'alerts:eu,news'], ['erin', 'room1'], ['frank', 'orders/42']]
  for (const [clientId, channels] of others) await hub.subscribe(`/hub/subscribe?channels=${channels}&clientId=${clientId}`)
  await rowWith(page, 'clients', 'frank', 'orders/42')
  await publish(hub.app, '/hub', [
    { channelName: 'news', type: 'headline', payload: { title: 'Deploy finished', region: 'eu-west' } },
    { channelName: 'orders/42', type: 'status', payload: { state: 'shipped', items: 3 } },
    { channelName: 'alerts:eu', type: 'alert', payload: { level: 'warn', message: 'disk 81% on eu-2' } },
    { channelName: 'room1', type: 'chat', payload: { from: 'bob', text: 'hi all' } }
  ], TOKEN)
  for (let n = 1; n <= 6; n++) {
    await publish(hub.app, '/hub', [
      { channelName: 'orders/42', type: 'position', payload: { lat: Number((48.85 + n / 1000).toFixed(3)), lon: 2.35, speed: 30 + n } },
      { channelName: n % 2 === 0 ? 'news' : 'room1', type: n % 2 === 0 ? 'ticker' : 'chat', payload: n % 2 === 0 ? { symbol: 'SSE', price: 100 + n } : { from: 'erin', text: `message ${n}` } }
    ], TOKEN)
  }
  await rowWith(page, 'events', 'message 5')
  await rowWith(page, 'channels', 'orders/42')
  await page.waitForFunction(() => document.getElementById('c-published')?.textContent === '18')
  const dir = await mkdtemp(join(tmpdir(), 'sse-hub-dashboard-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = SCREENSHOT ?? join(dir, 'dashboard.png')
  await page.screenshot({ path: file })
  t.ok((await stat(file)).size > 10_000, `screenshot written to ${file}`)

  await page.click('#forget')
  await page.waitForSelector('#token-overlay', { state: 'visible' })
  t.equal(await page.evaluate(() => sessionStorage.length), 0, 'forget token empties the session storage')
  t.same(problems, [], 'no console errors, page errors or dialogs')
})

t.test('an insecure hub: the page never asks for a token', async (t) => {
  if (!haveChromium(t)) return
  const hub = await build(t)
  const browser = await launch(t)
  const { page, problems } = await openPage(browser)
  const response = await page.goto(`${hub.url}/`)
  t.match(response?.headers()['content-security-policy'], /default-src 'none'; script-src 'self'/)
  t.equal(response?.headers()['x-content-type-options'], 'nosniff')
  for (const [file, type] of [['app.js', 'text/javascript'], ['view.js', 'text/javascript'], ['style.css', 'text/css']]) {
    const res = await hub.app.inject(`/dashboard/${file}`)
    t.equal(res.statusCode, 200, file)
    t.match(res.headers['content-type'], type, file)
    t.equal(res.headers['x-content-type-options'], 'nosniff', file)
  }
  const missing = await hub.app.inject('/dashboard/page.html')
  t.equal(missing.statusCode, 404, 'only the page\'s files are served')
  t.equal(missing.json().statusCode, 404)
  await live(page)
  t.ok(await page.isHidden('#token-overlay'), 'no token form')
  t.ok(await page.isHidden('#forget'), 'nothing to forget')
  const watcher = await hub.subscribe('/subscribe?channels=open&clientId=watcher')
  await rowWith(page, 'clients', 'watcher', 'open')
  await page.fill('#p-channel', 'open')
  await page.click('#publish button[type=submit]')
  await watcher.waitFor((client) => client.ofType('message').length === 1, TIMEOUT, 'the page\'s event')
  t.same(data(watcher.ofType('message')[0]).payload, { text: 'hello' }, 'the form\'s default payload')

  // A node being drained keeps its streams: the page says so and stays live.
  hub.app.hub.drain()
  await page.waitForFunction(() => document.getElementById('status-text')?.textContent === 'live, draining', undefined, { timeout: TIMEOUT })
  t.pass('the status says draining')
  t.same(problems, [], 'no console errors, page errors or dialogs')
})

/** The hub on a given port (0: any), closed at teardown unless closed before. */
async function listen (t: TestContext, port: number, options: SseHubOptions = {}): Promise<{ app: FastifyInstance, url: string }> {
  const app = Fastify()
  await app.register(sseHub, { insecure: true, ...options })
  await app.listen({ port, host: '127.0.0.1' })
  t.teardown(() => app.close())
  return { app, url: `http://127.0.0.1:${(app.server.address() as { port: number }).port}` }
}

t.test('a hub that restarts on the same port: the page reconnects and rebuilds its lists', async (t) => {
  if (!haveChromium(t)) return
  const first = await listen(t, 0, { retry: 500 })
  const browser = await launch(t)
  const { page, problems } = await openPage(browser)
  await page.goto(`${first.url}/`)
  await live(page)
  const bob = await SseClient.open(`${first.url}/subscribe?channels=before&clientId=bob`)
  t.teardown(() => bob.close())
  await rowWith(page, 'clients', 'bob')

  const port = Number(new URL(first.url).port)
  await first.app.close()
  await page.waitForSelector('#status:not([data-state="live"])')
  const second = await listen(t, port, { retry: 500 })
  const carol = await SseClient.open(`${second.url}/subscribe?channels=after&clientId=carol`)
  t.teardown(() => carol.close())
  await live(page)
  await rowWith(page, 'clients', 'carol', 'after')
  await noRowWith(page, 'clients', 'bob')
  t.equal((await rows(page, 'clients')).length, 1, 'only carol: the list was rebuilt from the new snapshot')
  await publish(second.app, '', [{ channelName: 'after', type: 'back', payload: 1 }])
  await rowWith(page, 'events', 'after', 'back')
  // The page tried while the hub stopped (Fastify answers 503 while it closes) and while nothing
  // listened: Chromium reports those attempts, nothing else is allowed.
  const expected = /net::ERR_CONNECTION_REFUSED|the server responded with a status of 503/
  t.same(problems.filter((problem) => !expected.test(problem)), [], 'no console errors but refused connections and the stopping hub\'s 503, no page errors')
})
