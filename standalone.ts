import { type Server, STATUS_CODES } from 'node:http'
import { createServer, type Socket } from 'node:net'
import Fastify, { type FastifyBaseLogger, type FastifyHttpOptions, type FastifyInstance, type FastifyReply } from 'fastify'
import { sseHubWithConfig } from './app.js'
import { FILE_RESERVE, type HubConfig, openFileLimit, proxyList } from './lib/config/config.js'
import { redactedRequest, redactUrl } from './lib/base/redact.js'
import { SocketGuard } from './lib/wire/socket-guard.js'

/** How often Node looks for requests past `headersTimeout` or `requestTimeout` (its default is 30 s). */
const TIMEOUT_CHECK_INTERVAL = 1000

/** ms that requests in flight get, once a shutdown stops the server, before their connections are closed. */
export const REQUEST_GRACE = 2000

/** Open files the server leaves to the rest of the process when it sheds waiting connections. */
const SHEDDING_RESERVE = FILE_RESERVE / 4

/**
 * The Fastify options of the standalone server: request logs with the `token` query parameter
 * redacted, Node's header and request timeouts checked every second, and the error answers that
 * Fastify and Node give before any route runs (a malformed URL, headers too large, a timeout) in
 * the hub's error format, `{statusCode, code, error, message}`, never echoing the URL. An app
 * that embeds the hub can pass the same to its own `Fastify(...)`.
 */
export function serverOptions (config: Pick<HubConfig, 'logLevel' | 'headersTimeout' | 'requestTimeout' | 'trustProxy'>): FastifyHttpOptions<Server> {
  const proxies = proxyList(config.trustProxy)
  return {
    logger: { level: config.logLevel, serializers: { req: redactedRequest } },
    ...(proxies.length > 0 ? { trustProxy: proxies } : {}),
    requestTimeout: config.requestTimeout,
    http: { headersTimeout: config.headersTimeout, requestTimeout: config.requestTimeout, connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL },
    frameworkErrors (error, _request, reply) {
      const statusCode = error.statusCode ?? 400
      const message = error.code === 'FST_ERR_BAD_URL' ? 'url: not a valid URL (malformed percent-encoding)' : error.message
      const answer = reply as FastifyReply
      answer.code(statusCode).send({ statusCode, code: error.code, error: STATUS_CODES[statusCode], message })
    },
    clientErrorHandler (error: NodeJS.ErrnoException, socket: Socket) {
      if (error.code === 'ECONNRESET' || socket.destroyed) return
      const [statusCode, message] = clientErrorAnswer(error.code)
      const body = JSON.stringify({ statusCode, code: error.code ?? 'ERR_CLIENT', error: STATUS_CODES[statusCode], message })
      if (socket.writable) {
        socket.write(`HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
      }
      socket.destroy()
    }
  }
}

function clientErrorAnswer (code: string | undefined): [number, string] {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return [408, 'request: its headers or body did not arrive in time']
  if (code === 'HPE_HEADER_OVERFLOW') return [431, 'headers: larger than the server accepts']
  return [400, 'request: not a valid HTTP request']
}

/** What `sse-hub` runs: a Fastify server with the hub at its root, not yet listening. */
export async function buildServer (config: HubConfig): Promise<FastifyInstance> {
  // A request after the stop is answered by the onRequest hook below, with a `code` like every other error.
  const app = Fastify({ ...serverOptions(config), return503OnClosing: false })
  const limit = openFileLimit()
  const guard = new SocketGuard(app.server, {
    maxConnectionsPerAddress: config.maxConnectionsPerAddress,
    sheddingThreshold: limit === undefined ? undefined : Math.max(1, limit - SHEDDING_RESERVE)
  })
  guard.onShed = (count) => { app.log.warn(`${count} connections that sent no complete request head were closed to keep file descriptors for new ones (open-file limit ${limit})`) }
  let closing = false
  app.addHook('preClose', async () => {
    closing = true
    // Half-sent requests: nothing to answer yet, and the stop would wait for them.
    guard.closeWaiting()
  })
  // Once the server stops, a request that still comes in on an open connection is sent elsewhere.
  app.addHook('onRequest', (_request, reply, done) => {
    if (!closing) return done()
    reply.header('connection', 'close')
    reply.code(503).send({ statusCode: 503, code: 'SSE_HUB_STOPPING', error: STATUS_CODES[503], message: 'the server is stopping; retry on another node' })
  })
  // Fastify's own 404 logs and echoes the whole URL, a mistyped subscriber's ?token= included.
  app.setNotFoundHandler(async (request, reply) => {
    return reply.code(404).send({ statusCode: 404, code: 'SSE_HUB_NOT_FOUND', error: 'Not Found', message: `Route ${request.method}:${redactUrl(request.url)} not found` })
  })
  await app.register(sseHubWithConfig, { config })
  return app
}

/**
 * The graceful stop: `/health` answers 503 at once while everything else goes on for
 * `shutdownDelay` (a load balancer that polls it stops sending clients); then the server stops
 * accepting, answers the requests in flight, closes idle connections and ends every stream
 * (streams that do not read are reset, see `Hub.close`). Connections still busy `REQUEST_GRACE`
 * later — half-sent requests, bodies that trickle — are closed, so the stop takes at most
 * `shutdownDelay` + `REQUEST_GRACE` + a little, whatever the clients do.
 */
export async function stopGracefully (app: FastifyInstance, shutdownDelay: number): Promise<void> {
  app.hub.drain()
  if (shutdownDelay > 0) await new Promise((resolve) => setTimeout(resolve, shutdownDelay))
  // Node closes the connections idle when the server stops; these close those that become idle after.
  const idle = setInterval(() => app.server.closeIdleConnections(), 100).unref()
  const force = setTimeout(() => app.server.closeAllConnections(), REQUEST_GRACE).unref()
  await app.close()
  clearInterval(idle)
  clearTimeout(force)
}

/**
 * Fails as the server's listen would (`EADDRINUSE`, `EACCES`, `EADDRNOTAVAIL`) when `port` on
 * `host` cannot be had, by listening and closing at once; port 0 always can.
 */
export async function checkPort (port: number, host: string): Promise<void> {
  if (port === 0) return
  const probe = createServer()
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject)
    probe.listen({ port, host, exclusive: true }, resolve)
  })
  await new Promise((resolve) => probe.close(resolve))
}

/** One thing the server reloads on SIGHUP, named for the log. */
export interface Reloadable {
  /** What it reloads, as the log says it: `the TLS certificate`. */
  what: string
  /** Reloads it; a failure leaves the one in use in place. */
  reload: () => void | Promise<void>
}

/**
 * What SIGHUP does: reload what registered with `onReload`, one thing after the other, each logged;
 * a failure is logged and the server goes on with what it had. The options are read at start only.
 */
export class Reloader {
  private readonly parts: Reloadable[] = []
  private running: Promise<void> = Promise.resolve()

  constructor (private readonly log: FastifyBaseLogger) {}

  onReload (part: Reloadable): void {
    this.parts.push(part)
  }

  /** Reloads every part, after any reload still running. @param signal what asked for it, for the log */
  reload (signal: string): Promise<void> {
    this.running = this.running.then(() => this.run(signal))
    return this.running
  }

  private async run (signal: string): Promise<void> {
    if (this.parts.length === 0) {
      this.log.info(`${signal} received: nothing to reload (the options are read at start only; a restart applies new ones)`)
      return
    }
    for (const part of this.parts) {
      try {
        await part.reload()
        this.log.info(`${signal} received: reloaded ${part.what}`)
      } catch (err) {
        this.log.error({ err }, `${signal} received: could not reload ${part.what}; the one in use stays`)
      }
    }
  }
}
