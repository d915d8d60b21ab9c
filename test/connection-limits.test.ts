import { spawn } from 'node:child_process'
import { join } from 'node:path'
import t from 'tap'
import { hubEnv, rawConnection, startHub, waitUntil } from './helper.js'
import { SseClient } from './sse-client.js'

/** fetch that gives up after `timeout` ms. */
function fetchWithin (url: string, timeout: number, init: RequestInit = {}): Promise<Response> {
  return fetch(url, { ...init, signal: AbortSignal.timeout(timeout) })
}

t.test('a flood of half-sent requests near the open-file limit: /health, /publish and /subscribe still answer', async (t) => {
  const fileLimit = 300
  const root = join(import.meta.dirname, '..')
  const child = spawn('bash', ['-c', `ulimit -n ${fileLimit} && exec "$0" --import tsx server.ts --port 0 --host 127.0.0.1 --insecure`, process.execPath], {
    cwd: root,
    env: hubEnv(),
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const { port, url, log } = await startHub(t, [], child)
  const flood = Array.from({ length: fileLimit }, () => rawConnection(t, port, 'GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: '))
  await new Promise((resolve) => setTimeout(resolve, 500))

  const health = await fetchWithin(`${url}/health`, 3000)
  t.equal(health.status, 200, '/health answers')
  const published = await fetchWithin(`${url}/publish`, 3000, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"events":[{"channelName":"a","type":"t","payload":1}]}' })
  t.equal(published.status, 200, '/publish answers')
  const subscriber = await SseClient.open(`${url}/subscribe?channels=a`, { timeout: 3000 })
  await subscriber.waitForCount(2)
  t.equal(subscriber.status, 200, '/subscribe streams')
  subscriber.close()
  t.ok(flood.filter((connection) => connection.closed()).length > 0, 'the oldest waiting connections were closed to make room')
  await waitUntil(() => /connections that sent no complete request head were closed/.test(log()), 2000, 'the warning')
})

t.test('headersTimeout and requestTimeout cut half-sent requests with a 408; a stream older than both goes on', async (t) => {
  const { port, url } = await startHub(t, ['--headers-timeout', '1000', '--request-timeout', '2000'])
  const subscriber = await SseClient.open(`${url}/subscribe?channels=a`)
  const started = Date.now()
  const headers = rawConnection(t, port, 'GET /health HTTP/1.1\r\nHost: x\r\n')
  const body = rawConnection(t, port, 'POST /publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"events":')
  await waitUntil(headers.closed, 3000, 'the half-sent headers to be cut')
  t.ok(Date.now() - started < 2600, `headers cut after ${Date.now() - started} ms`)
  await waitUntil(body.closed, 4000, 'the trickling body to be cut')
  t.ok(Date.now() - started < 3600, `body cut after ${Date.now() - started} ms`)
  for (const connection of [headers, body]) {
    const answer = connection.received()
    t.match(answer, /^HTTP\/1\.1 408 Request Timeout\r\n/)
    const json = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))
    t.match(json, { statusCode: 408, code: 'ERR_HTTP_REQUEST_TIMEOUT', error: 'Request Timeout' })
  }
  await fetch(`${url}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"events":[{"channelName":"a","type":"late","payload":1}]}' })
  await subscriber.waitFor((client) => client.ofType('late').length === 1, 2000, 'the event on the old stream')
  t.notOk(subscriber.ended, 'the stream is exempt')
  subscriber.close()
})

t.test('maxConnectionsPerAddress closes the connections over the cap, per address', async (t) => {
  const { port, url } = await startHub(t, ['--max-connections-per-address', '3'])
  const held = [1, 2, 3].map(() => rawConnection(t, port, 'GET /subscribe?channels=a HTTP/1.1\r\nHost: x\r\n\r\n'))
  await waitUntil(() => held.every((connection) => connection.received().includes('event: lastEvent')), 3000, 'three streams')
  const fourth = rawConnection(t, port, 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n')
  await waitUntil(fourth.closed, 2000, 'the fourth connection to be closed')
  t.equal(fourth.received(), '', 'closed without an answer')
  const other = rawConnection(t, port, 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n', '127.0.0.2')
  await waitUntil(() => other.received().includes('"status":"ok"'), 2000, 'an answer to another address')
  held[0].socket.destroy()
  await waitUntil(async () => {
    const again = await fetchWithin(`${url}/health`, 1000).catch(() => undefined)
    return again?.status === 200
  }, 3000, 'a slot to come free')
  t.pass('a closed connection frees its slot')
})
