import t from 'tap'
import { build, data, type TestHub } from './helper.js'

const event = (channelName: string, n: number) => ({ channelName, type: 'n', payload: n })

async function publishOneByOne (hub: TestHub, channelName: string, from: number, to: number): Promise<string[]> {
  const ids = []
  for (let n = from; n <= to; n++) ids.push(...(await hub.publish({ events: [event(channelName, n)] })).json.ids)
  return ids
}

function resumedFlag (message: { data: string }): boolean {
  return JSON.parse(data(message).payload).resumed
}

t.test('missing 3 of 5 events: a reconnect with Last-Event-ID gets exactly those 3', async (t) => {
  const hub = await build(t)
  const first = await hub.subscribe('/subscribe?channels=c')
  await first.waitForCount(2)
  await publishOneByOne(hub, 'c', 1, 2)
  await first.waitForCount(4)
  first.close()
  const missedIds = await publishOneByOne(hub, 'c', 3, 5)

  const again = await hub.subscribe('/subscribe?channels=c', { headers: { 'last-event-id': first.lastEventId! } })
  await again.waitForCount(4)
  t.equal(again.messages[0].event, 'registered')
  t.equal(resumedFlag(again.messages[0]), true)
  t.same(again.messages.slice(1).map((m) => [m.id, data(m).payload]), [[missedIds[0], 3], [missedIds[1], 4], [missedIds[2], 5]])
  t.same(again.ofType('lastEvent'), [], 'no lastEvent on a resumed stream')

  await hub.publish({ events: [event('c', 6)] })
  await again.waitForCount(5)
  t.same(data(again.messages[4]).payload, 6, 'then live events, none twice')
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(again.messages.length, 5)
})

t.test('the id of registered resumes a client that dropped before any live event', async (t) => {
  const hub = await build(t)
  await publishOneByOne(hub, 'c', 1, 2)
  const first = await hub.subscribe('/subscribe?channels=c')
  await first.waitForCount(2)
  first.close()
  await publishOneByOne(hub, 'c', 3, 4)
  const again = await hub.subscribe('/subscribe?channels=c&lastEventId=' + encodeURIComponent(first.lastEventId!))
  await again.waitForCount(3)
  t.equal(resumedFlag(again.messages[0]), true)
  t.same(again.messages.slice(1).map((m) => data(m).payload), [3, 4])
})

t.test('resume merges several channels in publish order', async (t) => {
  const hub = await build(t)
  const first = await hub.subscribe('/subscribe?channels=a,b')
  await first.waitForCount(3)
  first.close()
  await hub.publish({ events: [event('a', 1), event('b', 2), event('other', 0), event('a', 3)] })
  await hub.publish({ events: [event('b', 4)] })
  const again = await hub.subscribe('/subscribe?channels=a,b', { headers: { 'last-event-id': first.lastEventId! } })
  await again.waitForCount(5)
  t.same(again.messages.slice(1).map((m) => [data(m).channelName, data(m).payload]), [['a', 1], ['b', 2], ['a', 3], ['b', 4]])
})

t.test('the header wins over the lastEventId query parameter', async (t) => {
  const hub = await build(t)
  const [first, second] = await publishOneByOne(hub, 'c', 1, 2)
  const client = await hub.subscribe('/subscribe?channels=c&lastEventId=' + encodeURIComponent(first), { headers: { 'last-event-id': second } })
  await client.waitForCount(1)
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(resumedFlag(client.messages[0]), true)
  t.equal(client.messages.length, 1, 'nothing after the header id')
})

t.test('an id that cannot be resumed gives resumed:false and the lastEvent snapshots', async (t) => {
  const hub = await build(t, { historySize: 2 })
  const ids = await publishOneByOne(hub, 'c', 1, 5)
  const [epoch] = ids[0].split('-')
  const cases: Array<[string, string]> = [
    ['unknown', 'nope'],
    ['malformed', `${epoch}-x1`],
    ['from another hub run', `00000000-${ids[3].split('-')[1]}`],
    ['from the future', `${epoch}-999999`],
    ['evicted (only 2 of the 3 missed are retained)', ids[1]]
  ]
  for (const [name, id] of cases) {
    const client = await hub.subscribe('/subscribe?channels=c', { headers: { 'last-event-id': id } })
    await client.waitForCount(2)
    await new Promise((resolve) => setTimeout(resolve, 20))
    t.equal(resumedFlag(client.messages[0]), false, name)
    t.same(client.messages.slice(1).map((m) => [m.event, data(m).payload]), [['lastEvent', '{"type":"n","payload":5}']], `${name}: snapshot only`)
    client.close()
  }
  const fine = await hub.subscribe('/subscribe?channels=c', { headers: { 'last-event-id': ids[2] } })
  await fine.waitForCount(3)
  t.equal(resumedFlag(fine.messages[0]), true, 'the retained ones still resume')
  t.same(fine.messages.slice(1).map((m) => data(m).payload), [4, 5])
})

t.test('events older than historyTtl are not replayed', async (t) => {
  const hub = await build(t, { historyTtl: 50 })
  const [id] = await publishOneByOne(hub, 'c', 1, 2)
  await new Promise((resolve) => setTimeout(resolve, 120))
  const client = await hub.subscribe('/subscribe?channels=c', { headers: { 'last-event-id': id } })
  await client.waitForCount(2)
  t.equal(resumedFlag(client.messages[0]), false)
  t.equal(client.messages[1].event, 'lastEvent')
})

t.test('past maxRetainedChannels: a subscribed channel stays, a forgotten one shows no last event and is not resumed across', async (t) => {
  const hub = await build(t, { maxRetainedChannels: 2 })
  const watcher = await hub.subscribe('/subscribe?channels=kept')
  await watcher.waitForCount(2)
  const [position] = await publishOneByOne(hub, 'kept', 1, 1)
  await publishOneByOne(hub, 'lost', 2, 2)
  await hub.publish({ events: [event('a', 3), event('b', 4)] })

  t.same((await hub.app.inject('/lastEvent?channel=lost')).json(), { response: '{}' })
  t.equal((await hub.app.inject('/channels/lost')).json().lastEvent, null)
  t.equal((await hub.app.inject('/channels/kept')).json().lastEvent.payload, 1, 'the channel with a subscriber survived')

  const client = await hub.subscribe('/subscribe?channels=lost,kept', { headers: { 'last-event-id': position } })
  await client.waitForCount(3)
  t.equal(resumedFlag(client.messages[0]), false, 'lost had an event after the position')
  t.same(client.messages.slice(1).map((m) => [m.event, data(m).payload]), [['lastEvent', '{}'], ['lastEvent', '{"type":"n","payload":1}']])
})
