import Fastify from 'fastify'
import t from 'tap'
import sseHub from '../../app.js'
import { resolveConfig } from '../../lib/config/config.js'
import { serverOptions } from '../../standalone.js'
import { build } from '../helper.js'
import { bearer } from './keys.js'

const body = { events: [{ channelName: 'a', type: 't', payload: 1 }] }

t.test('publishRateLimit: over the limit a publish is a 429 with Retry-After, per address', async (t) => {
  const publishToken = 'rate-limited-publisher-token'
  const hub = await build(t, { publishRateLimit: 2, publishToken, insecure: false })
  const publish = (remoteAddress: string, token = publishToken) =>
    hub.app.inject({ method: 'POST', url: '/publish', payload: body, headers: bearer(token), remoteAddress })
  t.same([(await publish('192.0.2.1')).statusCode, (await publish('192.0.2.1')).statusCode], [200, 200])
  const over = await publish('192.0.2.1')
  t.equal(over.statusCode, 429)
  t.equal(over.headers['retry-after'], '1')
  t.same(over.json(), {
    statusCode: 429, code: 'SSE_HUB_RATE_LIMITED', error: 'Too Many Requests', message: 'publish: more than 2 per second from this address; retry in 1 s'
  })
  t.equal((await publish('192.0.2.2')).statusCode, 200, 'another address is not limited')
  // Counted before the token is checked: a flood of guesses is limited too, and cheaply.
  t.equal((await publish('192.0.2.3', 'guess-1')).statusCode, 401)
  t.equal((await publish('192.0.2.3', 'guess-2')).statusCode, 401)
  t.equal((await publish('192.0.2.3', 'guess-3')).statusCode, 429)
  t.equal((await hub.app.inject({ url: '/clients', headers: bearer(publishToken), remoteAddress: '192.0.2.1' })).statusCode, 200, 'reads are not publishes')
})

t.test('connectRateLimit: over the limit a stream is refused as in §1 — 200, retry:, closed', async (t) => {
  const hub = await build(t, { connectRateLimit: 2, retry: 1000 })
  const first = await hub.subscribe('/subscribe?channels=a')
  const second = await hub.subscribe('/presence')
  await Promise.all([first.waitForCount(2), second.waitForCount(1)])
  for (const url of ['/subscribe?channels=a', '/presence']) {
    const refused = await hub.subscribe(url)
    t.equal(refused.status, 200, `${url}: 200, so that EventSource comes back`)
    t.equal(refused.headers['x-sse-hub-refused'], 'rate-limit')
    t.equal(refused.headers['content-type'], 'text/event-stream')
    await refused.waitForEnd()
    t.same(refused.messages, [], 'nothing but retry:')
    t.ok(refused.retry !== undefined && refused.retry >= 1000 && refused.retry <= 3000, `jittered retry ${refused.retry}`)
  }
  t.equal(hub.app.hub.counters().refused['rate-limit'], 2)
  t.equal(hub.app.hub.connectionCount, 2, 'the open streams are untouched')
  t.equal((await hub.app.inject('/subscribe?channels=a%20b')).statusCode, 400, 'a bad request is still a 400')
  t.equal((await hub.publish(body)).statusCode, 200, 'publishing has its own limit')
})

t.test('both limits are off by default', async (t) => {
  const hub = await build(t)
  const clients = await Promise.all(Array.from({ length: 20 }, () => hub.subscribe('/subscribe?channels=a')))
  await Promise.all(clients.map((client) => client.waitForCount(2)))
  const statuses = await Promise.all(Array.from({ length: 50 }, () => hub.publish(body)))
  t.ok(statuses.every((res) => res.statusCode === 200))
  t.equal(hub.app.hub.counters().refused['rate-limit'], 0)
})

t.test('trustProxy: behind a trusted proxy the limits count X-Forwarded-For, from anyone else the socket address', async (t) => {
  const app = Fastify(serverOptions(resolveConfig({ trustProxy: '127.0.0.1, 10.0.0.0/8', logLevel: 'silent' })))
  await app.register(sseHub, { insecure: true, publishRateLimit: 1 })
  t.teardown(() => app.close())
  const publish = (remoteAddress: string, forwardedFor?: string) => app.inject({
    method: 'POST', url: '/publish', payload: body, remoteAddress, headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor }
  })
  t.equal((await publish('127.0.0.1', '198.51.100.1')).statusCode, 200)
  t.equal((await publish('127.0.0.1', '198.51.100.2')).statusCode, 200, 'two clients behind the proxy are two addresses')
  t.equal((await publish('127.0.0.1', '198.51.100.1')).statusCode, 429, 'the first one again is over its limit')
  t.equal((await publish('192.0.2.9', '198.51.100.3')).statusCode, 200)
  t.equal((await publish('192.0.2.9', '198.51.100.4')).statusCode, 429, 'an untrusted sender cannot choose its address')
  t.throws(() => resolveConfig({ trustProxy: '10.0.0.0/33' }), { message: /invalid option trustProxy: "10.0.0.0\/33" is not an IP address or a CIDR range/ })
  t.throws(() => resolveConfig({ trustProxy: 'proxy.example' }), { message: /invalid option trustProxy/ })
})
