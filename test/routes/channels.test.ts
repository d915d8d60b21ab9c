import t from 'tap'
import { mintToken } from '../../lib/cli/token.js'
import { MemoryClientRegistry } from '../../lib/registry/registry.js'
import { build, waitUntil } from '../helper.js'
import { bearer, keys } from '../security/keys.js'

t.test('GET /channels/:name: zeros and null for a channel nobody uses', async (t) => {
  const hub = await build(t)
  const res = await hub.app.inject('/channels/quiet')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { name: 'quiet', subscribers: 0, clients: 0, lastEvent: null })
})

t.test('GET /channels lists the channels with subscribers; /channels/:name adds clients and the last event', async (t) => {
  const hub = await build(t)
  const ann1 = await hub.subscribe('/subscribe?channels=news,sport&clientId=ann')
  const ann2 = await hub.subscribe('/subscribe?channels=news&clientId=ann')
  const bob = await hub.subscribe('/subscribe?channels=news&clientId=bob')
  await Promise.all([ann1.waitForCount(3), ann2.waitForCount(2), bob.waitForCount(2)])
  const before = Date.now()
  const published = await hub.publish({
    events: [
      { channelName: 'news', type: 'headline', payload: { title: 'first' } },
      { channelName: 'news', type: 'headline', payload: null },
      { channelName: 'archive', type: 'stored', payload: 1 }
    ]
  })
  const after = Date.now()

  const list = (await hub.app.inject('/channels')).json()
  t.equal(list.total, 2, 'archive has a last event but no subscriber: not listed')
  t.equal(list.nextCursor, undefined)
  t.match(list.channels, [{ name: 'news', subscribers: 3 }, { name: 'sport', subscribers: 1, lastEventAt: null }])
  const lastEventAt = Date.parse(list.channels[0].lastEventAt)
  t.ok(lastEventAt >= before && lastEventAt <= after, `lastEventAt ${list.channels[0].lastEventAt}`)
  t.equal(new Date(lastEventAt).toISOString(), list.channels[0].lastEventAt, 'ISO 8601')

  const news = (await hub.app.inject('/channels/news')).json()
  t.same(news, {
    name: 'news',
    subscribers: 3,
    clients: 2,
    lastEvent: { id: published.json.ids[1], type: 'headline', payload: null, publishedAt: list.channels[0].lastEventAt }
  })
  t.same((await hub.app.inject('/channels/archive')).json(), {
    name: 'archive',
    subscribers: 0,
    clients: 0,
    lastEvent: { id: published.json.ids[2], type: 'stored', payload: 1, publishedAt: list.channels[0].lastEventAt }
  })

  ann1.close()
  await waitUntil(() => hub.app.hub.connectionCount === 2, 5000, 'ann1 closed')
  t.same((await hub.app.inject('/channels')).json().channels.map((c: any) => [c.name, c.subscribers]), [['news', 2]])
  t.match((await hub.app.inject('/channels/sport')).json(), { subscribers: 0, clients: 0 })
})

t.test('channels page like clients; a name may hold a / and 128 characters', async (t) => {
  const registry = new MemoryClientRegistry()
  const hub = await build(t, { registry })
  const names = Array.from({ length: 25 }, (_, i) => `room/${String(i).padStart(2, '0')}`)
  for (const name of names) registry.add({ clientId: `in-${name}`, channelNames: [name], connectedAt: 0 })
  const seen: string[] = []
  let cursor: string | undefined
  let pages = 0
  do {
    const page = (await hub.app.inject(`/channels?limit=10${cursor === undefined ? '' : `&cursor=${cursor}`}`)).json()
    t.equal(page.total, 25)
    seen.push(...page.channels.map((channel: any) => channel.name))
    cursor = page.nextCursor
    pages++
  } while (cursor !== undefined)
  t.equal(pages, 3)
  t.same(seen, names)
  t.match((await hub.app.inject('/channels/room%2F07')).json(), { name: 'room/07', subscribers: 1, clients: 1 })
  t.match((await hub.app.inject('/channels/room/07')).json(), { name: 'room/07', subscribers: 1, clients: 1 }, 'or as is')
  const long = 'y'.repeat(128)
  registry.add({ clientId: long, channelNames: [long], connectedAt: 0 })
  t.match((await hub.app.inject(`/channels/${long}`)).json(), { name: long, subscribers: 1 }, 'past the router\'s maxParamLength')
  t.match((await hub.app.inject(`/clients/${long}`)).json(), { clientId: long, connections: 1 })
})

t.test('bad /channels queries are 400s naming the value', async (t) => {
  const hub = await build(t)
  const cases: Array<[string, RegExp]> = [
    ['/channels?limit=0', /^limit: "0" is not an integer from 1 to 1000$/],
    ['/channels?limit=99999', /^limit: "99999" is not an integer from 1 to 1000$/],
    ['/channels?cursor=nope!', /^cursor: "nope!" is not a cursor of a previous page$/],
    ['/channels/a%20b', /^name: "a b" is not a valid channel name/],
    ['/channels/' + 'x'.repeat(129), /^name: "x{32}"\.\.\. \(129 characters\) is not a valid channel name/]
  ]
  for (const [url, message] of cases) {
    const res = await hub.app.inject(url)
    t.equal(res.statusCode, 400, url)
    t.match(res.json(), { statusCode: 400, error: 'Bad Request', message }, url)
  }
})

t.test('subscribeAuth: /channels/:name gives a channel\'s last event only to a grant that covers the channel', async (t) => {
  const publishToken = 'channels-static-token-0123'
  const metricsToken = 'channels-metrics-token-0123'
  const hub = await build(t, { subscribeAuth: true, publishToken, metricsToken, jwtSecret: keys.secret, insecure: false })
  const minted = (...args: string[]): string => mintToken(args, { SSE_HUB_JWT_SECRET: keys.secret })
  const clerk = await hub.subscribe(`/subscribe?channels=payroll&token=${minted('--subscribe', 'payroll', '--sub', 'clerk')}`)
  await clerk.waitForCount(2)
  const published = await hub.publish({ events: [{ channelName: 'payroll', type: 'salary', payload: { alice: 123456 } }] }, bearer(publishToken))
  t.equal(published.statusCode, 200)
  const lastEvent = { id: published.json.ids[0], type: 'salary', payload: { alice: 123456 } }
  const read = async (headers: Record<string, string>): Promise<{ statusCode: number, body: any }> => {
    const res = await hub.app.inject({ url: '/channels/payroll', headers })
    return { statusCode: res.statusCode, body: res.json() }
  }

  // The README's browser token: the presence part, but not the payload of a channel it may not subscribe to.
  const browser = await read(bearer(minted('--subscribe', 'orders*', '--presence', '--sub', 'alice')))
  t.equal(browser.statusCode, 200)
  t.same(browser.body, { name: 'payroll', subscribers: 1, clients: 1, lastEvent: null }, 'no payload for a presence grant that does not cover payroll')

  for (const [what, headers] of [
    ['the publish token', bearer(publishToken)],
    ['presence and a grant of payroll', bearer(minted('--subscribe', 'payroll', '--presence'))],
    ['presence and every channel', bearer(minted('--subscribe', '*', '--presence'))]
  ] as const) {
    const reply = await read(headers)
    t.equal(reply.statusCode, 200, what)
    t.match(reply.body, { name: 'payroll', subscribers: 1, clients: 1, lastEvent }, `${what}: the last event`)
  }
  t.equal((await read(bearer(minted('--subscribe', 'payroll')))).statusCode, 403, 'a grant of payroll without presence: no presence read')
  t.equal((await read(bearer(metricsToken))).statusCode, 401, 'the metrics token opens nothing here')
  t.notMatch((await hub.app.inject({ url: '/channels', headers: bearer(minted('--subscribe', 'orders*', '--presence')) })).body, '123456', 'the list carries no payload')
})

t.test('without subscribeAuth, a presence grant reads every channel\'s last event: anyone may subscribe to it', async (t) => {
  const hub = await build(t, { jwtSecret: keys.secret, insecure: false })
  await hub.app.hub.publish([{ channelName: 'payroll', type: 'salary', payload: 1 }])
  const reply = await hub.app.inject({ url: '/channels/payroll', headers: bearer(mintToken(['--presence'], { SSE_HUB_JWT_SECRET: keys.secret })) })
  t.match(reply.json(), { name: 'payroll', lastEvent: { type: 'salary', payload: 1 } })
})
