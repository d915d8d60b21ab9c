import { once } from 'node:events'
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer, Server as HttpsServer } from 'node:https'
import type { Socket } from 'node:net'
import t from 'tap'
import { build, spawnHub, startHub, type TestContext, waitUntil } from '../helper.js'
import { testCertificate } from '../tls.js'

// How the hub talks to the app (authUrl) over HTTP: redirects not followed, answers bounded in
// size and in time, the app's certificate checked, connections kept and closed with the hub.

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void
interface App {
  url: string
  /** Questions the app received. */
  asked: number
  /** Connections the hub opened to it, and those that closed. */
  opened: number
  closed: number
  handle: Handler
}

/** The app's endpoint on `server` (plain HTTP unless given an HTTPS server), answering with `handle`. */
async function app (t: TestContext, handle: Handler, server: Server | HttpsServer = createHttpServer()): Promise<App> {
  const state: App = { url: '', asked: 0, opened: 0, closed: 0, handle }
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    let body = ''
    req.setEncoding('utf8').on('data', (chunk: string) => { body += chunk }).on('end', () => {
      state.asked++
      state.handle(req, res, body)
    })
  })
  // Only the hub closes an idle connection: the app keeps it for a minute.
  server.keepAliveTimeout = 60_000
  server.on('connection', (socket: Socket) => {
    state.opened++
    socket.on('close', () => { state.closed++ })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  const scheme = server instanceof HttpsServer ? 'https' : 'http'
  state.url = `${scheme}://127.0.0.1:${(server.address() as { port: number }).port}/auth`
  return state
}

const grant: Handler = (_req, res) => { res.writeHead(200, { 'content-type': 'application/json' }).end('{"ttl":60}') }

t.test('a redirect is not followed: a 3xx is unavailable, naming its status', async (t) => {
  const elsewhere = await app(t, grant)
  const redirecting = await app(t, (_req, res) => { res.writeHead(307, { location: elsewhere.url }).end() })
  const hub = await build(t, { authUrl: redirecting.url })
  const lastEvent = await hub.app.inject({ url: '/lastEvent?channel=news', headers: { cookie: 'session=a' } })
  t.match(lastEvent.json(), { statusCode: 503, code: 'SSE_HUB_AUTH_UNAVAILABLE', message: /the app answered 307/ })
  redirecting.handle = (_req, res) => { res.writeHead(302, { location: elsewhere.url }).end('moved') }
  const stream = await hub.subscribe('/subscribe?channels=news', { headers: { cookie: 'session=b' } })
  t.equal(stream.headers['x-sse-hub-refused'], 'auth-unavailable', 'a 302: the subscribe is refused for now')
  t.equal(elsewhere.asked, 0, 'the redirect\'s target was never asked')
  t.equal(redirecting.opened, 1, 'the 3xx answers were read: the connection was kept for the next call')
})

t.test('an answer larger than 64 KiB is unavailable; the hub reads no further and drops the connection', async (t) => {
  const big = JSON.stringify({ ttl: 60, padding: 'x'.repeat(64 * 1024) })
  let endlessClosed = false
  const theApp = await app(t, (_req, res) => { res.writeHead(200, { 'content-type': 'application/json' }).end(big) })
  const hub = await build(t, { authUrl: theApp.url, authTimeout: 30_000 })
  const declared = await hub.app.inject({ url: '/lastEvent?channel=news', headers: { cookie: 'session=declared' } })
  t.match(declared.json(), { statusCode: 503, message: /an answer larger than 65536 bytes/ }, 'its Content-Length says so')
  await waitUntil(() => theApp.closed === 1, 5000, 'the connection dropped')

  // Chunked and never ending: the hub stops at the bound, long before authTimeout.
  theApp.handle = (_req, res) => {
    res.on('close', () => { endlessClosed = true })
    res.writeHead(200, { 'content-type': 'application/json' })
    const more = (): void => { if (!endlessClosed) res.write('x'.repeat(16 * 1024), () => setImmediate(more)) }
    more()
  }
  const chunked = await hub.app.inject({ url: '/lastEvent?channel=news', headers: { cookie: 'session=chunked' } })
  t.match(chunked.json(), { statusCode: 503, message: /an answer larger than 65536 bytes/ }, 'read as it comes')
  await waitUntil(() => theApp.closed === 2, 5000, 'that connection dropped too')
  t.ok(endlessClosed, 'the app\'s endless answer ended with it')

  theApp.handle = grant
  t.equal((await hub.app.inject({ url: '/lastEvent?channel=news', headers: { cookie: 'session=small' } })).statusCode, 200, 'the next answer, of a usual size, grants')
})

t.test('authTimeout covers the whole call: an answer whose body does not end in time is unavailable', async (t) => {
  const theApp = await app(t, (_req, res) => { res.writeHead(200, { 'content-type': 'application/json' }).write('{"ttl":') })
  const hub = await build(t, { authUrl: theApp.url, authTimeout: 300 })
  const lastEvent = await hub.app.inject({ url: '/lastEvent?channel=news', headers: { cookie: 'session=slow-body' } })
  t.match(lastEvent.json(), { statusCode: 503, message: /no answer within 300 ms/ })
  await waitUntil(() => theApp.closed === 1, 5000, 'the connection dropped')
})

t.test('a kept connection the app closes as a question goes out: asked again once, on a new connection', async (t) => {
  const served = new WeakSet<Socket>()
  const theApp = await app(t, (req, res, body) => {
    // Each connection answers one question and drops the next one unanswered, as an app whose idle timeout just ran out.
    if (served.has(req.socket)) return req.socket.destroy()
    served.add(req.socket)
    grant(req, res, body)
  })
  const hub = await build(t, { authUrl: theApp.url })
  t.equal((await hub.app.inject({ url: '/lastEvent?channel=news', headers: { cookie: 'session=first' } })).statusCode, 200)
  const second = await hub.app.inject({ url: '/lastEvent?channel=news', headers: { cookie: 'session=second' } })
  t.equal(second.statusCode, 200, 'granted on the second try')
  t.equal(theApp.asked, 3, 'three questions reached the app: the first, the dropped one, its repetition')
  t.equal(theApp.opened, 2)

  theApp.handle = (req) => { req.socket.destroy() }
  const dropped = await hub.app.inject({ url: '/lastEvent?channel=news', headers: { cookie: 'session=third' } })
  t.match(dropped.json(), { statusCode: 503, message: /the request to the app failed \(ECONNRESET\)/ }, 'dropped again on the new connection: unavailable')
  t.notMatch(dropped.json().message, /127\.0\.0\.1/, 'the message names no address')
})

t.test('the hub keeps its connections to the app between calls and closes them when it closes', async (t) => {
  const theApp = await app(t, grant)
  const hub = await build(t, { authUrl: theApp.url })
  for (let i = 0; i < 5; i++) {
    t.equal((await hub.app.inject({ url: '/lastEvent?channel=news', headers: { cookie: `session=${i}` } })).statusCode, 200)
  }
  t.equal(theApp.asked, 5)
  t.equal(theApp.opened, 1, 'five calls one after the other, one connection')
  t.equal(theApp.closed, 0)
  await hub.app.close()
  await waitUntil(() => theApp.closed === 1, 5000, 'the hub closed it')
})

t.test('https: the app\'s certificate is checked against the default CAs, NODE_EXTRA_CA_CERTS among them', async (t) => {
  const certificate = testCertificate(t)
  const theApp = await app(t, grant, createHttpsServer({ cert: certificate.cert, key: certificate.key }))
  const hub = await build(t, { authUrl: theApp.url })
  const untrusted = await hub.app.inject({ url: '/lastEvent?channel=news', headers: { cookie: 'session=a' } })
  t.match(untrusted.json(), { statusCode: 503, message: /the request to the app failed \((DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN)\)/ }, 'a self-signed certificate')
  t.equal(theApp.asked, 0)

  const trusting = await startHub(t, [], spawnHub(['--port', '0', '--host', '127.0.0.1', '--insecure', '--auth-url', theApp.url], { NODE_EXTRA_CA_CERTS: certificate.certPath }))
  const asked = async (): Promise<number> => (await fetch(`${trusting.url}/lastEvent?channel=news`, { headers: { cookie: 'session=b' } })).status
  t.equal(await asked(), 200, 'the same certificate, trusted through NODE_EXTRA_CA_CERTS')
  t.equal(theApp.asked, 1)
})
