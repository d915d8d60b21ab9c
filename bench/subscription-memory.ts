/**
 * Heap per subscriber stream, by the number of channels it is on. A hub (memory mode) runs in
 * this process; a child process opens the streams on real sockets, so the heap measured here is
 * the server's only. Each round opens N streams, forces a GC, reads the heap, closes them and
 * waits until the hub let them go.
 *
 *   node --expose-gc --import tsx bench/subscription-memory.ts [--connections 2000] [--channels 64]
 *
 * Rounds: every stream on 1 channel of its own; on `--channels` channels of their own (the worst
 * case: every name is new to the hub); on the same `--channels` channels as every other stream.
 * Names are 128 characters, the longest allowed.
 */
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { connect } from 'node:net'
import { parseArgs } from 'node:util'

const NAME_LENGTH = 128

/** A channel name of exactly 128 characters. */
function channelName (stream: number, index: number): string {
  const stem = `s${stream}-c${index}-`
  return stem + 'x'.repeat(NAME_LENGTH - stem.length)
}

/** The channels of stream `stream` in a round. */
function channelsOf (stream: number, count: number, shared: boolean): string[] {
  return Array.from({ length: count }, (_, i) => channelName(shared ? 0 : stream, i))
}

interface Round { label: string, channels: number, shared: boolean }

/** In the child: opens the streams of a round, says 'ready' once each got its opening frames, closes them on 'close'. */
async function client (): Promise<void> {
  const sockets: Array<ReturnType<typeof connect>> = []
  process.on('message', async (message: { open?: { port: number, connections: number, channels: number, shared: boolean }, close?: true }) => {
    if (message.close === true) {
      for (const socket of sockets.splice(0)) socket.destroy()
      process.send?.({ closed: true })
      return
    }
    const { port, connections, channels, shared } = message.open!
    for (let i = 0; i < connections; i++) {
      const socket = connect(port, '127.0.0.1')
      sockets.push(socket)
      const opened = new Promise<void>((resolve, reject) => {
        let seen = ''
        socket.setEncoding('utf8')
        const onData = (text: string): void => {
          seen += text
          if (!seen.includes('event: registered')) return
          socket.off('data', onData)
          // Keep reading (and dropping) whatever comes next, as a browser would.
          socket.on('data', () => {})
          resolve()
        }
        socket.on('data', onData)
        socket.once('error', reject)
      })
      socket.write(`GET /subscribe?channels=${channelsOf(i, channels, shared).join(',')} HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n`)
      await opened
    }
    process.send?.({ ready: true })
  })
  process.send?.({ started: true })
}

/** Heap used and resident set size after a full collection, in bytes. */
async function settledHeap (): Promise<{ heap: number, rss: number }> {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('run with node --expose-gc')
  for (let i = 0; i < 4; i++) {
    gc()
    await new Promise((resolve) => setImmediate(resolve))
  }
  const { heapUsed, rss } = process.memoryUsage()
  return { heap: heapUsed, rss }
}

async function main (): Promise<void> {
  const { values } = parseArgs({
    options: {
      connections: { type: 'string', default: '2000' },
      channels: { type: 'string', default: '64' }
    }
  })
  const connections = Number(values.connections)
  const channels = Number(values.channels)
  // Autoload takes the .ts routes only when told that a TypeScript loader runs (node --import tsx).
  process.env.FASTIFY_AUTOLOAD_TYPESCRIPT = '1'
  const { default: Fastify } = await import('fastify')
  const { default: sseHub } = await import('../app.js')
  const app = Fastify()
  await app.register(sseHub, { insecure: true, maxChannelsPerSubscription: Math.max(channels, 1) })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port

  const child = fork(import.meta.filename, ['--client'], { stdio: 'inherit' })
  const replies: Array<Record<string, unknown>> = []
  const waiters: Array<() => void> = []
  child.on('message', (message: Record<string, unknown>) => {
    replies.push(message)
    waiters.shift()?.()
  })
  const reply = async (): Promise<Record<string, unknown>> => {
    if (replies.length === 0) await new Promise<void>((resolve) => waiters.push(resolve))
    return replies.shift()!
  }
  await reply()

  const rounds: Round[] = [
    { label: '1 channel', channels: 1, shared: false },
    { label: `${channels} distinct channels`, channels, shared: false },
    { label: `${channels} shared channels`, channels, shared: true }
  ]
  const perStream: number[] = []
  console.log(`${connections} streams, channel names of ${NAME_LENGTH} characters, node ${process.version}`)
  for (const round of rounds) {
    const before = await settledHeap()
    child.send({ open: { port, connections, channels: round.channels, shared: round.shared } })
    await reply()
    if (app.hub.connectionCount !== connections) throw new Error(`${app.hub.connectionCount} streams open, expected ${connections}`)
    const after = await settledHeap()
    const bytes = (after.heap - before.heap) / connections
    perStream.push(bytes)
    const kib = (value: number): string => (value / 1024).toFixed(1).padStart(6)
    console.log(`${round.label.padEnd(24)} heap ${kib(bytes)} KiB, RSS ${kib((after.rss - before.rss) / connections)} KiB per stream`)
    child.send({ close: true })
    await reply()
    const deadline = Date.now() + 30_000
    while (app.hub.connectionCount > 0) {
      if (Date.now() > deadline) throw new Error(`${app.hub.connectionCount} streams still open 30 s after the close`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
  const extra = (i: number): string => ((perStream[i] - perStream[0]) / (channels - 1)).toFixed(0)
  console.log(`per extra channel: ${extra(1)} bytes when its name is new to the hub, ${extra(2)} bytes when it is shared`)
  child.kill()
  await once(child, 'exit')
  await app.close()
}

if (process.argv.includes('--client')) await client()
else await main()
