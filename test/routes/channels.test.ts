import t from 'tap'
import { build, waitUntil } from '../helper.js'

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
  const hub = await build(t)
  const names = Array.from({ length: 25 }, (_, i) => `room/${String(i).padStart(2, '0')}`)
  for (const name of names) hub.app.hub.registry.add({ clientId: `in-${name}`, channelNames: [name], connectedAt: 0 })
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
  hub.app.hub.registry.add({ clientId: long, channelNames: [long], connectedAt: 0 })
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
