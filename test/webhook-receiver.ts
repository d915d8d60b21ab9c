import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { TestContext } from './helper.js'
import type { WebhookEvent } from '../lib/webhooks/events.js'

/** One request as the receiver got it. */
export interface WebhookRequest {
  headers: IncomingMessage['headers']
  body: string
  events: WebhookEvent[]
  /** What the receiver answered. */
  status: number
}

export interface Receiver {
  url: string
  requests: WebhookRequest[]
  /** Every event of the requests answered 2xx, in order. */
  delivered: () => WebhookEvent[]
  /** Decides the status of each request (default 200); a promise holds the answer until it resolves. */
  answer: (request: WebhookRequest) => number | Promise<number>
  /** Stops listening and drops its connections: the receiver is down. */
  down: () => Promise<void>
  /** Listens again on the same port. */
  up: () => Promise<void>
}

/** A real HTTP receiver of webhooks on 127.0.0.1, stopped at teardown. */
export async function receiver (t: TestContext): Promise<Receiver> {
  let server: Server | undefined
  const requests: WebhookRequest[] = []
  const listen = async (port: number): Promise<number> => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let body = ''
      req.setEncoding('utf8').on('data', (chunk: string) => { body += chunk }).on('end', () => {
        const request: WebhookRequest = { headers: req.headers, body, events: JSON.parse(body).events, status: 0 }
        requests.push(request)
        Promise.resolve(self.answer(request)).then((status) => {
          request.status = status
          res.writeHead(status).end()
        }, () => { res.destroy() })
      })
    })
    server.listen(port, '127.0.0.1')
    await once(server, 'listening')
    return (server.address() as { port: number }).port
  }
  const port = await listen(0)
  const down = async (): Promise<void> => {
    if (server === undefined) return
    const closing = new Promise((resolve) => server?.close(resolve))
    server.closeAllConnections()
    server = undefined
    await closing
  }
  const self: Receiver = {
    url: `http://127.0.0.1:${port}/hooks`,
    requests,
    delivered: () => requests.filter((request) => request.status >= 200 && request.status < 300).flatMap((request) => request.events),
    answer: () => 200,
    down,
    up: async () => { await listen(port) }
  }
  t.teardown(down)
  return self
}

/** `type subject` of each event: `client.joined ann`, `channel.vacated news`. */
export function summary (events: readonly WebhookEvent[]): string[] {
  return events.map((event) => `${event.type} ${'clientId' in event ? event.clientId : event.channel}`)
}
