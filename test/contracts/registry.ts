import type { Test } from 'tap'
import type { ClientRegistry, PresenceChange, RegisteredConnection } from '../../lib/registry/registry.js'
import { registryCount } from '../helper.js'

/** A registry made for one test, the changes it reports, and a way to wait until it reported all it will. */
export type MakeRegistry = (t: Test) => Promise<{ registry: ClientRegistry, changes: PresenceChange[], settle: () => Promise<void> }>

const connection = (clientId: string, channelNames: string[], connectedAt = 0): RegisteredConnection => ({ clientId, channelNames, connectedAt })

/** A change without its seq, with channel lists in name order: comparable across registries. */
function plain ({ join, clientId, whole, changed, channels }: PresenceChange): object {
  return { join, clientId, whole, changed: [...changed].sort(), channels: [...channels].sort() }
}

/**
 * What every client registry promises the hub (lib/registry/registry.ts), checked the same way
 * for each implementation, so that the in-memory and the cluster registry cannot drift apart.
 */
export function registryContract (t: Test, make: MakeRegistry): void {
  t.test('connections sharing a clientId are one client', async (t) => {
    const { registry, settle } = await make(t)
    const tab1 = connection('ann', ['a', 'b'], Date.UTC(2026, 0, 1))
    const tab2 = connection('ann', ['b', 'c'], Date.UTC(2026, 0, 2))
    registry.add(tab1)
    registry.add(tab2)
    registry.add(connection('bob', ['a'], Date.UTC(2026, 0, 3)))
    await settle()
    t.same(await registryCount(registry), { clients: 2, connections: 3 })
    t.same(await registry.get('ann'), { clientId: 'ann', connections: 2, channels: ['a', 'b', 'c'], connectedAt: '2026-01-01T00:00:00.000Z' })
    registry.remove(tab1)
    await settle()
    t.same(await registry.get('ann'), { clientId: 'ann', connections: 1, channels: ['b', 'c'], connectedAt: '2026-01-02T00:00:00.000Z' })
    registry.remove(tab1)
    await settle()
    t.same(await registryCount(registry), { clients: 2, connections: 2 }, 'removing twice changes nothing')
    registry.remove(tab2)
    await settle()
    t.equal(await registry.get('ann'), undefined)
    t.same(await registryCount(registry), { clients: 1, connections: 1 })
  })

  t.test('every change is reported once, in order: joins, leaves, and the channels entered and left', async (t) => {
    const { registry, changes, settle } = await make(t)
    const tab1 = connection('ann', ['a', 'b'])
    const tab2 = connection('ann', ['b', 'c'])
    registry.add(tab1)
    registry.add(tab2)
    registry.add(tab2)
    registry.add(connection('ann', ['a']))
    await settle()
    t.same(await registryCount(registry), { clients: 1, connections: 3 }, 'adding twice changes nothing')
    t.same(await registry.channel('b'), { subscribers: 2, clients: 1 })
    registry.remove(tab1)
    registry.remove(tab1)
    registry.remove(tab2)
    await settle()
    t.same(changes.map(plain), [
      { join: true, clientId: 'ann', whole: true, changed: ['a', 'b'], channels: ['a', 'b'] },
      { join: true, clientId: 'ann', whole: false, changed: ['c'], channels: ['a', 'b', 'c'] },
      { join: false, clientId: 'ann', whole: false, changed: ['b', 'c'], channels: ['a'] }
    ], 'a connection that changes nothing the client is on is not a change; removing twice neither')
    t.same(await registry.channel('b'), { subscribers: 0, clients: 0 })
    const seqs = changes.map((change) => change.seq)
    t.ok(seqs.every((seq) => seq === undefined) || seqs.every((seq, i) => i === 0 || (seq as number) > (seqs[i - 1] as number)), 'numbered in order, where numbered')
  })

  t.test('a change names the channels it took from no subscriber to one, and from one to none, and when it was made', async (t) => {
    const { registry, changes, settle } = await make(t)
    const before = Date.now() - 1000
    const ann = connection('ann', ['a', 'b'])
    const bob = connection('bob', ['b', 'c'])
    registry.add(ann)
    registry.add(bob)
    registry.remove(ann)
    registry.remove(bob)
    await settle()
    t.same(changes.map(({ clientId, join, occupancy }) => ({ clientId, join, occupancy: [...occupancy].sort() })), [
      { clientId: 'ann', join: true, occupancy: ['a', 'b'] },
      { clientId: 'bob', join: true, occupancy: ['c'] },
      { clientId: 'ann', join: false, occupancy: ['a'] },
      { clientId: 'bob', join: false, occupancy: ['b', 'c'] }
    ])
    t.ok(changes.every((change) => change.at >= before && change.at <= Date.now() + 1000), 'each change has its time')
    t.ok(changes.every((change, i) => i === 0 || change.at >= changes[i - 1].at), 'in order')
  })

  t.test('the last connection closing is a leave with no channels', async (t) => {
    const { registry, changes, settle } = await make(t)
    const only = connection('cy', ['x', 'y'])
    registry.add(only)
    registry.remove(only)
    await settle()
    t.same(changes.map(plain), [
      { join: true, clientId: 'cy', whole: true, changed: ['x', 'y'], channels: ['x', 'y'] },
      { join: false, clientId: 'cy', whole: true, changed: ['x', 'y'], channels: [] }
    ])
    t.same(await registryCount(registry), { clients: 0, connections: 0 })
    t.same(await registry.channels({ limit: 10 }), { total: 0, channels: [] })
  })

  t.test('listings: clients by channel, channels, snapshot and clientIds', async (t) => {
    const { registry, settle } = await make(t)
    const at = Date.UTC(2026, 0, 1)
    registry.add(connection('cy', ['news'], at))
    registry.add(connection('al', ['news', 'sport'], at))
    registry.add(connection('al', ['sport'], at + 1000))
    registry.add(connection('bo', ['sport'], at))
    await settle()
    t.same((await registry.clientIds()).sort(), ['al', 'bo', 'cy'])
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
    const byId = (list: Array<{ clientId: string, channels: string[] }>): object[] =>
      [...list].sort((x, y) => x.clientId < y.clientId ? -1 : 1).map(({ clientId, channels }) => ({ clientId, channels: [...channels].sort() }))
    t.same(byId((await registry.snapshot()).clients), [
      { clientId: 'al', channels: ['news', 'sport'] }, { clientId: 'bo', channels: ['sport'] }, { clientId: 'cy', channels: ['news'] }
    ])
    t.same(byId((await registry.snapshot(['sport', 'news'])).clients).length, 3, 'each client once')
    t.same(byId((await registry.snapshot(['news'])).clients), [{ clientId: 'al', channels: ['news', 'sport'] }, { clientId: 'cy', channels: ['news'] }])
    t.same((await registry.snapshot(['elsewhere'])).clients, [])
    await t.rejects(registry.clients({ limit: 10, cursor: 'not a cursor' }), { statusCode: 400, code: 'SSE_HUB_BAD_CURSOR' })
    await t.rejects(registry.channels({ limit: 10, cursor: '%%' }), { statusCode: 400, code: 'SSE_HUB_BAD_CURSOR' })
  })

  t.test('a channel counts its connections and clients from its first connection to its last', async (t) => {
    const { registry, settle } = await make(t)
    const ann1 = connection('ann', ['solo', 'pair'])
    const ann2 = connection('ann', ['pair'])
    const bob = connection('bob', ['pair'])
    registry.add(ann1)
    await settle()
    t.same(await registry.channel('pair'), { subscribers: 1, clients: 1 })
    t.same((await registry.clients({ channel: 'pair', limit: 10 })).clients.map((c) => c.clientId), ['ann'])
    registry.add(ann2)
    await settle()
    t.same(await registry.channel('pair'), { subscribers: 2, clients: 1 }, 'a second tab of the same client')
    registry.add(bob)
    await settle()
    t.same(await registry.channel('pair'), { subscribers: 3, clients: 2 })
    const first = await registry.clients({ channel: 'pair', limit: 1 })
    t.same([first.total, first.clients.map((c) => c.clientId)], [2, ['ann']])
    const second = await registry.clients({ channel: 'pair', limit: 1, cursor: first.nextCursor })
    t.same([second.total, second.clients.map((c) => c.clientId), second.nextCursor], [2, ['bob'], undefined])
    t.same((await registry.snapshot(['solo'])).clients.map((c) => c.clientId), ['ann'])
    registry.remove(ann1)
    await settle()
    t.same(await registry.channel('solo'), { subscribers: 0, clients: 0 })
    t.same(await registry.channel('pair'), { subscribers: 2, clients: 2 })
    t.same(await registry.channels({ limit: 10 }), { total: 1, channels: [{ name: 'pair', subscribers: 2 }] })
    registry.remove(ann2)
    registry.remove(bob)
    await settle()
    t.same(await registry.channels({ limit: 10 }), { total: 0, channels: [] })
    t.same(await registry.clients({ channel: 'pair', limit: 10 }), { total: 0, clients: [] })
  })

  t.test('paging over 2,500 clients returns each exactly once, also while others come and go', async (t) => {
    const { registry, settle } = await make(t)
    const ids = Array.from({ length: 2500 }, (_, i) => `client-${(i * 7919) % 2500}`)
    for (const clientId of ids) registry.add(connection(clientId, ['all', `group-${clientId.length % 3}`]))
    await settle()
    const churn: RegisteredConnection[] = []
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
      const stranger = connection(`zz-${pages}`, ['all'])
      registry.add(stranger)
      churn.push(stranger)
      if (pages % 2 === 0) registry.remove(churn.shift() as RegisteredConnection)
      await settle()
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
}
