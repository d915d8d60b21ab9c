import t from 'tap'
import { MemoryClientRegistry } from '../../lib/registry.js'

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
