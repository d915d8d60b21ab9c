import { request } from 'node:http'
import Fastify from 'fastify'
import t from 'tap'
import sseHub from '../../app.js'
import { bearer, keys, mint } from '../security/keys.js'

// Each request is checked once: the route's schema and the step after it parse and check, the
// access check and the hub read what they produced. Seen from outside: how often a name of the
// request is matched against a rule (the names here are unique to this file).
const tested = new Map<string, number>()
/** The channel-name rule (lib/base/names.ts), as the source of the expression that tests it. */
const CHANNEL_RULE = '^[A-Za-z0-9_\\-.:@/]{1,128}$'
const test = RegExp.prototype.test
function counting (this: RegExp, input: string): boolean {
  if (this.source === CHANNEL_RULE && input.startsWith('once')) tested.set(input, (tested.get(input) ?? 0) + 1)
  return test.call(this, input)
}
// A spy on the real matcher, for this file's process only, restored at the end.
// eslint-disable-next-line no-extend-native
Object.defineProperty(RegExp.prototype, 'test', { value: counting, configurable: true, writable: true })
// eslint-disable-next-line no-extend-native
t.teardown(() => { Object.defineProperty(RegExp.prototype, 'test', { value: test, configurable: true, writable: true }) })
const reset = (): void => { tested.clear() }
const counts = (): Record<string, number> => Object.fromEntries(tested)

async function hub (t: { teardown: (fn: () => unknown) => void }) {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(sseHub, { jwtSecret: keys.secret, subscribeAuth: true, insecure: false })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return app
}

t.test('a publish through a scoped token: each name is checked once, by the route; the gate reads the result', async (t) => {
  const app = await hub(t)
  const token = mint(keys.secret, { hub: { publish: ['once-orders', 'once-users'] } })
  const events = [{ channelName: 'once-orders', type: 'created', payload: 1 }, { channelName: 'once-users', type: 'joined', payload: 2 }]
  reset()
  const ok = await app.inject({ method: 'POST', url: '/publish', headers: bearer(token), payload: { events } })
  t.equal(ok.statusCode, 200)
  t.same(counts(), { 'once-orders': 1, 'once-users': 1 })

  reset()
  const bad = await app.inject({ method: 'POST', url: '/publish', headers: bearer(token), payload: { events: [...events, { channelName: 'once bad', type: 'x', payload: 1 }] } })
  t.equal(bad.statusCode, 400, 'a bad name is a 400 before the gate looks')
  t.match(bad.json().message, /^events\/2\/channelName: "once bad" is not a valid channel name/)
  t.same(counts(), { 'once-orders': 1, 'once-users': 1, 'once bad': 1 })

  reset()
  const foreign = await app.inject({ method: 'POST', url: '/publish', headers: bearer(token), payload: { events: [{ channelName: 'once-other', type: 'x', payload: 1 }] } })
  t.equal(foreign.statusCode, 403)
  t.same(counts(), { 'once-other': 1 })
})

t.test('app.hub.publish from plain JS is still checked, once', async (t) => {
  const app = await hub(t)
  reset()
  await app.hub.publish([{ channelName: 'once-plain', type: 'created', payload: 1 }])
  t.same(counts(), { 'once-plain': 1 })
  t.throws(() => app.hub.publish([{ channelName: 'once-plain', type: 'registered', payload: 1 }]), { statusCode: 400, message: 'events/0/type: "registered" is reserved' })
  t.throws(() => app.hub.publish([{ channelName: 'once plain', type: 'x', payload: 1 }]), { statusCode: 400, message: /^events\/0\/channelName: "once plain" is not a valid channel name/ })
})

t.test('a subscribe with subscribeAuth: its channel list is parsed once; the gate and the route read it', async (t) => {
  const app = await hub(t)
  const { port } = app.server.address() as { port: number }
  const token = mint(keys.secret, { sub: 'once-alice', hub: { subscribe: ['once-a', 'once-b'] } })
  reset()
  const head = await new Promise<{ status: number, first: string }>((resolve, reject) => {
    const req = request({ port, host: '127.0.0.1', path: `/subscribe?channels=once-a,once-b&token=${token}` }, (res) => {
      res.setEncoding('utf8')
      res.once('data', (first: string) => {
        resolve({ status: res.statusCode ?? 0, first })
        req.destroy()
      })
    })
    req.setTimeout(5000, () => req.destroy(new Error('no answer in 5 s')))
    req.once('error', reject)
    req.end()
  })
  t.equal(head.status, 200)
  t.match(head.first, /event: registered/)
  t.same(counts(), { 'once-a': 1, 'once-b': 1, 'once-alice': 1 }, 'each channel once, and the token\'s sub')

  reset()
  const refused = await app.inject({ method: 'GET', url: `/subscribe?channels=once-a,once-c&token=${token}` })
  t.equal(refused.statusCode, 403)
  t.equal(refused.json().message, 'channels: the token does not allow subscribing to "once-c"')
  t.same(counts(), { 'once-a': 1, 'once-c': 1, 'once-alice': 1 })
})

t.test('checked headers stay the request\'s own object: Fastify would copy them at every read of request.headers once a check handed back a value', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  const kept: Record<string, boolean> = {}
  app.addHook('preHandler', async (request) => { kept[request.routeOptions.url ?? ''] = request.headers === request.raw.headers })
  await app.register(sseHub, { insecure: true })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const published = await app.inject({ method: 'POST', url: '/publish', headers: { 'idempotency-key': 'k' }, payload: { events: [] } })
  t.equal(published.statusCode, 200)
  t.equal(kept['/publish/'] ?? kept['/publish'], true, 'a publish, its Idempotency-Key checked')
  // A subscribe with a Last-Event-ID, ended once its head arrived.
  await new Promise<void>((resolve, reject) => {
    const address = app.server.address() as { port: number }
    const req = request({ port: address.port, host: '127.0.0.1', path: '/subscribe?channels=c', headers: { 'last-event-id': 'x-1' } }, (res) => { res.destroy(); resolve() })
    req.on('error', reject)
    req.end()
  })
  t.equal(kept['/subscribe'] ?? kept['/subscribe/'], true, 'a subscribe, its Last-Event-ID checked')
})
