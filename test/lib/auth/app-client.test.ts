import { once } from 'node:events'
import { createServer, type IncomingMessage } from 'node:http'
import t from 'tap'
import { AppClient } from '../../../lib/auth/app-client.js'

// The client of the app's endpoint on its own: what it sends, a URL it refuses to ask, IPv6, and
// calls after it closed. Its bounds and redirects are tested through the hub
// (test/security/auth-callback-client.test.ts).

async function serve (t: { teardown (fn: () => unknown): void }, host = '127.0.0.1'): Promise<{ port: number, received: Array<{ req: IncomingMessage, body: string }> }> {
  const received: Array<{ req: IncomingMessage, body: string }> = []
  const server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8').on('data', (chunk: string) => { body += chunk }).on('end', () => {
      received.push({ req, body })
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}')
    })
  })
  server.listen(0, host)
  await once(server, 'listening')
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  return { port: (server.address() as { port: number }).port, received }
}

t.test('POSTs the JSON with its length to the URL\'s path and query, and reads the answer', async (t) => {
  const app = await serve(t)
  const client = new AppClient({ url: `http://127.0.0.1:${app.port}/auth?realm=hub`, timeout: 1000, maxBytes: 1024 })
  t.teardown(() => { client.close() })
  const body = JSON.stringify({ action: 'subscribe', channels: ['café'] })
  t.same(await client.post(body), { status: 200, text: '{"ok":true}' })
  const { req, body: received } = app.received[0]
  t.equal(req.method, 'POST')
  t.equal(req.url, '/auth?realm=hub')
  t.equal(received, body)
  t.match(req.headers, { 'content-type': 'application/json', accept: 'application/json', 'content-length': String(Buffer.byteLength(body)) })
})

t.test('a URL with a user name or password is never asked', async (t) => {
  const app = await serve(t)
  const client = new AppClient({ url: `http://hub:secret@127.0.0.1:${app.port}/auth`, timeout: 1000, maxBytes: 1024 })
  t.teardown(() => { client.close() })
  await t.rejects(client.post('{}'), { message: 'authUrl carries credentials' })
  t.equal(app.received.length, 0)
})

t.test('an IPv6 address in brackets', async (t) => {
  let app
  try {
    app = await serve(t, '::1')
  } catch {
    t.pass('no IPv6 loopback here: nothing to check')
    return
  }
  const client = new AppClient({ url: `http://[::1]:${app.port}/auth`, timeout: 1000, maxBytes: 1024 })
  t.teardown(() => { client.close() })
  t.equal((await client.post('{}')).status, 200)
  t.equal(app.received[0].req.headers.host, `[::1]:${app.port}`)
})

t.test('once closed, a call fails at once and opens no connection', async (t) => {
  const app = await serve(t)
  const client = new AppClient({ url: `http://127.0.0.1:${app.port}/auth`, timeout: 1000, maxBytes: 1024 })
  client.close()
  await t.rejects(client.post('{}'), { message: 'the hub is closing' })
  t.equal(app.received.length, 0)
})
