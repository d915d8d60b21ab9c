import type { Page } from 'playwright-core'
import t from 'tap'
import { waitUntil } from '../helper.js'
import { browserContext, clientHub, type ClientHub, haveChromium, openTab, TIMEOUT } from './browser.js'

// Why HTTP/2 matters to a browser: over HTTP/1.1 it opens at most six connections to one origin,
// so a seventh EventSource waits; over HTTP/2 the streams share one connection and all ten receive.

/** Opens ten plain EventSources on channels c0..c9 in the page (`window.sources`, their events in `window.seen`). */
async function tenSources (page: Page, hub: ClientHub): Promise<void> {
  await page.evaluate((url) => {
    const w = window as any
    w.seen = Array.from({ length: 10 }, () => [])
    w.sources = Array.from({ length: 10 }, (_, i) => {
      const source = new EventSource(`${url}/subscribe?channels=c${i}`)
      source.addEventListener('ping', (e) => w.seen[i].push(JSON.parse(e.data).payload))
      return source
    })
  }, hub.url)
}

const states = (page: Page): Promise<number[]> => page.evaluate(() => (window as any).sources.map((source: EventSource) => source.readyState))

t.test('over HTTP/2 ten EventSources of one page are all open and receive, on one connection', async (t) => {
  if (!haveChromium(t)) return
  const hub = await clientHub(t)
  const { context } = await browserContext(t)
  const { page, problems } = await openTab(context, hub)
  const cdp = await context.newCDPSession(page)
  const protocols: string[] = []
  const connections = new Set<number>()
  cdp.on('Network.responseReceived', ({ response }) => {
    if (!response.url.includes('/subscribe')) return
    protocols.push(String(response.protocol))
    connections.add(response.connectionId)
  })
  await cdp.send('Network.enable')

  await tenSources(page, hub)
  await page.waitForFunction(() => (window as any).sources.every((source: EventSource) => source.readyState === 1))
  await waitUntil(() => hub.app.hub.connectionCount === 10, TIMEOUT, 'ten streams on the hub')
  await hub.app.hub.publish(Array.from({ length: 10 }, (_, i) => ({ channelName: `c${i}`, type: 'ping', payload: i })))
  await page.waitForFunction(() => (window as any).seen.every((events: unknown[]) => events.length === 1))
  t.same(await page.evaluate(() => (window as any).seen), Array.from({ length: 10 }, (_, i) => [i]), 'each source got its event')
  await waitUntil(() => protocols.length === 10, TIMEOUT, 'ten responses seen')
  t.same([...new Set(protocols)], ['h2'], 'every stream over HTTP/2')
  t.equal(connections.size, 1, 'all on one connection')
  t.same(problems, [])
})

t.test('over HTTP/1.1 six EventSources open and the seventh waits until one closes', async (t) => {
  if (!haveChromium(t)) return
  const hub = await clientHub(t, {}, { tls: false })
  const { context } = await browserContext(t)
  const { page, problems } = await openTab(context, hub)

  await tenSources(page, hub)
  await page.waitForFunction(() => (window as any).sources.filter((source: EventSource) => source.readyState === 1).length === 6)
  await waitUntil(() => hub.app.hub.connectionCount === 6, TIMEOUT, 'six streams on the hub')
  t.same(await states(page), [1, 1, 1, 1, 1, 1, 0, 0, 0, 0], 'the first six are open; the seventh to the tenth are still connecting')
  await hub.app.hub.publish(Array.from({ length: 10 }, (_, i) => ({ channelName: `c${i}`, type: 'ping', payload: i })))
  await page.waitForFunction(() => (window as any).seen.slice(0, 6).every((events: unknown[]) => events.length === 1))
  t.same(await page.evaluate(() => (window as any).seen.map((events: unknown[]) => events.length)), [1, 1, 1, 1, 1, 1, 0, 0, 0, 0], 'only the open ones received')

  // One closes: the seventh gets its connection.
  await page.evaluate(() => (window as any).sources[0].close())
  await page.waitForFunction(() => (window as any).sources[6].readyState === 1)
  t.same(await states(page), [2, 1, 1, 1, 1, 1, 1, 0, 0, 0], 'the seventh is open now, the others still wait')
  await waitUntil(() => hub.app.hub.connectionCount === 6, TIMEOUT, 'still six streams')
  t.same(problems, [])
})
