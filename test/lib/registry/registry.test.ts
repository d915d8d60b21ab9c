import t from 'tap'
import type { PresenceChange } from '../../../lib/registry/registry.js'
import { MemoryClientRegistry } from '../../../lib/registry/registry.js'
import { encodeCursor } from '../../../lib/registry/paging.js'
import { registryContract } from '../../contracts/registry.js'

t.test('the registry contract', async (t) => {
  registryContract(t, async () => {
    const registry = new MemoryClientRegistry()
    const changes: PresenceChange[] = []
    registry.onChange((change) => changes.push(change))
    return { registry, changes, settle: async () => {} }
  })
})

t.test('in one process, a change is reported before add or remove returns', async (t) => {
  const registry = new MemoryClientRegistry()
  const changes: PresenceChange[] = []
  registry.onChange((change) => changes.push(change))
  const tab = { clientId: 'ann', channelNames: ['a'], connectedAt: 0 }
  registry.add(tab)
  t.equal(changes.length, 1)
  registry.remove(tab)
  t.equal(changes.length, 2)
})

t.test('a page of the clients of a channel with one connection starts after the cursor', async (t) => {
  const registry = new MemoryClientRegistry()
  registry.add({ clientId: 'bob', channelNames: ['solo'], connectedAt: 0 })
  t.same((await registry.clients({ channel: 'solo', limit: 1, cursor: encodeCursor('ann') })).clients.map((c) => c.clientId), ['bob'])
  t.same(await registry.clients({ channel: 'solo', limit: 1, cursor: encodeCursor('bob') }), { total: 1, clients: [] })
})
