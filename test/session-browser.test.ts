import { createServer, type Server } from 'node:https'
import Fastify from 'fastify'
import { chromium } from 'playwright-core'
import t from 'tap'
import sseHub from '../app.js'
import { type TestContext, waitUntil } from './helper.js'
import { keys, mint, now } from './security/keys.js'
import { testCertificate, type TestCertificate } from './tls.js'

// A page on one origin, a hub on another (both https://localhost, two ports: two origins, one
// site): the page trades its JWT for the hub's cookie with POST /session, then a plain
// EventSource with credentials subscribes with no token in its URL.

const CHROMIUM = '/usr/bin/chromium'
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'
]
const TIMEOUT = 10_000

/** An empty page at `https://localhost:<port>/`, for the page's origin; closed at teardown. */
async function servePage (t: TestContext, certificate: TestCertificate): Promise<string> {
  const server: Server = createServer({ key: certificate.key, cert: certificate.cert }, (req, res) => {
    res.writeHead(req.url === '/' ? 200 : 404, { 'content-type': 'text/html; charset=utf-8' })
    res.end(req.url === '/' ? '<!DOCTYPE html><title>app</title>' : '')
  })
  await new Promise<void>((resolve) => server.listen(0, 'localhost', resolve))
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  return `https://localhost:${(server.address() as { port: number }).port}`
}

t.test('cross-origin: POST /session sets the cookie, a plain EventSource with credentials subscribes without ?token=', async (t) => {
  const certificate = testCertificate(t)
  const pageOrigin = await servePage(t, certificate)
  const hub = Fastify({ https: { key: certificate.key, cert: certificate.cert } })
  await hub.register(sseHub, { prefix: '/events', insecure: true, subscribeAuth: true, jwtSecret: keys.secret, corsOrigins: pageOrigin })
  await hub.listen({ port: 0, host: 'localhost' })
  t.teardown(() => hub.close())
  const hubUrl = `https://localhost:${(hub.server.address() as { port: number }).port}/events`

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
  t.teardown(() => browser.close())
  const context = await browser.newContext({ ignoreHTTPSErrors: true })
  const page = await context.newPage()
  const subscribeUrls: string[] = []
  page.on('request', (request) => { if (request.url().includes('/subscribe')) subscribeUrls.push(request.url()) })
  await page.goto(pageOrigin)

  const token = mint(keys.secret, { sub: 'alice', hub: { subscribe: ['news'] }, exp: now() + 600 })
  const status = await page.evaluate(async ({ hubUrl, token }) => {
    const answer = await fetch(`${hubUrl}/session`, { method: 'POST', credentials: 'include', headers: { authorization: `Bearer ${token}` } })
    const received: unknown[] = []
    const source = new EventSource(`${hubUrl}/subscribe?channels=news`, { withCredentials: true })
    source.addEventListener('registered', (e) => received.push(JSON.parse(JSON.parse(e.data).payload)))
    source.addEventListener('headline', (e) => received.push(JSON.parse(e.data)))
    Object.assign(window, { received, source })
    return answer.status
  }, { hubUrl, token })
  t.equal(status, 204, 'the cross-origin POST /session went through CORS')
  t.same((await context.cookies(hubUrl)).map((c) => [c.name, c.httpOnly, c.secure, c.sameSite, c.path]),
    [['sse_hub_token', true, true, 'None', '/events']], 'the browser keeps an HttpOnly, Secure cookie for the hub\'s prefix')

  const received = async (): Promise<any[]> => await page.evaluate(() => (window as unknown as { received: unknown[] }).received)
  await waitUntil(async () => (await received()).length >= 1, TIMEOUT, 'the registered event')
  t.same((await received())[0], { clientId: 'alice', resumed: false }, 'the stream is the token\'s sub')
  await waitUntil(() => hub.hub.connectionCount === 1, TIMEOUT, 'one stream on the hub')
  hub.hub.publish([{ channelName: 'news', type: 'headline', payload: { title: 'cookies' } }])
  await waitUntil(async () => (await received()).length >= 2, TIMEOUT, 'the published event')
  t.same((await received())[1], { channelName: 'news', type: 'headline', payload: { title: 'cookies' } })
  t.ok(subscribeUrls.length > 0 && subscribeUrls.every((url) => !url.includes('token')), 'no token in any subscribe URL')

  // DELETE /session clears it: the next EventSource is refused (401), which closes it for good.
  const afterDelete = await page.evaluate(async (hubUrl) => {
    (window as unknown as { source: EventSource }).source.close()
    const answer = await fetch(`${hubUrl}/session`, { method: 'DELETE', credentials: 'include' })
    const readyState = await new Promise((resolve) => {
      const source = new EventSource(`${hubUrl}/subscribe?channels=news`, { withCredentials: true })
      source.onerror = () => { resolve(source.readyState) }
      source.onopen = () => { resolve('open') }
    })
    return { status: answer.status, readyState }
  }, hubUrl)
  t.same(afterDelete, { status: 204, readyState: 2 }, 'without the cookie the stream is refused and the EventSource closed')
  t.same(await context.cookies(hubUrl), [], 'the cookie is gone')
})
