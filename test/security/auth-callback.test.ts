import { createServer, type IncomingMessage, type Server } from 'node:http'
import t from 'tap'
import { build, data, type TestContext, waitUntil } from '../helper.js'
import { bearer, keys, mint } from './keys.js'

// The app decides who subscribes (authUrl): a real backend in the test, which records what the hub
// asks and answers as each test says; slow, down, refusing, or granting less than asked.

interface Asked { body: any, headers: IncomingMessage['headers'] }
interface Backend {
  url: string
  asked: Asked[]
  /** TCP connections the hub opened to it. */
  connections: number
  /** The answer to the next questions: status, JSON body, delay in ms. */
  answer: (body: any) => { status: number, body?: unknown, delay?: number }
  close: () => Promise<void>
}

async function backend (t: TestContext): Promise<Backend> {
  const state: Backend = { url: '', asked: [], connections: 0, answer: () => ({ status: 200, body: {} }), close: async () => {} }
  const server: Server = createServer((req, res) => {
    let text = ''
    req.setEncoding('utf8').on('data', (chunk: string) => { text += chunk }).on('end', () => {
      const body = JSON.parse(text)
      state.asked.push({ body, headers: req.headers })
      const { status, body: reply, delay = 0 } = state.answer(body)
      setTimeout(() => res.writeHead(status, { 'content-type': 'application/json' }).end(reply === undefined ? '' : JSON.stringify(reply)), delay)
    })
  })
  server.on('connection', () => { state.connections++ })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  state.close = () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) })
  t.teardown(() => state.close())
  state.url = `http://127.0.0.1:${(server.address() as { port: number }).port}/auth`
  return state
}

const clientIdOf = (client: { messages: Array<{ data: string }> }): string => JSON.parse(data(client.messages[0]).payload).clientId

t.test('a subscribe without a JWT asks the app, forwarding only the listed headers; its answer decides the clientId and channels', async (t) => {
  const app = await backend(t)
  app.answer = () => ({ status: 200, body: { clientId: 'alice', channels: ['news*'], ttl: 30 } })
  const hub = await build(t, { authUrl: app.url, jwtSecret: keys.secret })
  const client = await hub.subscribe('/subscribe?channels=news,news:eu&clientId=mallory', { headers: { cookie: 'session=abc', 'x-other': 'not forwarded' } })
  t.equal(client.status, 200)
  await client.waitForCount(3)
  t.equal(clientIdOf(client), 'alice', 'the app\'s clientId')
  t.same(app.asked.map((a) => a.body), [{ action: 'subscribe', channels: ['news', 'news:eu'], clientId: 'mallory', address: '127.0.0.1', headers: { cookie: 'session=abc' } }])
  t.equal(app.asked[0].headers['content-type'], 'application/json')

  const narrower = await hub.app.inject({ url: '/subscribe?channels=news,payroll', headers: { cookie: 'session=abc' } })
  t.equal(narrower.statusCode, 403, 'a grant narrower than asked')
  t.equal(narrower.json().message, 'channels: the token does not allow subscribing to "payroll"')

  const calls = app.asked.length
  const jwt = await hub.subscribe(`/subscribe?channels=news&token=${mint(keys.secret, { sub: 'bob', hub: { subscribe: ['news'] } })}`)
  await jwt.waitForCount(2)
  t.equal(clientIdOf(jwt), 'bob', 'a valid JWT decides')
  t.equal(app.asked.length, calls, 'and needs no call')
})

t.test('the app says 401 or 403: the client hears it as for a token, before any stream; refusals are kept 5 s', async (t) => {
  const app = await backend(t)
  const hub = await build(t, { authUrl: app.url })
  app.answer = () => ({ status: 401, body: { message: 'session expired' } })
  const unauthorized = await hub.app.inject({ url: '/subscribe?channels=news', headers: { cookie: 'session=old' } })
  t.equal(unauthorized.statusCode, 401)
  t.match(unauthorized.json(), { code: 'SSE_HUB_UNAUTHORIZED', message: 'authorization: refused by the app: session expired' })
  t.match(unauthorized.headers['www-authenticate'], /^Bearer realm="sse-hub"/)
  app.answer = () => ({ status: 403 })
  const forbidden = await hub.app.inject({ url: '/lastEvent?channel=payroll', headers: { cookie: 'session=intern' } })
  t.match(forbidden.json(), { statusCode: 403, code: 'SSE_HUB_FORBIDDEN', message: 'authorization: refused by the app' })
  const again = await hub.app.inject({ url: '/lastEvent?channel=payroll', headers: { cookie: 'session=intern' } })
  t.equal(again.statusCode, 403)
  t.equal(app.asked.length, 2, 'the same refusal again: no call')
})

t.test('the app slow, down or answering nonsense: a subscribe is refused for now (200, retry:), a lastEvent is 503', async (t) => {
  const app = await backend(t)
  const hub = await build(t, { authUrl: app.url, authTimeout: 200, retry: 1000 })
  const cases: Array<[string, (body: any) => { status: number, body?: unknown, delay?: number }, RegExp]> = [
    ['slow', () => ({ status: 200, body: {}, delay: 1000 }), /no answer within 200 ms/],
    ['500', () => ({ status: 500 }), /the app answered 500/],
    ['a bad channel pattern', () => ({ status: 200, body: { channels: ['a b'] } }), /the app's channels are not a list of channel patterns/],
    ['a bad clientId', () => ({ status: 200, body: { clientId: 'has space' } }), /the app's clientId is not a valid clientId/]
  ]
  for (const [name, answer, reason] of cases) {
    app.answer = answer
    const refused = await hub.subscribe('/subscribe?channels=news', { headers: { cookie: `session=${name}` } })
    t.equal(refused.status, 200, name)
    t.equal(refused.headers['x-sse-hub-refused'], 'auth-unavailable', name)
    await refused.waitForEnd()
    t.ok(refused.retry !== undefined && refused.retry >= 1000, `${name}: retry: ${refused.retry}`)
    t.same(refused.messages, [], `${name}: no event`)
    const lastEvent = await hub.app.inject({ url: '/lastEvent?channel=news', headers: { cookie: `session=${name}` } })
    t.match(lastEvent.json(), { statusCode: 503, code: 'SSE_HUB_AUTH_UNAVAILABLE', message: reason }, name)
  }
  t.equal(hub.app.hub.counters().refused['auth-unavailable'], 4)
  t.equal(hub.app.hub.connectionCount, 0, 'no stream was left open')

  await app.close()
  const down = await hub.app.inject({ url: '/lastEvent?channel=news', headers: { cookie: 'session=down' } })
  t.match(down.json(), { statusCode: 503, code: 'SSE_HUB_AUTH_UNAVAILABLE' }, 'the app down')
})

t.test('a reconnect storm of one credential makes one call', async (t) => {
  const app = await backend(t)
  app.answer = () => ({ status: 200, body: { ttl: 60 }, delay: 100 })
  const hub = await build(t, { authUrl: app.url })
  const answers = await Promise.all(Array.from({ length: 1000 }, () => hub.app.inject({ url: '/lastEvent?channel=news', headers: { cookie: 'session=one-user' } })))
  t.same([...new Set(answers.map((answer) => answer.statusCode))], [200], '1,000 requests at once: all 200')
  const streams = await Promise.all(Array.from({ length: 100 }, () => hub.subscribe('/subscribe?channels=news', { headers: { cookie: 'session=one-user' } })))
  t.same([...new Set(streams.map((stream) => stream.status))], [200], 'then 100 streams')
  t.equal(app.asked.length, 1, 'one call: the lastEvents at once shared it, the streams found its answer kept')
  const metrics = (await hub.app.inject('/metrics')).body
  t.match(metrics, /^sse_hub_auth_calls_total\{outcome="allowed"\} 1$/m)
  t.match(metrics, /^sse_hub_auth_cache_hits_total 1099$/m, 'the other 1,099 without a call')
  t.match(metrics, /^sse_hub_auth_call_duration_seconds_count 1$/m)
})

t.test('authPublish: a publish without a valid token asks the app, with the channels of its batch', async (t) => {
  const app = await backend(t)
  app.answer = () => ({ status: 200, body: { channels: ['orders*'] } })
  const hub = await build(t, { insecure: false, publishToken: 'static-publisher-token-0123', authUrl: app.url, authPublish: true })
  const batch = (...channels: string[]) => ({ events: channels.map((channelName) => ({ channelName, type: 'created', payload: 1 })) })
  t.equal((await hub.publish(batch('orders', 'orders:eu', 'orders'), { cookie: 'session=shop' })).statusCode, 200)
  t.same(app.asked[0].body, { action: 'publish', channels: ['orders', 'orders:eu'], clientId: null, address: '127.0.0.1', headers: { cookie: 'session=shop' } })
  t.match(await hub.publish(batch('orders', 'payroll'), { cookie: 'session=shop' }), { statusCode: 403, json: { message: 'events/1/channelName: the token does not allow publishing to "payroll"' } })
  t.equal((await hub.publish(batch('payroll'), bearer('static-publisher-token-0123'))).statusCode, 200, 'the static token needs no call')
  t.equal(app.asked.length, 2)
})

t.test('a stream lives as long as its grant: asked again when its ttl runs out, it goes on while the app says yes and ends when it withdraws', async (t) => {
  const app = await backend(t)
  app.answer = () => ({ status: 200, body: { ttl: 1 } })
  const hub = await build(t, { authUrl: app.url })
  const stream = await hub.subscribe('/subscribe?channels=news', { headers: { cookie: 'session=revoked-soon' } })
  await stream.waitForCount(2)
  await waitUntil(() => app.asked.length >= 3, 6000, 'two renewals')
  t.notOk(stream.ended, 'renewed twice, still open')
  hub.app.hub.publish([{ channelName: 'news', type: 'headline', payload: 1 }])
  await stream.waitForCount(3)

  app.answer = () => ({ status: 403, body: { message: 'access withdrawn' } })
  await stream.waitForEnd(4000)
  t.pass('the stream ended once the app withdrew the grant')
  const calls = app.asked.length
  const again = await hub.app.inject({ url: '/subscribe?channels=news', headers: { cookie: 'session=revoked-soon' } })
  t.match(again.json(), { statusCode: 403, message: 'authorization: refused by the app: access withdrawn' })
  t.equal(app.asked.length, calls, 'the reconnect got the refusal kept from the renewal')
})

t.test('renewals: a grant now narrower, or the app down, ends the stream; streams expiring together ask at most 32 at a time', async (t) => {
  const app = await backend(t)
  let inFlight = 0
  let mostInFlight = 0
  app.answer = () => ({ status: 200, body: { ttl: 1 }, delay: 50 })
  const hub = await build(t, { authUrl: app.url, authTimeout: 500 })
  const narrowed = await hub.subscribe('/subscribe?channels=news,chat', { headers: { cookie: 'session=narrowed' } })
  const down = await hub.subscribe('/subscribe?channels=news', { headers: { cookie: 'session=down' } })
  const many = await Promise.all(Array.from({ length: 200 }, (_, i) => hub.subscribe('/subscribe?channels=news', { headers: { cookie: `session=user-${i}` } })))
  t.same([...new Set(many.map((client) => client.status))], [200])
  const [callsBefore, connectionsBefore] = [app.asked.length, app.connections]
  app.answer = (body) => {
    const cookie = body.headers.cookie
    if (cookie === 'session=narrowed') return { status: 200, body: { channels: ['news'], ttl: 60 } }
    if (cookie === 'session=down') return { status: 200, body: {}, delay: 2000 }
    inFlight++
    mostInFlight = Math.max(mostInFlight, inFlight)
    // Answered after its delay: in flight until then.
    setTimeout(() => { inFlight-- }, 100)
    return { status: 200, body: { ttl: 60 }, delay: 100 }
  }
  await narrowed.waitForEnd(5000)
  await down.waitForEnd(5000)
  t.pass('narrower grant and no answer: both ended')
  await waitUntil(() => app.asked.length >= 2 + 200 + 200, 15_000, 'the 200 renewals')
  t.ok(mostInFlight <= 32, `at most 32 renewals at once (${mostInFlight})`)
  const [calls, connections] = [app.asked.length - callsBefore, app.connections - connectionsBefore]
  t.ok(connections <= 64, `${calls} renewal calls over ${connections} new connections: kept open between calls`)
  t.ok(many.every((client) => !client.ended), 'the 200 renewed streams go on')
})

t.test('a request with no token, an empty one or a JWT the hub refuses asks the app, and no 401 header is left on the answer', async (t) => {
  const app = await backend(t)
  app.answer = () => ({ status: 200, body: { ttl: 60 } })
  const hub = await build(t, { authUrl: app.url, jwtSecret: keys.secret })
  const expired = mint(keys.secret, { sub: 'bob', hub: { subscribe: ['news'] }, exp: Math.floor(Date.now() / 1000) - 60 })
  const cases: Array<[string, string, Record<string, string>]> = [
    ['no token', '', {}],
    ['an empty cookie', '', { cookie: 'sse_hub_token=' }],
    ['an expired JWT', `&token=${expired}`, {}],
    ['not a JWT', '', { authorization: 'Bearer not-a-jwt' }]
  ]
  for (const [i, [name, query, headers]] of cases.entries()) {
    // A channel of its own: each question differs, so none is answered from the cache.
    const answer = await hub.app.inject({ url: `/lastEvent?channel=case-${i}${query}`, headers })
    t.equal(answer.statusCode, 200, name)
    t.equal(answer.headers['www-authenticate'], undefined, `${name}: no WWW-Authenticate`)
  }
  t.equal(app.asked.length, cases.length, 'the app was asked each time')
})
