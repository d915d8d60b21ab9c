import { createServer, type Server } from 'node:http'
import { connect, Socket } from 'node:net'
import { queryObjects } from 'node:v8'
import t from 'tap'
import { SocketGuard } from '../../../lib/wire/socket-guard.js'
import { rawConnection, type TestContext, waitUntil } from '../../helper.js'

async function listening (t: TestContext, server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  return (server.address() as { port: number }).port
}

function openConnections (server: Server): Promise<number> {
  return new Promise((resolve, reject) => server.getConnections((err, count) => { if (err === null) resolve(count); else reject(err) }))
}

/** A connection that opens and closes without sending anything. */
function connectAndClose (port: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.destroy())
    socket.on('error', () => {})
    socket.on('close', () => resolve())
  })
}

t.test('a flood of connections closed before their request: the guard holds a bounded number of them', async (t) => {
  const server = createServer((_req, res) => res.end('ok'))
  // No per-address limit: the guard puts no listener on a connection (see SocketGuard.waiting).
  const guard = new SocketGuard(server, { maxConnectionsPerAddress: 0 })
  const port = await listening(t, server)
  for (let batch = 0; batch < 30; batch++) await Promise.all(Array.from({ length: 100 }, () => connectAndClose(port)))
  await waitUntil(async () => await openConnections(server) === 0, 5000, 'the server to see every connection closed')
  // Client and server sockets alike, after a full collection: what the guard's waiting set still holds.
  const sockets = queryObjects(Socket, { format: 'count' }) as number
  t.ok(sockets < 600, `${sockets} sockets alive after 3,000 connect-and-close (the waiting set is swept as it doubles)`)
  guard.closeWaiting()
  t.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), 'ok', 'a request after the flood is answered')
})

t.test('near the limit, the oldest waiting connection that is still open is shed, not one that closed meanwhile', async (t) => {
  const server = createServer((_req, res) => res.end('ok'))
  const guard = new SocketGuard(server, { maxConnectionsPerAddress: 0, sheddingThreshold: 3 })
  let shed = 0
  guard.onShed = (count) => { shed += count }
  const port = await listening(t, server)
  // Closed while waiting: they stay in the guard's waiting set until a sweep.
  for (let i = 0; i < 3; i++) await connectAndClose(port)
  const halfSent = [1, 2, 3].map(() => rawConnection(t, port, 'GET / HTTP/1.1\r\nHost: x\r\n'))
  await waitUntil(async () => await openConnections(server) === 3, 2000, 'three half-sent requests')
  const answered = rawConnection(t, port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
  await waitUntil(() => halfSent[0].closed(), 2000, 'the oldest half-sent request to be shed')
  await waitUntil(() => answered.received().includes('ok'), 2000, 'the newcomer to be answered')
  t.same(halfSent.map((connection) => connection.closed()), [true, false, false], 'only the oldest open one')
  t.equal(shed, 1, 'one connection shed')
})
