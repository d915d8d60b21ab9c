/**
 * A smoke run of the load generator against an in-process hub: a few subscribers for about a
 * second, every event parsed and checked, zero loss asserted; over HTTP/1.1 in the clear and over
 * HTTP/2 (TLS, the hub embedded in Fastify's HTTP/2 server); and subscribers with credentials of
 * their own, a JWT each or a session of the bench's app (authUrl). Timing figures are never asserted.
 * Run with `tap bench/smoke.test.ts` (or add bench/**\/*.test.ts to tap's include).
 */
import type { ServerHttp2Stream } from 'node:http2'
import type { AddressInfo } from 'node:net'
import Fastify from 'fastify'
import t from 'tap'
import sseHub from '../app.js'
import { testCertificate } from '../test/tls.js'
import { type Revocation, revocationHold } from './auth-holds.js'
import { startAuthApp } from './auth-scenarios.js'
import { runLoad } from './load.js'

t.test('the load generator gets every event once, in order, from the hub', async (t) => {
  const app = Fastify()
  // The load generator publishes without a token.
  await app.register(sseHub, { insecure: true })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const { port } = app.server.address() as AddressInfo

  const result = await runLoad({
    port,
    protocol: 'hub',
    subscribers: 6,
    channels: 2,
    batch: 2,
    depth: 4,
    warmup: 0.2,
    duration: 1,
    settle: 0.1,
    verify: true,
    threadsPerProcess: 2,
    channelPrefix: 'smoke-',
    serverPids: [process.pid]
  })
  t.equal(result.subscribers.ready, 6, 'every subscriber connected')
  t.ok(result.window.deliveries > 0, 'events were delivered in the window')
  t.ok(result.integrity.expected > 0, 'events were published')
  t.same(result.integrity, {
    ...result.integrity,
    lost: 0,
    lossyStreams: 0,
    duplicates: 0,
    reordered: 0,
    malformed: 0,
    dropped: 0,
    publishErrors: 0
  }, 'no loss, duplicate, reordering, malformed event or error')
  t.ok(result.latencyMs.samples > 0, 'latency was measured')
})

t.test('over HTTP/2 the load generator gets every event once, in order, one write per stream per batch', async (t) => {
  const certificate = testCertificate(t)
  const app = Fastify({ http2: true, https: { allowHTTP1: true, key: certificate.key, cert: certificate.cert } })
  await app.register(sseHub, { insecure: true })
  // What reaches each subscriber stream's HTTP/2 layer: one call per write, or one per corked run.
  const flushes = new Map<ServerHttp2Stream, number>()
  app.server.on('stream', (stream: ServerHttp2Stream, headers) => {
    if (!String(headers[':path']).startsWith('/subscribe')) return
    flushes.set(stream, 0)
    for (const method of ['_write', '_writev'] as const) {
      const original = stream[method] as (...args: unknown[]) => void
      stream[method] = (...args: unknown[]) => {
        flushes.set(stream, (flushes.get(stream) ?? 0) + 1)
        original.apply(stream, args)
      }
    }
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const { port } = app.server.address() as AddressInfo

  // Batches of 4 events on one channel, one publish at a time: each batch is one turn of the hub.
  const result = await runLoad({
    port,
    protocol: 'hub',
    transport: 'h2',
    ca: certificate.cert,
    streamsPerSession: 3,
    subscribers: 6,
    channels: 1,
    batch: 4,
    depth: 1,
    warmup: 0.2,
    duration: 1,
    settle: 0.1,
    verify: true,
    threadsPerProcess: 2,
    channelPrefix: 'smoke-h2-',
    serverPids: [process.pid]
  })
  t.equal(result.subscribers.ready, 6, 'every subscriber connected')
  t.ok(result.window.deliveries > 0, 'events were delivered in the window')
  t.same(result.integrity, {
    ...result.integrity,
    lost: 0,
    lossyStreams: 0,
    duplicates: 0,
    reordered: 0,
    malformed: 0,
    dropped: 0,
    publishErrors: 0
  }, 'no loss, duplicate, reordering, malformed event or error')
  const batches = result.publisher.acknowledgedRequests
  t.ok(batches > 0, 'batches were published')
  t.equal(flushes.size, 6, 'six subscriber streams on the server')
  // The opening frames take a write or two; after that, at most one per batch (fewer when batches share a turn).
  for (const count of flushes.values()) t.ok(count <= batches + 2, `${count} writes for ${batches} batches of 4 events`)
})

t.test('subscribers carry a JWT each, signed as sse-hub token signs it: a hub with subscribeAuth lets them in, each with the sub of its token', async (t) => {
  const secret = 'the-secret-of-the-smoke-test-0123456789'
  const app = Fastify()
  await app.register(sseHub, { insecure: true, jwtSecret: secret, subscribeAuth: true })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const { port } = app.server.address() as AddressInfo

  let clientIds: Array<string | undefined> = []
  const result = await runLoad({
    port,
    protocol: 'hub',
    subscribers: 4,
    idle: true,
    settle: 0.1,
    threadsPerProcess: 1,
    serverPids: [process.pid],
    channelPrefix: 'smoke-jwt-',
    credential: { kind: 'jwt', secret, shared: false },
    hold: async () => {
      clientIds = await Promise.all([0, 1, 2, 3].map(async (i) => (await app.hub.client(`user-${i}`))?.clientId))
      return { endedOnPurpose: 0 }
    }
  })
  t.equal(result.subscribers.ready, 4, 'every subscriber connected')
  t.same(clientIds, ['user-0', 'user-1', 'user-2', 'user-3'], 'each with the sub of its own token')
})

t.test('with authUrl each subscriber\'s cookie is a call to the bench\'s app; when the app withdraws, the hub ends every stream at its grant\'s expiry', async (t) => {
  const authApp = await startAuthApp({ core: undefined, workDir: t.testdir() }, 4, 1)
  t.teardown(() => authApp.stop())
  const app = Fastify()
  await app.register(sseHub, { insecure: true, authUrl: authApp.url })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const { port } = app.server.address() as AddressInfo

  const figures: { revocation?: Revocation } = {}
  const result = await runLoad({
    port,
    protocol: 'hub',
    subscribers: 4,
    idle: true,
    settle: 0.1,
    threadsPerProcess: 1,
    channelPrefix: 'smoke-app-',
    credential: { kind: 'cookie', shared: false },
    serverPids: [process.pid],
    appPid: authApp.pid,
    hold: revocationHold({ pid: process.pid, host: '127.0.0.1', port }, authApp, figures)
  })
  t.equal(result.subscribers.ready, 4, 'every subscriber connected')
  const { calls } = await authApp.stats()
  t.ok(calls.allowed >= 4 && calls.unknown === 0, `a grant per session (and any renewal): ${JSON.stringify(calls)}`)
  t.match(figures.revocation, { open: 4, ended: 4, callsAfter: 4 }, 'every stream ended after one refused renewal each')
  t.ok((figures.revocation?.lagMs.min ?? -1) >= 0, 'none before its grant ran out')
  t.equal(result.integrity.endedOnPurpose, 4)
  t.equal(result.integrity.dropped, 0, 'the ends of the revocation are not counted as dropped')
})
