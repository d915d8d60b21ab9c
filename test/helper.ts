import Fastify, { type FastifyInstance } from 'fastify'
import sseHub, { type SseHubOptions } from '../app.js'
import { SseClient, type OpenOptions } from './sse-client.js'

export interface TestContext {
  teardown (fn: () => unknown): void
}

export interface TestHub {
  app: FastifyInstance
  /** http://127.0.0.1:<port> */
  url: string
  /** Opens a subscriber stream on a real socket; closed at teardown. */
  subscribe (query: string, options?: OpenOptions): Promise<SseClient>
  /** POSTs a publish body as JSON, with the given headers (e.g. `authorization`). */
  publish (body: unknown, headers?: Record<string, string>): Promise<{ statusCode: number, json: any }>
}

/**
 * Builds the app the one way every test uses: the hub plugin on a fresh Fastify, listening on a
 * real ephemeral port, closed at the end of the test. It is `insecure` (publishing and presence
 * reads open) unless the test says `insecure: false`: the security tests do, the others test
 * everything else.
 */
export async function build (t: TestContext, options: SseHubOptions = {}): Promise<TestHub> {
  const app = Fastify()
  await app.register(sseHub, { insecure: true, ...options })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  const url = `http://127.0.0.1:${address.port}`
  const clients: SseClient[] = []
  t.teardown(async () => {
    for (const client of clients) client.close()
    await app.close()
  })
  return {
    app,
    url,
    async subscribe (query, open) {
      const client = await SseClient.open(`${url}${query}`, open)
      clients.push(client)
      return client
    },
    async publish (body, headers) {
      const res = await app.inject({ method: 'POST', url: '/publish', payload: body as object, headers })
      return { statusCode: res.statusCode, json: res.json() }
    }
  }
}

/** The parsed `data` of a message. */
export function data (message: { data: string }): any {
  return JSON.parse(message.data)
}

/**
 * Resolves once `condition` holds, polled every 10 ms (for server-side state that no stream
 * announces); rejects after `timeout` ms naming `what`.
 */
export async function waitUntil (condition: () => boolean | Promise<boolean>, timeout = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeout
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
