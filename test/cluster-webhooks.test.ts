import t from 'tap'
import { build, rawSubscriber, spawnHub, startHub, waitUntil } from './helper.js'
import { REDIS_URL, redisPrefix } from './redis.js'
import { receiver, summary } from './webhook-receiver.js'

// Presence webhooks on two nodes sharing a Redis: each event is sent once, by the node that holds
// the sender lease, whichever node its client is on; a sender killed mid-request leaves its batch
// to the other node, which sends it again with the same ids.

const SECRET = 'webhook-secret-0123456789'

t.test('two nodes: each event once, whichever node its client is on; tabs on both nodes are one client', async (t) => {
  const hooks = await receiver(t)
  const options = { redisUrl: REDIS_URL, redisPrefix: redisPrefix(t), webhookUrl: hooks.url, webhookSecret: SECRET, webhookDebounce: 300 }
  const a = await build(t, options)
  const b = await build(t, options)
  const annOnA = await a.subscribe('/subscribe?channels=news&clientId=ann')
  const annOnB = await b.subscribe('/subscribe?channels=news,sport&clientId=ann')
  const bob = await b.subscribe('/subscribe?channels=sport&clientId=bob')
  await waitUntil(() => hooks.delivered().length === 4, 8000, () => `the joins, got ${summary(hooks.delivered()).join('; ')}`)
  t.same(summary(hooks.delivered()), ['client.joined ann', 'channel.occupied news', 'channel.occupied sport', 'client.joined bob'])
  annOnA.close()
  await new Promise((resolve) => setTimeout(resolve, 1500))
  t.equal(hooks.delivered().length, 4, 'a tab closing on one node while the client stays on the other: no event')
  annOnB.close()
  bob.close()
  await waitUntil(() => hooks.delivered().length === 8, 8000, () => `the leaves, got ${summary(hooks.delivered()).join('; ')}`)
  t.same(summary(hooks.delivered()).slice(4).sort(), ['channel.vacated news', 'channel.vacated sport', 'client.left ann', 'client.left bob'])
  const ids = hooks.delivered().map((event) => event.id)
  t.equal(new Set(ids).size, ids.length, 'no event twice')
  await new Promise((resolve) => setTimeout(resolve, 1000))
  t.equal(hooks.delivered().length, 8, 'and nothing more')
  const metrics = await Promise.all([a, b].map(async (hub) => (await hub.app.inject({ url: '/metrics' })).body))
  const sent = metrics.map((body) => Number(/sse_hub_webhook_requests_total\{outcome="delivered"\} (\d+)/.exec(body)?.[1]))
  t.equal(sent.filter((count) => count > 0).length, 1, `one node sends: ${sent.join(' and ')} requests`)
})

t.test('the sending node killed mid-request: the other node sends the same batch, with the same ids, and the leaves of the dead node\'s clients once', async (t) => {
  const hooks = await receiver(t)
  const prefix = redisPrefix(t)
  let hold: (() => void) | undefined
  const held = new Promise<void>((resolve) => { hold = resolve })
  let firstHeld = true
  hooks.answer = async () => {
    if (!firstHeld) return 200
    firstHeld = false
    await held
    return 200
  }
  const env = { REDIS_URL, SSE_HUB_REDIS_PREFIX: prefix, SSE_HUB_WEBHOOK_URL: hooks.url, SSE_HUB_WEBHOOK_SECRET: SECRET, SSE_HUB_WEBHOOK_DEBOUNCE: '0', SSE_HUB_PRESENCE_TTL: '3000' }
  const sender = await startHub(t, [], spawnHub(['--port', '0', '--host', '127.0.0.1', '--insecure'], env))
  await waitUntil(() => /webhooks: this node sends them now/.test(sender.log()), 5000, 'the first node to take the lease')
  const other = await build(t, { redisUrl: REDIS_URL, redisPrefix: prefix, presenceTtl: 3000, webhookUrl: hooks.url, webhookSecret: SECRET, webhookDebounce: 0 })

  const onSender = await rawSubscriber(sender.port, 'channels=news&clientId=ann')
  t.teardown(() => { onSender.destroy() })
  await waitUntil(() => hooks.requests.length === 1, 5000, 'the first request, held by the receiver')
  const first = hooks.requests[0]
  t.same(summary(first.events), ['client.joined ann', 'channel.occupied news'])
  await other.subscribe('/subscribe?channels=sport&clientId=bob')
  await new Promise((resolve) => setTimeout(resolve, 300))

  const killedAt = Date.now()
  sender.child.kill('SIGKILL')
  await waitUntil(() => hooks.delivered().length >= 2, 15_000, 'the batch again, from the other node')
  const delay = Date.now() - killedAt
  t.same(hooks.requests[1].events.slice(0, first.events.length), first.events, 'the held events again, first, with the same ids and times')
  t.comment(`the batch delivered by the other node ${delay} ms after the kill`)
  hold?.()

  await waitUntil(() => summary(hooks.delivered()).includes('client.left ann'), 15_000, () => `ann's leave through the dead node's lease, got ${summary(hooks.delivered()).join('; ')}`)
  await new Promise((resolve) => setTimeout(resolve, 1500))
  const events = summary(hooks.delivered().filter((event) => !first.events.some((held) => held.id === event.id)))
  t.same(events, ['client.joined bob', 'channel.occupied sport', 'client.left ann', 'channel.vacated news'], 'bob\'s join, then the dead node\'s client leaves, once')
})
