import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { HARD_LIMIT_FACTOR } from '../lib/core/stream-monitor.js'
import { scrape } from './metrics.js'
import { build, startHub, waitUntil } from './helper.js'

/** A raw subscriber that sends its request and then never reads. */
function stalledReader (port: number, channel: string): Socket {
  const socket = connect(port, '127.0.0.1')
  socket.pause()
  socket.on('error', () => {})
  socket.write(`GET /subscribe?channels=${channel} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n`)
  return socket
}

/**
 * Server sockets on `port` in FIN-WAIT-1: closed by the server with data the client never took,
 * which the kernel keeps trying to send for a minute or more. A reset leaves none.
 */
function finWait1 (port: number): number {
  const FIN_WAIT1 = '04'
  let count = 0
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = ''
    try { text = readFileSync(table, 'utf8') } catch { continue }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/)
      if (fields.length > 3 && Number.parseInt(fields[1].split(':')[1], 16) === port && fields[3] === FIN_WAIT1) count++
    }
  }
  return count
}

t.test('a client that stops reading is cut with a reset once it stays behind for slowClientTimeout; the others get everything', async (t) => {
  const maxBufferedBytes = 256 * 1024
  const slowClientTimeout = 1000
  const hub = await build(t, { maxBufferedBytes, slowClientTimeout, bodyLimit: 1024 * 1024 })
  const { port } = hub.app.server.address() as { port: number }
  const serverSockets = new Set<Socket>()
  hub.app.server.on('connection', (socket: Socket) => serverSockets.add(socket))
  let maxPending = 0
  const sample = (): void => {
    for (const socket of serverSockets) maxPending = Math.max(maxPending, socket.writableLength)
  }

  const stalled = stalledReader(port, 'firehose')
  t.teardown(() => { stalled.destroy() })
  const reader = await hub.subscribe('/subscribe?channels=firehose')
  await reader.waitForCount(2)
  await waitUntil(() => hub.app.hub.connectionCount === 2, 5000, 'both streams')

  // Until the kernel's buffers are full and the stalled stream is behind, then no more: below the hard limit.
  const payload = 'x'.repeat(64 * 1024)
  let sent = 0
  for (; sent < 500; sent++) {
    t.equal((await hub.publish({ events: [{ channelName: 'firehose', type: 'chunk', payload: `${sent}:${payload}` }] })).statusCode, 200)
    sample()
    if (maxPending > maxBufferedBytes) break
  }
  sent++
  t.ok(maxPending > maxBufferedBytes, `the stalled stream is behind after ${sent} events`)
  const behindSince = Date.now()
  await new Promise((resolve) => setTimeout(resolve, slowClientTimeout / 2))
  t.equal(hub.app.hub.counters().slowDisconnects, 0, 'not cut before slowClientTimeout')
  await waitUntil(() => hub.app.hub.counters().slowDisconnects === 1, 5000, 'the stalled client to be cut')
  const cutAfter = Date.now() - behindSince
  t.ok(cutAfter <= slowClientTimeout + 1000, `cut ${cutAfter} ms after it fell behind`)
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.equal(finWait1(port), 0, 'reset: no unsent data is left in the kernel for the cut client')

  // Far past the hard limit for a client that stalls again: cut at once, no waiting.
  const second = stalledReader(port, 'firehose')
  t.teardown(() => { second.destroy() })
  await waitUntil(() => hub.app.hub.connectionCount === 2, 5000, 'the second stalled stream')
  const hardLimit = maxBufferedBytes * HARD_LIMIT_FACTOR
  const total = sent + Math.ceil(hardLimit / payload.length) + 64
  for (let i = sent; i < total; i++) {
    await hub.publish({ events: [{ channelName: 'firehose', type: 'chunk', payload: `${i}:${payload}` }] })
    sample()
  }
  await waitUntil(() => hub.app.hub.counters().slowDisconnects === 2, 2000, 'the hard limit to cut the second client')
  t.equal((await scrape(hub.app)).get('sse_hub_slow_client_disconnects_total'), 2, 'both cuts in the metrics')

  await reader.waitForCount(2 + total, 20000)
  const received = reader.ofType('chunk').map((m) => JSON.parse(m.data).payload.split(':')[0])
  t.same(received, Array.from({ length: total }, (_, i) => String(i)), 'the reading client got every event in order')
  t.equal(hub.app.hub.connectionCount, 1)
  t.ok(maxPending <= hardLimit + payload.length + 200, `server-side unsent bytes stayed under the hard limit: max ${maxPending}`)
})

t.test('a reader that keeps reading is never cut by a burst: 80 simultaneous publishes of 90 × 1 KB events', async (t) => {
  const { port, log } = await startHub(t)

  // curl writing to a file, in a process of its own, as a reader that is not slow.
  const dir = mkdtempSync(join(tmpdir(), 'sse-hub-burst-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'stream.txt')
  const curl = spawn('curl', ['-sN', '-o', file, `http://127.0.0.1:${port}/subscribe?channels=burst&clientId=reader`])
  t.teardown(() => { curl.kill('SIGKILL') })
  await waitUntil(() => { try { return readFileSync(file, 'utf8').includes('event: lastEvent') } catch { return false } }, 5000, 'the reader to connect')

  const payload = 'y'.repeat(1000)
  const publish = (batch: number): Promise<Response> => fetch(`http://127.0.0.1:${port}/publish`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ events: Array.from({ length: 90 }, (_, i) => ({ channelName: 'burst', type: 'item', payload: `${batch}.${i}:${payload}` })) })
  })
  const replies = await Promise.all(Array.from({ length: 80 }, (_, batch) => publish(batch)))
  t.same([...new Set(replies.map((reply) => reply.status))], [200], 'every publish accepted')

  const count = (): number => readFileSync(file, 'utf8').split('event: item\n').length - 1
  await waitUntil(() => count() === 7200, 20000, () => `all 7,200 events, ${count()} so far`)
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.equal(curl.exitCode, null, 'the reader is still connected')
  t.notMatch(log(), /cut slow/, 'no slow-client cut was logged')
  const clients = await (await fetch(`http://127.0.0.1:${port}/clients/reader`)).json() as { connections: number }
  t.equal(clients.connections, 1)
  curl.kill('SIGKILL')
  await once(curl, 'exit')
})

t.test('a slow-client cut is logged at info with the clientId, at most one line a second', async (t) => {
  const { port, log } = await startHub(t, ['--max-buffered-bytes', '65536', '--slow-client-timeout', '300'])
  for (let i = 0; i < 5; i++) {
    const reader = stalledReader(port, `slow&clientId=stuck-${i}`)
    t.teardown(() => { reader.destroy() })
  }
  await waitUntil(async () => ((await (await fetch(`http://127.0.0.1:${port}/clients`)).json()) as { total: number }).total === 5, 5000, 'the stalled readers')
  const payload = 'z'.repeat(60 * 1024)
  const connected = async (): Promise<number> => ((await (await fetch(`http://127.0.0.1:${port}/clients`)).json()) as { total: number }).total
  for (let i = 0; i < 400 && await connected() > 0; i++) {
    await fetch(`http://127.0.0.1:${port}/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ events: [{ channelName: 'slow', type: 'chunk', payload }] })
    })
  }
  await waitUntil(async () => await connected() === 0, 5000, 'the stalled readers to be cut')
  await waitUntil(() => /cut slow client stuck-\d/.test(log()), 2000, 'the log line')
  const lines = log().split('\n').filter((line) => line.includes('cut slow'))
  t.equal(lines.length, 1, 'five cuts in the same second make one line')
  const entry = JSON.parse(lines[0])
  t.equal(entry.level, 30, 'info')
  t.match(entry.msg, /^cut slow client stuck-\d: \d+ bytes unsent/)
  t.match(entry.msg, /and 4 more slow streams cut|over the hard limit/)
})
