import { createSigner } from 'fast-jwt'
import type { FastifyInstance } from 'fastify'
import type { Request } from 'playwright-core'
import t from 'tap'
import { waitUntil } from '../helper.js'
import { SseClient } from '../sse-client.js'
import { browserContext, clientHub, connectTab, haveChromium, opened, openTab, PREFIX, received, type Tab, TIMEOUT } from './browser.js'

// The client's tokens and the hub's answers: a token that expires every 5 s, refusals for now,
// 401 (the token asked again once), 403 and 400 (refused for good), and the EventSource fallback.

const SECRET = 'client-test-secret-0123456789abcdef'
const sign = createSigner({ key: SECRET })

/** Test routes of the page's origin: `/token` a JWT for every channel valid `life` s, `/token/rooms` one for room* only, `/token/bad` none valid, `/token/second` a bad one first. */
function tokenRoutes (life: number): (app: FastifyInstance) => void {
  let asked = 0
  const token = (subscribe: string[]): string => sign({ sub: 'page', exp: Math.floor(Date.now() / 1000) + life, hub: { subscribe } })
  return (app) => {
    app.get('/token', async () => token(['*']))
    app.get('/token/rooms', async () => token(['room*']))
    app.get('/token/bad', async () => 'not-a-jwt')
    app.get('/token/second', async () => ++asked === 1 ? 'not-a-jwt' : token(['*']))
  }
}

/** The subscribe requests a tab makes. */
function subscribes (tab: Tab): Request[] {
  const requests: Request[] = []
  tab.page.on('request', (request) => { if (request.url().includes(`${PREFIX}/subscribe`)) requests.push(request) })
  return requests
}

const statuses = (tab: Tab): Promise<any[]> => tab.page.evaluate(() => (window as any).statuses)

t.test('a token that expires every 5 s: the stream goes on across the reconnects, nothing lost or doubled', async (t) => {
  if (!haveChromium(t)) return
  const hub = await clientHub(t, { subscribeAuth: true, jwtSecret: SECRET, retry: 500 }, { extra: tokenRoutes(5) })
  const { context } = await browserContext(t)
  const tab = await openTab(context, hub)
  const requests = subscribes(tab)
  await connectTab(tab, hub, { channels: ['ticks'], tokenFrom: '/token' })
  await opened(tab)

  const ids: string[] = []
  let n = 0
  const publisher = setInterval(() => {
    hub.app.hub.publish([{ channelName: 'ticks', type: 'tick', payload: n++ }]).then((result) => { ids.push(result.ids[0]) }, () => {})
  }, 50)
  t.teardown(() => clearInterval(publisher))
  // Two expiries at least: three streams.
  await waitUntil(() => requests.length >= 3, 20_000, 'two reconnects')
  await opened(tab)
  clearInterval(publisher)
  await waitUntil(() => ids.length === n, TIMEOUT, 'every publish answered')
  await waitUntil(async () => (await received(tab)).length >= n, TIMEOUT, `${n} events`)
  const got = await received(tab)
  t.same(got.map(([, , id, payload]) => [id, payload]), ids.map((id, i) => [id, i]), `all ${n} events, once, in order`)
  t.ok(requests.every((request) => !request.url().includes('token=')), 'no token in a URL')
  t.ok(requests.every((request) => request.headers().authorization?.startsWith('Bearer ')), 'the token as a Bearer header')
  t.ok(requests.slice(1).every((request) => request.headers()['last-event-id'] !== undefined), 'each reconnect sends its Last-Event-ID')
  t.equal((await statuses(tab)).filter((s) => s.state === 'open' && s.resumed).length >= 2, true, 'resumed after each expiry')
  t.same(tab.problems, [])
})

t.test('refused for now (max-connections): the client waits the retry it got, then opens', async (t) => {
  if (!haveChromium(t)) return
  const hub = await clientHub(t, { maxConnections: 1, retry: 300 }, { tls: false })
  const occupant = await SseClient.open(`${hub.url}/subscribe?channels=x`)
  t.teardown(() => occupant.close())
  await occupant.waitForCount(2)
  const { context } = await browserContext(t)
  const tab = await openTab(context, hub)
  await connectTab(tab, hub, { channels: ['news'] })
  await tab.page.waitForFunction(() => (window as any).statuses.some((s: any) => s.reason === 'max-connections'))
  t.same((await statuses(tab)).find((s) => s.reason !== undefined), { state: 'connecting', reason: 'max-connections' })
  occupant.close()
  await opened(tab)
  t.equal(hub.app.hub.connectionCount, 1, 'the client holds the one connection')
  // The browser logs nothing for a refusal: it is a 200.
  t.same(tab.problems, [])
})

t.test('401 asks the token again once; a second 401, a 403 and a 400 are refused for good with the hub\'s message', async (t) => {
  if (!haveChromium(t)) return
  const hub = await clientHub(t, { subscribeAuth: true, jwtSecret: SECRET, maxChannelsPerSubscription: 2 }, { extra: tokenRoutes(60) })
  const { context } = await browserContext(t)
  // Each tab on its own connection: tabs that share use the leader's token.

  const second = await openTab(context, hub)
  const secondRequests = subscribes(second)
  await connectTab(second, hub, { channels: ['room1'], tokenFrom: '/token/second', share: false })
  await opened(second)
  t.equal(secondRequests.length, 2, 'a 401, then the new token')
  t.notOk((await statuses(second)).some((s) => s.state === 'refused'), 'never refused')

  const bad = await openTab(context, hub)
  const badRequests = subscribes(bad)
  await connectTab(bad, hub, { channels: ['room1'], tokenFrom: '/token/bad', share: false })
  await bad.page.waitForFunction(() => (window as any).client.status.state === 'refused')
  const refused = await bad.page.evaluate(() => (window as any).client.status)
  t.equal(refused.statusCode, 401)
  t.match(refused.reason, /token/, 'the hub\'s message')

  const rooms = await openTab(context, hub)
  await connectTab(rooms, hub, { channels: ['room1', 'other'], tokenFrom: '/token/rooms', share: false })
  await rooms.page.waitForFunction(() => (window as any).client.status.state === 'refused')
  t.same(await rooms.page.evaluate(() => (window as any).client.status), {
    state: 'refused', statusCode: 403, reason: (await hub.app.inject({ url: `${PREFIX}/subscribe?channels=other`, headers: { authorization: `Bearer ${sign({ hub: { subscribe: ['room*'] } })}` } })).json().message
  }, '403 with the hub\'s message')

  const many = await openTab(context, hub)
  await connectTab(many, hub, { channels: ['room1', 'room2', 'room3'], tokenFrom: '/token', share: false })
  await many.page.waitForFunction(() => (window as any).client.status.state === 'refused')
  const tooMany = await many.page.evaluate(() => (window as any).client.status)
  t.equal(tooMany.statusCode, 400)
  t.match(tooMany.reason, /channels/)
  t.equal(badRequests.length, 2, 'the bad token was tried twice, no more')
  await t.rejects(many.page.evaluate(() => (window as any).hubClient.connect({ url: '/', channels: ['bad name'] })), /is not a channel name/, 'a bad name is a TypeError at once')
})

t.test('without streaming fetch: EventSource, with the token in the hub\'s cookie or else ?token=', async (t) => {
  if (!haveChromium(t)) return
  const hub = await clientHub(t, { subscribeAuth: true, jwtSecret: SECRET }, { extra: tokenRoutes(60) })
  const { context } = await browserContext(t)
  const tab = await openTab(context, hub, '?nostream')
  const requests = subscribes(tab)
  await connectTab(tab, hub, { channels: ['news'], tokenFrom: '/token' })
  await tab.page.evaluate(() => (window as any).client.on('headline', () => {}))
  await opened(tab)
  t.equal(requests[0].resourceType(), 'eventsource', 'an EventSource')
  const session = (await hub.app.inject({ method: 'POST', url: `${PREFIX}/session` })).statusCode !== 404
  t.equal(requests[0].url().includes('token='), !session, session ? 'the cookie of POST /session' : 'no POST /session on this hub: ?token=')
  const { ids } = await hub.app.hub.publish([{ channelName: 'news', type: 'headline', payload: { title: 'EventSource' } }])
  await waitUntil(async () => (await received(tab)).length === 1, TIMEOUT, 'the event')
  t.same(await received(tab), [['news', 'headline', ids[0], { title: 'EventSource' }]])
  t.same(tab.problems.filter((problem) => !/404/.test(problem)), [], 'no errors but the missing session route')
})
