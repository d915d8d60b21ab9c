import { connect, type Socket } from 'node:net'
import t from 'tap'
import { build } from './helper.js'

t.test('a client that never reads is disconnected; everyone else gets everything', async (t) => {
  const maxBufferedBytes = 256 * 1024
  const hub = await build(t, { maxBufferedBytes, bodyLimit: 1024 * 1024 })
  const { port } = hub.app.server.address() as { port: number }

  // Watch how many unsent bytes the server ever holds for any socket.
  const serverSockets = new Set<Socket>()
  hub.app.server.on('connection', (socket: Socket) => serverSockets.add(socket))
  let maxPending = 0
  const sample = (): void => {
    for (const socket of serverSockets) maxPending = Math.max(maxPending, socket.writableLength)
  }

  // The stalled reader: a raw socket that sends a subscribe and then never reads.
  const stalled = connect(port, '127.0.0.1')
  stalled.pause()
  stalled.write('GET /subscribe?channels=firehose HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n')
  t.teardown(() => { stalled.destroy() })

  const reader = await hub.subscribe('/subscribe?channels=firehose')
  await reader.waitForCount(2)
  const deadline = Date.now() + 5000
  while (hub.app.hub.connectionCount < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
  t.equal(hub.app.hub.connectionCount, 2)

  // 20 MB in 64 KB events: far more than the kernel's socket buffers absorb.
  const payload = 'x'.repeat(64 * 1024)
  const total = 320
  for (let i = 0; i < total; i++) {
    const res = await hub.publish({ events: [{ channelName: 'firehose', type: 'chunk', payload: `${i}:${payload}` }] })
    t.equal(res.statusCode, 200)
    sample()
  }
  await reader.waitForCount(2 + total, 20000)
  const received = reader.ofType('chunk').map((m) => JSON.parse(m.data).payload.split(':')[0])
  t.same(received, Array.from({ length: total }, (_, i) => String(i)), 'the reading client got every event in order')

  t.equal(hub.app.hub.stats.slowDisconnects, 1, 'the stalled client was disconnected')
  t.equal(hub.app.hub.connectionCount, 1)
  const oneFrame = Buffer.byteLength(payload) + 200
  t.ok(maxPending <= maxBufferedBytes + oneFrame, `server-side unsent bytes stayed bounded: max ${maxPending}`)
})
