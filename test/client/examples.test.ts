import { readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { join } from 'node:path'
import t from 'tap'
import { STREAMS } from '../../lib/core/hub.js'
import { waitUntil } from '../helper.js'
import { browserContext, clientHub, haveChromium, TIMEOUT } from './browser.js'

// examples/plain.html as a user would put it on their own site: another origin than the hub's, the
// client imported from the hub (CORS), only the hub's address changed.

t.test('examples/plain.html, served from another origin, imports the client from the hub and shows the events', async (t) => {
  if (!haveChromium(t)) return
  const hub = await clientHub(t, { retry: 300 })
  const html = (await readFile(join(import.meta.dirname, '..', '..', 'examples', 'plain.html'), 'utf8')).replaceAll('http://localhost:9090', hub.url)
  const site = createServer((req, res) => {
    res.writeHead(req.url === '/' ? 200 : 204, { 'content-type': 'text/html; charset=utf-8' })
    res.end(req.url === '/' ? html : undefined)
  })
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => {
    site.closeAllConnections()
    site.close(() => resolve())
  }))
  const origin = `http://127.0.0.1:${(site.address() as { port: number }).port}`

  const { context } = await browserContext(t)
  const page = await context.newPage()
  page.setDefaultTimeout(TIMEOUT)
  const problems: string[] = []
  page.on('console', (message) => { if (message.type() === 'error') problems.push(message.text()) })
  page.on('pageerror', (error) => problems.push(error.message))
  const subscribes: Array<Record<string, string>> = []
  page.on('request', (request) => { if (request.url().includes('/subscribe')) subscribes.push(request.headers()) })
  await page.goto(origin)
  await page.waitForFunction(() => document.getElementById('status')?.textContent === 'open')

  const { ids } = await hub.app.hub.publish([
    { channelName: 'channel1', type: 'message', payload: { text: 'hello' } },
    { channelName: 'other', type: 'message', payload: 'not on the page' },
    { channelName: 'channel2', type: 'foo', payload: 42 }
  ])
  await page.waitForFunction(() => document.querySelectorAll('#events li').length === 2)
  const items = (): Promise<string[][]> => page.$$eval('#events li', (lis) => lis.map((li) => [li.dataset.id ?? '', li.textContent ?? '']))
  t.same(await items(), [[ids[0], 'channel1 message {"text":"hello"}'], [ids[2], 'channel2 foo 42']])

  // The hub ends its streams: the page comes back by itself with its Last-Event-ID (a CORS
  // preflight, for that header) and gets what was published meanwhile.
  hub.app.hub[STREAMS].restart('a test')
  const missed = await hub.app.hub.publish([{ channelName: 'channel2', type: 'bar', payload: null }])
  await page.waitForFunction(() => document.querySelectorAll('#events li').length === 3)
  t.same((await items())[2], [missed.ids[0], 'channel2 bar null'])
  await page.waitForFunction(() => document.getElementById('status')?.textContent === 'open, resumed')
  await waitUntil(() => subscribes.length === 2, TIMEOUT, 'two subscribes')
  t.equal(subscribes[1]['last-event-id'], ids[2], 'the reconnect sent its position')
  t.same(problems, [])
})
