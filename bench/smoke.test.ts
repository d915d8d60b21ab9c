/**
 * A smoke run of the load generator against an in-process hub: a few subscribers for about a
 * second, every event parsed and checked, zero loss asserted. Timing figures are never asserted.
 * Run with `tap bench/smoke.test.ts` (or add bench/**\/*.test.ts to tap's include).
 */
import type { AddressInfo } from 'node:net'
import Fastify from 'fastify'
import t from 'tap'
import sseHub from '../app.js'
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
