/**
 * The floor of the hub's design, a peer for the cost scenarios (F1, F2): a Fastify 5 app that does
 * the same delivery and nothing else. `GET /subscribe?channels=a,b` is hijacked into a Map of
 * channel → responses; `POST /publish {"events":[...]}` is parsed by Fastify's own JSON parser
 * and each event written once per subscriber of its channel. No validation, no ids, no history,
 * no auth, no metrics: what the hub costs above it is what those cost.
 * Same wire as the hub: a first `registered` block (the load generator counts a subscriber ready
 * on its first event) and `event: <type>` with the hub's `data:` line.
 *
 * node --import tsx bench/floor-server.ts --port 19190 [--host 127.0.0.1]
 */
import type { ServerResponse } from 'node:http'
import { parseArgs } from 'node:util'
import Fastify from 'fastify'

interface PublishBody {
  events: Array<{ channelName: string, type: string, payload: unknown }>
}

const SSE_HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
  connection: 'close'
}

const { values } = parseArgs({
  options: { port: { type: 'string', default: '19190' }, host: { type: 'string', default: '127.0.0.1' } },
  strict: true
})

const app = Fastify({ logger: false })
const channels = new Map<string, Set<ServerResponse>>()

app.get('/health', async () => ({ status: 'ok' }))

app.get('/subscribe', (request, reply) => {
  const names = [...new Set(String((request.query as { channels?: string }).channels ?? '').split(','))]
  reply.hijack()
  const res = reply.raw
  res.writeHead(200, SSE_HEADERS)
  res.write('event: registered\ndata: {}\n\n')
  for (const name of names) {
    let set = channels.get(name)
    if (set === undefined) channels.set(name, set = new Set())
    set.add(res)
  }
  res.on('close', () => {
    for (const name of names) {
      const set = channels.get(name)
      if (set === undefined) continue
      set.delete(res)
      if (set.size === 0) channels.delete(name)
    }
  })
})

app.post('/publish', async (request) => {
  const { events } = request.body as PublishBody
  for (const { channelName, type, payload } of events) {
    const set = channels.get(channelName)
    if (set === undefined) continue
    const frame = `event: ${type}\ndata: ${JSON.stringify({ channelName, type, payload })}\n\n`
    for (const res of set) res.write(frame)
  }
  return { published: events.length }
})

await app.listen({ port: Number(values.port), host: values.host })
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => { process.exit(0) })
}
