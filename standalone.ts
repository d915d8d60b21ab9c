import { type Server, STATUS_CODES } from 'node:http'
import { constants, type Http2SecureServer, type ServerHttp2Stream } from 'node:http2'
import { createServer, type Socket } from 'node:net'
import Fastify, { type FastifyBaseLogger, type FastifyHttpOptions, type FastifyInstance, type FastifyReply } from 'fastify'
import { sseHubWithConfig } from './app.js'
import { FILE_RESERVE, type HubConfig, openFileLimit, proxyList } from './lib/config/config.js'
import { redactedRequest, redactUrl } from './lib/base/redact.js'
import { Http2Sessions } from './lib/wire/h2-sessions.js'
import { SocketGuard } from './lib/wire/socket-guard.js'
import { CertificateReloader, readCertificate } from './lib/wire/tls.js'

/** How often Node looks for requests past `headersTimeout` or `requestTimeout` (its default is 30 s). */
const TIMEOUT_CHECK_INTERVAL = 1000

/** ms that requests in flight get, once a shutdown stops the server, before their connections are closed. */
export const REQUEST_GRACE = 2000

/** Open files the server leaves to the rest of the process when it sheds waiting connections. */
const SHEDDING_RESERVE = FILE_RESERVE / 4

/**
 * Streams one HTTP/2 session may have open at once (its SETTINGS_MAX_CONCURRENT_STREAMS; Node's
 * own default is unlimited): far more than a browser's tabs open to one hub, and a bound on
 * what one connection can make the server hold.
 */
export const MAX_CONCURRENT_STREAMS = 128

/**
 * ms without a frame after which an HTTP/2 session is closed, as an idle HTTP/1.1 keep-alive
 * connection is (Fastify's 72 s); a session with a stream is never that silent, as heartbeats
 * come at least every `heartbeatInterval`.
 */
const HTTP2_SESSION_TIMEOUT = 72_000

/** The TLS parts of each standalone server that has them, for `serverReloadables` and the stop. */
const secureParts = new WeakMap<FastifyInstance, { certificate: CertificateReloader, sessions: Http2Sessions }>()

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
  const app = config.tlsCert === undefined || config.tlsKey === undefined
    ? Fastify({ ...serverOptions(config), return503OnClosing: false })
    : secureServer(config, config.tlsCert, config.tlsKey)
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
    // Before the hub ends its streams (its preClose comes after this one): no new stream on any session.
    secureParts.get(app)?.sessions.goAway()
  })
  // Once the server stops, a request that still comes in on an open connection is sent elsewhere.
  app.addHook('onRequest', (request, reply, done) => {
    if (!closing) return done()
    // HTTP/2 has no `Connection` (the session got a GOAWAY).
    if (request.raw.httpVersionMajor !== 2) reply.header('connection', 'close')
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
 * The standalone server with TLS: HTTPS, HTTP/2 for clients that offer it by ALPN and HTTP/1.1
 * for the others, the certificate reloaded when its files change (and on SIGHUP, see
 * `serverReloadables`). Node's HTTP/1.1 timeouts hold for HTTP/1.1 connections; an HTTP/2
 * session is closed after `HTTP2_SESSION_TIMEOUT` without a frame.
 */
function secureServer (config: HubConfig, certPath: string, keyPath: string): FastifyInstance {
  // Checked when the configuration was read; read again here, as the files may have changed since.
  const pair = readCertificate(certPath, keyPath)
  // `http` holds the HTTP/1.1 timeouts, set on the server below instead.
  const { http: _http1, http2: _http2, ...options } = serverOptions(config)
  const app = Fastify({
    // The same logger, error answers and trustProxy; Fastify's types tie them to an HTTP/1 server.
    ...(options as object),
    return503OnClosing: false,
    http2: true,
    https: { allowHTTP1: true, cert: pair.cert, key: pair.key, settings: { maxConcurrentStreams: MAX_CONCURRENT_STREAMS } },
    http2SessionTimeout: Math.max(HTTP2_SESSION_TIMEOUT, 2 * config.heartbeatInterval)
  })
  const server = app.server as Http2SecureServer & Pick<Server, 'headersTimeout' | 'requestTimeout'> & { connectionsCheckingInterval: number }
  // Read by Node's HTTP/1.1 side of the server when it starts listening.
  server.headersTimeout = config.headersTimeout
  server.requestTimeout = config.requestTimeout
  server.connectionsCheckingInterval = TIMEOUT_CHECK_INTERVAL
  // HTTP/2 has no such check: a request (a publish whose body trickles) gets `requestTimeout`
  // without a frame; a stream that starts is exempt (lib/wire/h2-sink.ts clears it).
  server.on('stream', (stream) => { stream.setTimeout(config.requestTimeout, () => { requestTimedOut(stream) }) })
  const certificate = new CertificateReloader(server, certPath, keyPath, pair, app.log)
  app.addHook('onListen', async () => {
    app.log.info(`TLS certificate serial ${pair.serial} (valid until ${pair.validTo}); HTTP/2 and HTTP/1.1, reloaded on SIGHUP or a change of ${certPath} or ${keyPath}`)
    certificate.watch()
  })
  app.addHook('onClose', async () => { certificate.close() })
  const secure = app as unknown as FastifyInstance
  secureParts.set(secure, { certificate, sessions: new Http2Sessions(server) })
  return secure
}

/** An HTTP/2 request past `requestTimeout`: a 408 in the hub's format if nothing was answered yet, else a reset. */
function requestTimedOut (stream: ServerHttp2Stream): void {
  if (stream.headersSent || stream.destroyed) {
    stream.close(constants.NGHTTP2_CANCEL)
    return
  }
  const [statusCode, message] = clientErrorAnswer('ERR_HTTP_REQUEST_TIMEOUT')
  stream.respond({ ':status': statusCode, 'content-type': 'application/json' })
  stream.end(JSON.stringify({ statusCode, code: 'ERR_HTTP_REQUEST_TIMEOUT', error: STATUS_CODES[statusCode], message }))
}

/** What SIGHUP reloads in a server of `buildServer`: its TLS certificate, when it has one. */
export function serverReloadables (app: FastifyInstance): Reloadable[] {
  const parts = secureParts.get(app)
  if (parts === undefined) return []
  return [{ what: 'the TLS certificate', reload: () => { parts.certificate.reload() } }]
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
  // An HTTP/2 server (with TLS) has no closeAllConnections before Node 24: its sessions are dropped here.
  const server = app.server as Partial<Pick<Server, 'closeIdleConnections' | 'closeAllConnections'>>
  const idle = setInterval(() => server.closeIdleConnections?.(), 100).unref()
  const force = setTimeout(() => {
    server.closeAllConnections?.()
    secureParts.get(app)?.sessions.destroyAll()
  }, REQUEST_GRACE).unref()
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
