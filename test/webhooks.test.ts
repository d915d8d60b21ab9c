import { createHmac } from 'node:crypto'
import t from 'tap'
import { resolveConfig } from '../lib/config/config.js'
import { verifyWebhookSignature } from '../lib/webhooks/signature.js'
import { build, waitUntil } from './helper.js'
import { receiver, summary } from './webhook-receiver.js'

// Presence webhooks in one process: a real receiver on a real port, the hub's own streams.

const SECRET = 'webhook-secret-0123456789'

t.test('joins and leaves reach the receiver signed, batched and in order', async (t) => {
  const hooks = await receiver(t)
  const hub = await build(t, { webhookUrl: hooks.url, webhookSecret: SECRET, webhookDebounce: 200 })
  const ann = await hub.subscribe('/subscribe?channels=news,sport&clientId=ann')
  const bob = await hub.subscribe('/subscribe?channels=news&clientId=bob')
  await waitUntil(() => hooks.delivered().length === 4, 5000, 'the joins')
  ann.close()
  await waitUntil(() => hooks.delivered().length === 6, 5000, 'ann\'s leave')
  t.same(summary(hooks.delivered()), [
    'client.joined ann', 'channel.occupied news', 'channel.occupied sport', 'client.joined bob',
    'client.left ann', 'channel.vacated sport'
  ], 'in the order the changes were made; news still has bob')
  const [first] = hooks.requests
  t.same(first.events[0], { id: first.events[0].id, type: 'client.joined', time: first.events[0].time, clientId: 'ann', channels: ['news', 'sport'] })
  t.ok(Math.abs(Date.parse(first.events[0].time) - Date.now()) < 10_000, 'the time of the join')
  t.equal(new Set(hooks.delivered().map((event) => event.id)).size, hooks.delivered().length, 'every id once')
  t.ok(hooks.requests.length <= 3, `${hooks.requests.length} requests: the joins that came within 250 ms of the first share one, the leave has its own`)

  for (const request of hooks.requests) {
    const header = request.headers['x-sse-hub-signature'] as string
    const [, time, mac] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header) ?? []
    t.equal(mac, createHmac('sha256', SECRET).update(`${time}.${request.body}`).digest('hex'), 'HMAC-SHA256 of "<t>.<body>"')
    t.ok(verifyWebhookSignature(SECRET, header, request.body))
    t.notOk(verifyWebhookSignature('another-secret-0123456789', header, request.body), 'another secret does not verify')
    t.notOk(verifyWebhookSignature(SECRET, header, request.body + ' '), 'another body does not verify')
    t.equal(request.headers['content-type'], 'application/json')
    t.match(request.headers['user-agent'], /^fastify-sse-hub\//)
  }
  const stale = `t=${Math.floor(Date.now() / 1000) - 600},v1=${createHmac('sha256', SECRET).update(`${Math.floor(Date.now() / 1000) - 600}.x`).digest('hex')}`
  t.notOk(verifyWebhookSignature(SECRET, stale, 'x'), 'a signature older than 5 min is refused: a replayed request')
  bob.close()
})

t.test('a hub that stops gives the leaves of its streams one try', async (t) => {
  const hooks = await receiver(t)
  const hub = await build(t, { webhookUrl: hooks.url, webhookSecret: SECRET })
  await hub.subscribe('/subscribe?channels=news&clientId=ann')
  await waitUntil(() => hooks.delivered().length === 2, 5000, 'the join')
  await hub.app.close()
  // At least once: a request answered as the hub stops may be sent again at the stop, with the same ids.
  const once = [...new Map(hooks.delivered().map((event) => [event.id, event])).values()]
  t.same(summary(once), ['client.joined ann', 'channel.occupied news', 'client.left ann', 'channel.vacated news'], 'no debounce at a stop')
})

t.test('webhookUrl and webhookSecret come together', async (t) => {
  t.throws(() => resolveConfig({ webhookUrl: 'http://127.0.0.1/hooks' }), /invalid option webhookUrl: it needs webhookSecret too/)
  t.throws(() => resolveConfig({ webhookSecret: SECRET }), /invalid option webhookSecret: it needs webhookUrl too/)
  t.throws(() => resolveConfig({ webhookUrl: 'ftp://x', webhookSecret: SECRET }), /webhookUrl/)
  t.throws(() => resolveConfig({ webhookUrl: 'http://x', webhookSecret: 'short' }), /webhookSecret/)
})
