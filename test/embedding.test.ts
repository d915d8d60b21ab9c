import Fastify from 'fastify'
import t from 'tap'
import sseHub from '../index.js'
import { SseClient } from './sse-client.js'

async function listen (app: ReturnType<typeof Fastify>): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  return `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
}

t.test('a host app publishes with app.hub and mounts the routes under a prefix', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.get('/', async () => ({ host: 'app' }))
  await app.register(sseHub, { prefix: '/events', retry: 500 })
  const url = await listen(app)

  const client = await SseClient.open(`${url}/events/subscribe?channels=orders`)
  await client.waitForCount(2)
  t.equal(client.retry, 500)
  const result = await app.hub.publish([{ channelName: 'orders', type: 'created', payload: { id: 1 } }])
  t.equal(result.published, 1)
  await client.waitForCount(3)
  t.same(JSON.parse(client.messages[2].data), { channelName: 'orders', type: 'created', payload: { id: 1 } })
  t.equal(client.messages[2].id, result.ids[0])

  t.equal((await app.inject('/events/lastEvent?channel=orders')).statusCode, 200)
  t.equal((await app.inject('/subscribe?channels=a')).statusCode, 404, 'nothing outside the prefix')
  const own = await app.inject({ url: '/', headers: { origin: 'https://elsewhere.test' } })
  t.same(own.json(), { host: 'app' })
  t.equal(own.headers['access-control-allow-origin'], undefined, 'the hub CORS policy stays on its own routes')
  client.close()
})

t.test('hub.publish rejects a bad batch at once, publishing nothing', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(sseHub)
  await app.ready()
  t.throws(() => app.hub.publish([{ channelName: 'ok', type: 'fine', payload: 1 }, { channelName: 'bad name', type: 'x', payload: 1 }]),
    { statusCode: 400, code: 'SSE_HUB_BAD_EVENT', message: /^events\/1\/channelName: "bad name"/ })
  const circular: Record<string, unknown> = {}
  circular.self = circular
  await t.rejects(app.hub.publish([{ channelName: 'ok', type: 'fine', payload: 1 }, { channelName: 'ok', type: 'x', payload: circular }]),
    { statusCode: 400, message: /^events\/1\/payload: cannot be serialised as JSON/ })
  t.equal(await app.hub.lastEvent('ok'), '{}', 'nothing of either batch was published')
})

t.test('two registrations in two encapsulated contexts are independent hubs', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  let one: typeof app.hub | undefined
  let two: typeof app.hub | undefined
  await app.register(async (scope) => {
    await scope.register(sseHub, { prefix: '/one', publishToken: 'token-of-hub-one-0123' })
    one = scope.hub
  })
  await app.register(async (scope) => {
    await scope.register(sseHub, { prefix: '/two' })
    two = scope.hub
  })
  const url = await listen(app)
  t.ok(one !== undefined && two !== undefined && one !== two)
  t.notOk(app.hasDecorator('hub'), 'the root context has no hub of its own')

  const onOne = await SseClient.open(`${url}/one/subscribe?channels=c`)
  const onTwo = await SseClient.open(`${url}/two/subscribe?channels=c`)
  await Promise.all([onOne.waitForCount(2), onTwo.waitForCount(2)])
  const publish = (hub: string, token: string) => app.inject({
    method: 'POST', url: `/${hub}/publish`, headers: { authorization: `Bearer ${token}` }, payload: { events: [{ channelName: 'c', type: 'only-one', payload: 1 }] }
  })
  t.equal((await publish('two', 'token-of-hub-one-0123')).statusCode, 401, 'each hub has its own token')
  const res = await publish('one', 'token-of-hub-one-0123')
  t.equal(res.statusCode, 200)
  await onOne.waitForCount(3)
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(onTwo.messages.length, 2, 'the other hub saw nothing')
  t.equal((await app.inject('/two/lastEvent?channel=c')).json().response, '{}')
  onOne.close()
  onTwo.close()
})

t.test('app.close() ends open streams promptly', async (t) => {
  const app = Fastify()
  await app.register(sseHub)
  const url = await listen(app)
  const clients = await Promise.all([1, 2, 3].map(() => SseClient.open(`${url}/subscribe?channels=a`)))
  await Promise.all(clients.map((client) => client.waitForCount(2)))
  const started = Date.now()
  await app.close()
  await Promise.all(clients.map((client) => client.waitForEnd(2000)))
  t.ok(Date.now() - started < 2000, `closed in ${Date.now() - started} ms`)
  t.equal(app.hub.connectionCount, 0)
})

t.test('bad plugin options stop the registration, naming the option', async (t) => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ heartbeatInterval: 'often' }, /invalid option heartbeatInterval: Expected integer, got "often"/],
    [{ maxBufferedBytes: 0 }, /invalid option maxBufferedBytes: Expected integer to be greater or equal to 1, got 0/],
    [{ hearbeatInterval: 1000 }, /unknown option "hearbeatInterval"/]
  ]
  for (const [options, message] of cases) {
    const app = Fastify()
    await t.rejects(async () => { await app.register(sseHub, options).ready() }, { code: 'SSE_HUB_BAD_CONFIG', message })
    await app.close()
  }
})

t.test('the dashboard takes GET / of an app that embeds the hub without a prefix, unless dashboard: false', async (t) => {
  const clash = Fastify()
  clash.get('/', async () => 'the app\'s own page')
  await t.rejects(async () => { await clash.register(sseHub, { insecure: true }).ready() }, { code: 'FST_ERR_DUPLICATED_ROUTE' })
  await clash.close()

  const app = Fastify()
  t.teardown(() => app.close())
  app.get('/', async () => 'the app\'s own page')
  await app.register(sseHub, { insecure: true, dashboard: false })
  await app.ready()
  t.equal((await app.inject('/')).body, 'the app\'s own page')
  t.equal((await app.inject('/dashboard/app.js')).statusCode, 404, 'nor its files')
  t.equal((await app.inject('/health')).statusCode, 200, 'the hub is there all the same')
})
