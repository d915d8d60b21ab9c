import { Redis } from 'ioredis'
import t from 'tap'
import { build, waitUntil } from './helper.js'
import { ownRedis } from './redis.js'
import { receiver, summary } from './webhook-receiver.js'

// Presence webhooks on two nodes when their Redis hangs (SIGSTOP) for longer than the sender lease.

const SECRET = 'webhook-secret-0123456789'

t.test('Redis hung for longer than the sender lease: a leave made meanwhile arrives once it answers, once, and what follows after it', async (t) => {
  const hooks = await receiver(t)
  const redis = await ownRedis(t)
  const options = { redisUrl: `redis://127.0.0.1:${redis.port}`, webhookUrl: hooks.url, webhookSecret: SECRET, webhookDebounce: 0 }
  const a = await build(t, options)
  const b = await build(t, options)
  const ann = await a.subscribe('/subscribe?channels=news&clientId=ann')
  await b.subscribe('/subscribe?channels=sport&clientId=bob')
  await waitUntil(() => hooks.delivered().length === 4, 8000, 'the joins')
  // The sender moves the cursor once it has read the receiver's answer: a hang before that would
  // send the joins again after it (at least once, with the same ids), which is not this test's case.
  const direct = new Redis(options.redisUrl, { maxRetriesPerRequest: 1 })
  t.teardown(() => { direct.disconnect() })
  await waitUntil(async () => {
    const [cursor, seq] = await direct.mget('sse-hub:webhooks:cursor', 'sse-hub:presence:seq')
    return cursor !== null && cursor === seq
  }, 5000, 'the cursor past the joins')

  redis.signal('SIGSTOP')
  ann.close()
  await new Promise((resolve) => setTimeout(resolve, 7000))
  redis.signal('SIGCONT')
  await waitUntil(() => hooks.delivered().length === 6, 20_000, () => `ann's leave, made while Redis hung, got ${summary(hooks.delivered()).join('; ')}`)
  await waitUntil(async () => (await b.app.inject({ url: '/health' })).statusCode === 200, 5000, 'health')
  await b.subscribe('/subscribe?channels=chess&clientId=carl')
  await waitUntil(() => hooks.delivered().length === 8, 10_000, () => `carl's join, got ${summary(hooks.delivered()).join('; ')}`)
  await new Promise((resolve) => setTimeout(resolve, 1500))
  t.same(summary(hooks.delivered()).slice(4), ['client.left ann', 'channel.vacated news', 'client.joined carl', 'channel.occupied chess'], 'each once, in order')
  const ids = hooks.delivered().map((event) => event.id)
  t.equal(new Set(ids).size, ids.length, 'no id twice')
})
