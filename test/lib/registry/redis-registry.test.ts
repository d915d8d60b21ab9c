import { Redis } from 'ioredis'
import t from 'tap'
import { REDIS_OPTIONS } from '../../../lib/redis/connection.js'
import type { PresenceChange, RegisteredConnection } from '../../../lib/registry/registry.js'
import { RedisClientRegistry, type RedisRegistryOptions } from '../../../lib/registry/redis-registry.js'
import { registryContract } from '../../contracts/registry.js'
import { registryCount, type TestContext, waitUntil } from '../../helper.js'
import { redisClient, redisPrefix, redisProxy } from '../../redis.js'

interface Node {
  registry: RedisClientRegistry
  changes: PresenceChange[]
  resets: number
}

/** One node's registry on the test Redis (or on `redis`), ready, with the changes it reports. */
async function node (t: TestContext, prefix: string, options: Partial<RedisRegistryOptions> = {}): Promise<Node> {
  const registry = new RedisClientRegistry({ redis: redisClient(t), prefix, presenceTtl: 15_000, ...options })
  const result: Node = { registry, changes: [], resets: 0 }
  registry.onChange((change) => result.changes.push(change))
  registry.onReset(() => result.resets++)
  t.teardown(() => registry.close())
  await registry.ready()
  return result
}

/** A connection to the test Redis through a proxy the test can cut: one node's network. */
async function cutOff (t: TestContext): Promise<{ redis: Redis, cut: () => Promise<void>, restore: () => Promise<void> }> {
  const proxy = await redisProxy(t)
  const redis = new Redis(`redis://127.0.0.1:${proxy.port}`, REDIS_OPTIONS)
  redis.on('error', () => {})
  t.teardown(() => { redis.disconnect() })
  return { redis, cut: proxy.cut, restore: proxy.restore }
}

const connection = (clientId: string, channelNames: string[]): RegisteredConnection => ({ clientId, channelNames, connectedAt: Date.now() })
const summary = (changes: PresenceChange[]): string[] => changes.map((change) => `${change.join ? '+' : '-'}${change.clientId}:${[...change.changed].sort().join(',')}${change.whole ? '!' : ''}`)

t.test('the registry contract', async (t) => {
  registryContract(t, async (t) => {
    const { registry, changes } = await node(t, redisPrefix(t))
    return { registry, changes, settle: async () => { await registry.settled() } }
  })
})

t.test('two nodes: a clientId is one client across them, and both report the same changes in the same order', async (t) => {
  const prefix = redisPrefix(t)
  const a = await node(t, prefix)
  const b = await node(t, prefix)
  const onA = connection('ann', ['news'])
  const onB = connection('ann', ['sport'])
  a.registry.add(onA)
  b.registry.add(onB)
  const bob = connection('bob', ['news'])
  b.registry.add(bob)
  await Promise.all([a.registry.settled(), b.registry.settled()])
  t.same(await a.registry.get('ann'), { clientId: 'ann', connections: 2, channels: ['news', 'sport'], connectedAt: new Date(Math.min(onA.connectedAt, onB.connectedAt)).toISOString() })
  t.same(await registryCount(b.registry), { clients: 2, connections: 3 })
  a.registry.remove(onA)
  await a.registry.settled()
  t.same(await b.registry.clientIds(), ['ann', 'bob'], 'still on through node b')
  b.registry.remove(onB)
  await Promise.all([a.registry.settled(), b.registry.settled()])
  await b.registry.settled()
  t.same(await a.registry.clientIds(), ['bob'])
  t.same(summary(a.changes), summary(b.changes), 'the same changes in the same order on both')
  t.equal(a.changes.filter((change) => change.clientId === 'ann' && change.whole).length, 2, 'ann joined once and left once')
  t.same(a.changes.map((change) => change.seq), b.changes.map((change) => change.seq))
  b.registry.remove(bob)
  await b.registry.settled()
  const left = (await redisClient(t).keys(`${prefix}presence:*`)).map((key) => key.slice(prefix.length)).sort()
  t.same(left, ['presence:changes', 'presence:connections', 'presence:nodes', 'presence:seq'], 'nobody connected: no key per client, channel or connection is left')
})

t.test('a snapshot and the changes numbered after it make up the set, while another node adds and removes', async (t) => {
  const prefix = redisPrefix(t)
  const watcher = await node(t, prefix)
  const busy = await node(t, prefix)
  const open: RegisteredConnection[] = []
  const state = { stop: false }
  const churn = (async () => {
    for (let i = 0; !state.stop; i++) {
      const next = connection(`c${i}`, [`ch${i % 3}`])
      busy.registry.add(next)
      open.push(next)
      if (i % 3 === 2) busy.registry.remove(open.shift() as RegisteredConnection)
      if (i % 20 === 0) await busy.registry.settled()
    }
  })()
  const snapshots = []
  for (let i = 0; i < 10; i++) {
    snapshots.push(await watcher.registry.snapshot())
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  state.stop = true
  await churn
  await busy.registry.settled()
  await watcher.registry.settled()
  const final = (await watcher.registry.clientIds()).sort()
  t.ok(final.length > 20, `${final.length} clients at the end`)
  for (const snapshot of snapshots) {
    const set = new Set(snapshot.clients.map((client) => client.clientId))
    for (const change of watcher.changes) {
      if ((change.seq as number) <= (snapshot.seq as number) || !change.whole) continue
      if (change.join) set.add(change.clientId)
      else set.delete(change.clientId)
    }
    t.same([...set].sort(), final, `snapshot at change ${snapshot.seq} (${snapshot.clients.length} clients) + the changes after it`)
  }
})

t.test('a node that stops: on close its clients leave at once; cut off from Redis, they leave within presenceTtl', async (t) => {
  const prefix = redisPrefix(t)
  const presenceTtl = 900
  const other = await node(t, prefix, { presenceTtl })
  const closing = await node(t, prefix, { presenceTtl })
  closing.registry.add(connection('leaving', ['x']))
  await closing.registry.settled()
  await closing.registry.close()
  await other.registry.settled()
  t.same(await other.registry.clientIds(), [], 'gone when its node closed')
  t.same(summary(other.changes), ['+leaving:x!', '-leaving:x!'])

  const network = await cutOff(t)
  const lost = await node(t, prefix, { presenceTtl, redis: network.redis })
  const staying = connection('staying', ['x'])
  const closed = connection('closed-meanwhile', ['y'])
  lost.registry.add(staying)
  lost.registry.add(closed)
  await lost.registry.settled()
  await waitUntil(async () => (await other.registry.clientIds()).length === 2, 2000, 'both clients on the other node')
  await network.cut()
  const cutAt = Date.now()
  lost.registry.remove(closed)
  await waitUntil(async () => (await other.registry.clientIds()).length === 0, 3000, 'the clients of the lost node to leave')
  const took = Date.now() - cutAt
  t.ok(took <= presenceTtl + 400, `left ${took} ms after the cut (presenceTtl ${presenceTtl} ms, checked every 100 ms)`)
  // The listing reads Redis; the changes come by the node's reader of the change stream, maybe a moment later.
  await other.registry.settled()
  t.same(summary(other.changes).slice(-2).sort(), ['-closed-meanwhile:y!', '-staying:x!'])

  await network.restore()
  await waitUntil(async () => (await other.registry.clientIds()).length === 1, 5000, 'the node to put its open connection back')
  await other.registry.settled()
  t.same(await other.registry.clientIds(), ['staying'], 'only the connection still open')
  t.same(await registryCount(other.registry), { clients: 1, connections: 1 })
  t.same(summary(other.changes).at(-1), '+staying:x!')
})

t.test('a write that fails while Redis is away is made good when it is back, without a lease lost', async (t) => {
  const prefix = redisPrefix(t)
  const other = await node(t, prefix)
  const network = await cutOff(t)
  const lost = await node(t, prefix, { redis: network.redis })
  const first = connection('first', ['x'])
  lost.registry.add(first)
  await lost.registry.settled()
  await network.cut()
  lost.registry.remove(first)
  lost.registry.add(connection('second', ['x']))
  await new Promise((resolve) => setTimeout(resolve, 300))
  await network.restore()
  await waitUntil(async () => (await other.registry.clientIds()).join() === 'second', 5000, 'the node to repair its clients')
  await other.registry.settled()
  t.same(await registryCount(other.registry), { clients: 1, connections: 1 })
  t.same(summary(other.changes), ['+first:x!', '-first:x!', '+second:x!'])
})

t.test('a node that reads the changes too late to find them all says so: its views are rebuilt', async (t) => {
  const prefix = redisPrefix(t)
  const network = await cutOff(t)
  const late = await node(t, prefix, { redis: network.redis })
  const busy = await node(t, prefix, { changeBacklog: 10 })
  await network.cut()
  for (let i = 0; i < 600; i++) busy.registry.add(connection(`c${i}`, ['x']))
  await busy.registry.settled()
  await network.restore()
  await waitUntil(() => late.resets > 0, 5000, 'the lost changes to be noticed')
  t.ok(late.changes.length < 600, `${late.changes.length} of 600 changes reported`)
  const seqs = late.changes.map((change) => change.seq as number)
  t.ok(seqs.every((seq, i) => i === 0 || seq > seqs[i - 1]), 'in order')
  t.equal(seqs.at(-1), busy.changes.at(-1)?.seq, 'read up to the last one')
})

t.test('a node closing while Redis is away closes within the command timeout; the others remove its clients when its lease ends', async (t) => {
  const prefix = redisPrefix(t)
  const presenceTtl = 900
  const other = await node(t, prefix, { presenceTtl })
  const network = await cutOff(t)
  const lost = await node(t, prefix, { presenceTtl, redis: network.redis })
  const first = connection('a', ['x'])
  lost.registry.add(first)
  lost.registry.add(connection('b', ['x']))
  await lost.registry.settled()
  await network.cut()
  lost.registry.remove(first)
  await new Promise((resolve) => setTimeout(resolve, 100))
  const started = Date.now()
  await lost.registry.close()
  const took = Date.now() - started
  t.ok(took < 2000, `closed in ${took} ms`)
  await waitUntil(async () => (await other.registry.clientIds()).length === 0, 3000, 'its clients to leave')
})
