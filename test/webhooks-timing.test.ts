import t from 'tap'
import { build, rawSubscriber, waitUntil } from './helper.js'
import { receiver, summary } from './webhook-receiver.js'

// Presence webhooks over time: the debounce of a reload, and the batching of a burst of joins.

const SECRET = 'webhook-secret-0123456789'

t.test('a page reload within the debounce sends nothing; a leave longer than it sends left, then joined', async (t) => {
  const hooks = await receiver(t)
  const hub = await build(t, { webhookUrl: hooks.url, webhookSecret: SECRET })
  const first = await hub.subscribe('/subscribe?channels=news&clientId=ann')
  await waitUntil(() => hooks.delivered().length === 2, 5000, 'the join')
  first.close()
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const reloaded = await hub.subscribe('/subscribe?channels=news&clientId=ann')
  await new Promise((resolve) => setTimeout(resolve, 3500))
  t.same(summary(hooks.delivered()), ['client.joined ann', 'channel.occupied news'], 'a reload 1 s later: neither left nor joined')
  reloaded.close()
  await new Promise((resolve) => setTimeout(resolve, 4000))
  await hub.subscribe('/subscribe?channels=news&clientId=ann')
  await waitUntil(() => hooks.delivered().length === 6, 5000, 'left, then joined')
  t.same(summary(hooks.delivered()).slice(2), ['client.left ann', 'channel.vacated news', 'client.joined ann', 'channel.occupied news'])
})

t.test('1,000 clients joining within a second take about 10 requests', async (t) => {
  const hooks = await receiver(t)
  const hub = await build(t, { webhookUrl: hooks.url, webhookSecret: SECRET })
  const port = Number(new URL(hub.url).port)
  const sockets = await Promise.all(Array.from({ length: 1000 }, (_, i) => rawSubscriber(port, `channels=lobby&clientId=u${i}`)))
  t.teardown(() => { for (const socket of sockets) socket.destroy() })
  await waitUntil(() => hooks.delivered().length === 1001, 10_000, () => `1,001 events, got ${hooks.delivered().length}`)
  t.ok(hooks.requests.length <= 12, `${hooks.requests.length} requests for 1,000 joins`)
  t.ok(hooks.requests.every((request) => request.events.length <= 100), 'at most 100 events per request')
  t.equal(new Set(hooks.delivered().filter((event) => event.type === 'client.joined').map((event) => 'clientId' in event && event.clientId)).size, 1000)
})
