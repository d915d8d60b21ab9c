import { once } from 'node:events'
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'
import { type ClientHttp2Session, type ClientHttp2Stream, connect } from 'node:http2'
import type { FastifyInstance } from 'fastify'
import { resolveConfig, type HubConfigInput } from '../lib/config/config.js'
import { buildServer } from '../standalone.js'
import type { TestContext } from './helper.js'
import { SseClient } from './sse-client.js'
import { testCertificate, type TestCertificate } from './tls.js'

/** An HTTP/2 session to `url`, trusting `ca`; destroyed at teardown. */
export async function h2Session (t: TestContext, url: string, ca?: string): Promise<ClientHttp2Session> {
  const session = connect(url, ca === undefined ? {} : { ca })
  session.on('error', () => {})
  t.teardown(() => { session.destroy() })
  await once(session, 'connect')
  return session
}

/** A stream of an HTTP/2 session parsed as `SseClient` parses HTTP/1.1: resolves once its head arrived. */
export async function h2Subscribe (session: ClientHttp2Session, path: string, headers: Record<string, string> = {}): Promise<SseClient & { stream: ClientHttp2Stream }> {
  const stream = session.request({ ':path': path, accept: 'text/event-stream', ...headers })
  stream.on('error', () => {})
  const [head] = await once(stream, 'response') as [IncomingHttpHeaders & { ':status': number }]
  // What SseClient reads of a response: the status, the headers, and a readable body.
  const response = Object.assign(stream, { statusCode: head[':status'], headers: head }) as unknown as IncomingMessage
  const client = new (SseClient as unknown as new (response: IncomingMessage) => SseClient)(response)
  return Object.assign(client, { stream })
}

/** A request of an HTTP/2 session, read whole: status, headers, body. */
export async function h2Request (session: ClientHttp2Session, path: string, options: { method?: string, body?: unknown } = {}): Promise<{ status: number, headers: IncomingHttpHeaders, body: string }> {
  const stream = session.request({ ':path': path, ':method': options.method ?? 'GET', ...(options.body === undefined ? {} : { 'content-type': 'application/json' }) })
  stream.end(options.body === undefined ? undefined : JSON.stringify(options.body))
  const [headers] = await once(stream, 'response') as [IncomingHttpHeaders & { ':status': number }]
  let body = ''
  stream.setEncoding('utf8')
  for await (const chunk of stream) body += chunk as string
  return { status: headers[':status'], headers, body }
}

export interface SecureHub {
  app: FastifyInstance
  /** https://localhost:<port> */
  url: string
  port: number
  certificate: TestCertificate
}

/**
 * The standalone server (`buildServer`) with a test certificate, `insecure`, on an ephemeral port
 * of 127.0.0.1 (`before` runs before it listens); closed at teardown.
 */
export async function secureHub (t: TestContext, options: HubConfigInput = {}, certificate = testCertificate(t), before?: (app: FastifyInstance) => void): Promise<SecureHub> {
  const config = resolveConfig({ insecure: true, tlsCert: certificate.certPath, tlsKey: certificate.keyPath, logLevel: 'error', ...options })
  const app = await buildServer(config)
  before?.(app)
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  return { app, url: `https://localhost:${port}`, port, certificate }
}
