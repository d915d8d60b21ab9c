import t from 'tap'
import { MemoryClientRegistry } from '../../../lib/registry/registry.js'

t.test('connections sharing a clientId are one client', async (t) => {
  const registry = new MemoryClientRegistry()
  const tab1 = { clientId: 'ann', channelNames: ['a', 'b'], connectedAt: Date.UTC(2026, 0, 1) }
  const tab2 = { clientId: 'ann', channelNames: ['b', 'c'], connectedAt: Date.UTC(2026, 0, 2) }
  const other = { clientId: 'bob', channelNames: ['a'], connectedAt: Date.UTC(2026, 0, 3) }
  registry.add(tab1)
  registry.add(tab2)
  registry.add(other)
  t.same(await registry.count(), { clients: 2, connections: 3 })
  t.same(await registry.get('ann'), { clientId: 'ann', connections: 2, channels: ['a', 'b', 'c'], connectedAt: '2026-01-01T00:00:00.000Z' })
  registry.remove(tab1)
  t.same(await registry.get('ann'), { clientId: 'ann', connections: 1, channels: ['b', 'c'], connectedAt: '2026-01-02T00:00:00.000Z' })
  registry.remove(tab1)
  t.same(await registry.count(), { clients: 2, connections: 2 }, 'removing twice changes nothing')
  registry.remove(tab2)
  t.equal(await registry.get('ann'), undefined)
  t.same(await registry.count(), { clients: 1, connections: 1 })
})

t.test('add and remove report joins, leaves and the channels entered and left', async (t) => {
  const registry = new MemoryClientRegistry()
  const tab1 = { clientId: 'ann', channelNames: ['a', 'b'], connectedAt: 1 }
  const tab2 = { clientId: 'ann', channelNames: ['b', 'c'], connectedAt: 2 }
  t.same(registry.add(tab1), { joined: true, enteredChannels: ['a', 'b'], channels: ['a', 'b'] })
  t.same(registry.add(tab2), { joined: false, enteredChannels: ['c'], channels: ['a', 'b', 'c'] })
  t.same(registry.add(tab2), { joined: false, enteredChannels: [], channels: ['a', 'b', 'c'] }, 'adding twice changes nothing')
  t.same(await registry.count(), { clients: 1, connections: 2 })
  t.same(await registry.channel('b'), { subscribers: 2, clients: 1 })
  t.same(registry.remove(tab1), { left: false, leftChannels: ['a'], channels: ['b', 'c'] })
  t.same(registry.remove(tab1), { left: false, leftChannels: [], channels: [] }, 'removing twice changes nothing')
  t.same(registry.remove(tab2), { left: true, leftChannels: ['b', 'c'], channels: [] })
  t.same(await registry.channel('b'), { subscribers: 0, clients: 0 })
  t.same(await registry.channels({ limit: 10 }), { total: 0, channels: [] })
})

t.test('listings: clients by channel, channels, snapshot and clientIds', async (t) => {
  const registry = new MemoryClientRegistry()
  const at = Date.UTC(2026, 0, 1)
  registry.add({ clientId: 'cy', channelNames: ['news'], connectedAt: at })
  registry.add({ clientId: 'al', channelNames: ['news', 'sport'], connectedAt: at })
  registry.add({ clientId: 'al', channelNames: ['sport'], connectedAt: at + 1000 })
  registry.add({ clientId: 'bo', channelNames: ['sport'], connectedAt: at })
  t.same(await registry.clientIds(), ['cy', 'al', 'bo'])
  t.same((await registry.clients({ limit: 10 })).clients.map((c) => c.clientId), ['al', 'bo', 'cy'], 'in clientId order')
  t.same(await registry.clients({ channel: 'news', limit: 10 }), {
    total: 2,
    clients: [
      { clientId: 'al', connections: 2, channels: ['news', 'sport'], connectedAt: '2026-01-01T00:00:00.000Z' },
      { clientId: 'cy', connections: 1, channels: ['news'], connectedAt: '2026-01-01T00:00:00.000Z' }
    ]
  })
  t.same(await registry.clients({ channel: 'nothing', limit: 10 }), { total: 0, clients: [] })
  const first = await registry.channels({ limit: 1 })
  t.same(first.channels, [{ name: 'news', subscribers: 2 }])
  t.equal(first.total, 2)
  t.same(await registry.channels({ limit: 1, cursor: first.nextCursor }), { total: 2, channels: [{ name: 'sport', subscribers: 3 }] })
  t.same(await registry.snapshot(), [
    { clientId: 'cy', channels: ['news'] }, { clientId: 'al', channels: ['news', 'sport'] }, { clientId: 'bo', channels: ['sport'] }
  ])
  t.same((await registry.snapshot(['sport', 'news'])).map((c) => c.clientId).sort(), ['al', 'bo', 'cy'])
  t.same(await registry.snapshot(['news']), [{ clientId: 'cy', channels: ['news'] }, { clientId: 'al', channels: ['news', 'sport'] }])
  t.same(await registry.snapshot(['elsewhere']), [])
  await t.rejects(registry.clients({ limit: 10, cursor: 'not a cursor' }), { statusCode: 400, code: 'SSE_HUB_BAD_CURSOR' })
})

t.test('paging over 2,500 clients returns each exactly once, also while others come and go', async (t) => {
  const registry = new MemoryClientRegistry()
  const ids = Array.from({ length: 2500 }, (_, i) => `client-${(i * 7919) % 2500}`)
  for (const clientId of ids) registry.add({ clientId, channelNames: ['all', `group-${clientId.length % 3}`], connectedAt: 0 })
  const churn: Array<{ clientId: string, channelNames: string[], connectedAt: number }> = []
  const seen: string[] = []
  let cursor: string | undefined
  let pages = 0
  do {
    const page = await registry.clients({ limit: 333, cursor })
    t.equal(page.total, 2500 + churn.length)
    seen.push(...page.clients.map((client) => client.clientId))
    cursor = page.nextCursor
    pages++
    // Between pages, strangers join and leave: they must not disturb the stable clients.
    const stranger = { clientId: `zz-${pages}`, channelNames: ['all'], connectedAt: 0 }
    registry.add(stranger)
    churn.push(stranger)
    if (pages % 2 === 0) registry.remove(churn.shift() as typeof stranger)
  } while (cursor !== undefined)
  const stable = seen.filter((clientId) => clientId.startsWith('client-'))
  t.equal(stable.length, 2500, 'every stable client once')
  t.equal(new Set(stable).size, 2500, 'none twice')
  t.same(seen, [...seen].sort(), 'in clientId order')
  t.ok(pages >= Math.ceil(2500 / 333), `${pages} pages`)

  // The same with a channel filter, in pages of 1000 (the default).
  const inAll: string[] = []
  cursor = undefined
  do {
    const page = await registry.clients({ channel: 'all', limit: 1000, cursor })
    inAll.push(...page.clients.map((client) => client.clientId))
    cursor = page.nextCursor
  } while (cursor !== undefined)
  t.equal(inAll.filter((clientId) => clientId.startsWith('client-')).length, 2500)
  t.equal(new Set(inAll).size, inAll.length)
})
