import { once } from 'node:events'
import { connect } from 'node:http2'
import Fastify, { type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import sseHub from '../app.js'
import { h2Subscribe } from './h2-client.js'
import { testCertificate } from './tls.js'

// An app that registers the plugin on its own HTTP/2 Fastify: streams work, and Node warns of nothing.

const warnings: Error[] = []
process.on('warning', (warning) => { warnings.push(warning) })

/** Registers the hub on `app`, listens, streams one event to an HTTP/2 client; closes the session, then the app. */
async function streamOver (t: Test, app: FastifyInstance, scheme: 'http' | 'https', ca?: string): Promise<void> {
  await app.register(sseHub, { insecure: true, prefix: '/events' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const session = connect(`${scheme}://localhost:${port}`, ca === undefined ? {} : { ca })
  session.on('error', () => {})
  // Node before 24 closes no HTTP/2 session when the server closes: the client's goes first.
  t.teardown(async () => {
    session.destroy()
    await app.close()
  })
  await once(session, 'connect')
  t.equal(session.alpnProtocol, scheme === 'https' ? 'h2' : 'h2c')
  const client = await h2Subscribe(session, '/events/subscribe?channels=e')
  t.equal(client.status, 200)
  t.equal(client.headers.connection, undefined, 'no Connection header')
  await client.waitForCount(2)
  const { ids } = await app.hub.publish([{ channelName: 'e', type: 'n', payload: { scheme } }])
  await client.waitFor((c) => c.ofType('n').length === 1, 3000, 'the event')
  t.equal(client.ofType('n')[0].id, ids[0])
  const head = session.request({ ':path': '/events/subscribe?channels=e', ':method': 'HEAD' })
  head.end()
  t.equal((await once(head, 'response'))[0][':status'], 200, 'HEAD /subscribe')
  t.same(warnings.filter((warning) => warning.name === 'UnsupportedWarning'), [], 'no UnsupportedWarning')
}

t.test('Fastify({ http2: true }), HTTP/2 without TLS (prior knowledge)', async (t) => {
  await streamOver(t, Fastify({ http2: true }) as unknown as FastifyInstance, 'http')
})

t.test('Fastify({ http2: true, https }), HTTP/2 with TLS', async (t) => {
  const { cert, key } = testCertificate(t)
  await streamOver(t, Fastify({ http2: true, https: { cert, key } }) as unknown as FastifyInstance, 'https', cert)
})
