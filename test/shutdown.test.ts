import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { connect } from 'node:net'
import t from 'tap'
import { rawConnection, startHub, type TestContext, waitUntil } from './helper.js'
import { SseClient } from './sse-client.js'

/** Sends SIGTERM; resolves with the exit code and how long the exit took. */
async function terminate (child: ChildProcess): Promise<{ code: number | null, took: number }> {
  const started = Date.now()
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  const [code] = await exited
  return { code, took: Date.now() - started }
}

function publishBody (channelName: string, payload: unknown): string {
  return JSON.stringify({ events: [{ channelName, type: 'news', payload }] })
}

/** A subscriber that sends its request and never reads. */
function stalledSubscriber (t: TestContext, port: number, channel: string): void {
  const socket = connect(port, '127.0.0.1')
  socket.pause()
  socket.on('error', () => {})
  t.teardown(() => { socket.destroy() })
  socket.write(`GET /subscribe?channels=${channel} HTTP/1.1\r\nHost: x\r\n\r\n`)
}

t.test('SIGTERM with shutdownDelay: health turns 503 at once, the rest works until the delay ends, then streams end and the exit is 0', async (t) => {
  const shutdownDelay = 1500
  const { child, url } = await startHub(t, ['--shutdown-delay', String(shutdownDelay)])
  const clients = await Promise.all([1, 2, 3].map(() => SseClient.open(`${url}/subscribe?channels=a`)))
  await Promise.all(clients.map((client) => client.waitForCount(2)))

  const started = Date.now()
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  await waitUntil(async () => (await fetch(`${url}/health`)).status === 503, 1000, 'health to answer 503')
  t.same(await (await fetch(`${url}/health`)).json(), { status: 'draining' })

  const published = await fetch(`${url}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: publishBody('a', 'during the delay') })
  t.equal(published.status, 200, 'publishing still works during the delay')
  await Promise.all(clients.map((client) => client.waitFor((c) => c.ofType('news').length === 1, 1000, 'the event')))
  const refused = await SseClient.open(`${url}/subscribe?channels=a`)
  t.equal(refused.headers['x-sse-hub-refused'], 'draining', 'a new subscribe is sent elsewhere')
  t.notOk(clients.some((client) => client.ended), 'open streams stay open during the delay')

  await Promise.all(clients.map((client) => client.waitForEnd(shutdownDelay + 3000)))
  const [code] = await exited
  const took = Date.now() - started
  t.equal(code, 0, 'clean exit')
  t.ok(took >= shutdownDelay, `streams ended after the delay (${took} ms)`)
  t.ok(took < shutdownDelay + 3000, `exited ${took} ms after SIGTERM, within shutdownDelay + 3 s`)
})

t.test('a publish in flight at SIGTERM is answered', async (t) => {
  const { child, port } = await startHub(t)
  const body = publishBody('a', 'x'.repeat(1000))
  const { socket, received } = rawConnection(t, port, `POST /publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 500)}`)
  await new Promise((resolve) => setTimeout(resolve, 200))
  const exit = terminate(child)
  await new Promise((resolve) => setTimeout(resolve, 300))
  socket.write(body.slice(500))
  const { code, took } = await exit
  t.match(received(), /^HTTP\/1\.1 200 OK\r\n[^]*"published":1/, 'the publish got its 200')
  t.equal(code, 0)
  t.ok(took < 3000, `exited after ${took} ms`)
})

t.test('a half-sent request and 20 subscribers that stopped reading do not hold the exit', async (t) => {
  const { child, port, url } = await startHub(t, ['--max-buffered-bytes', String(16 * 1024 * 1024)])
  rawConnection(t, port, 'GET /health HTTP/1.1\r\nHost: x\r\n')
  for (let i = 0; i < 20; i++) stalledSubscriber(t, port, 'flood')
  const subscribers = async (): Promise<number> => ((await (await fetch(`${url}/channels/flood`)).json()) as { subscribers: number }).subscribers
  await waitUntil(async () => await subscribers() === 20, 5000, 'the stalled subscribers')
  // More than the kernel's buffers hold, so each of them has data the server cannot send.
  const payload = 'f'.repeat(60 * 1024)
  for (let i = 0; i < 100; i++) {
    await fetch(`${url}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: publishBody('flood', payload) })
  }
  t.equal(await subscribers(), 20, 'all 20 are still connected when the stop begins')
  const { code, took } = await terminate(child)
  t.equal(code, 0, 'clean exit')
  t.ok(took < 3000, `exited after ${took} ms`)
})

t.test('a second signal exits at once', async (t) => {
  const { child } = await startHub(t, ['--shutdown-delay', '10000'])
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  await new Promise((resolve) => setTimeout(resolve, 300))
  const started = Date.now()
  child.kill('SIGTERM')
  const [code] = await exited
  const took = Date.now() - started
  t.not(code, 0, 'not a clean stop')
  t.ok(took < 1000, `exited ${took} ms after the second signal`)
})
