import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import t from 'tap'
import { rawConnection, spawnHub, startHub } from './helper.js'
import { ownRedis } from './redis.js'

/** Sends SIGTERM; resolves with the exit code and how long the exit took. */
async function terminate (child: ChildProcess): Promise<{ code: number | null, took: number }> {
  const started = Date.now()
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  const [code] = await exited
  return { code, took: Date.now() - started }
}

t.test('cluster mode: a publish in flight at SIGTERM is answered and stored before Redis is closed', async (t) => {
  const redis = await ownRedis(t)
  const redisUrl = `redis://127.0.0.1:${redis.port}`
  const { child, port } = await startHub(t, [], spawnHub(['--port', '0', '--host', '127.0.0.1', '--insecure'], { REDIS_URL: redisUrl }))
  const body = JSON.stringify({ events: [{ channelName: 'a', type: 'news', payload: 'x'.repeat(1000) }] })
  const { socket, received } = rawConnection(t, port, `POST /publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 500)}`)
  await new Promise((resolve) => setTimeout(resolve, 200))
  const exit = terminate(child)
  await new Promise((resolve) => setTimeout(resolve, 300))
  socket.write(body.slice(500))
  const { code, took } = await exit
  t.match(received(), /^HTTP\/1\.1 200 OK\r\n[^]*"published":1/, 'the publish got its 200, not a 503')
  t.equal(code, 0)
  t.ok(took < 3000, `exited after ${took} ms`)

  // Another node started on the same Redis finds the event stored.
  const next = await startHub(t, [], spawnHub(['--port', '0', '--host', '127.0.0.1', '--insecure'], { REDIS_URL: redisUrl }))
  const last = await (await fetch(`${next.url}/lastEvent?channel=a`)).json() as { response: string }
  t.same(JSON.parse(last.response), { type: 'news', payload: 'x'.repeat(1000) })
})
