import t from 'tap'
import { build, waitUntil } from './helper.js'
import { receiver, summary } from './webhook-receiver.js'

// Presence webhooks when the receiver fails: retries with the same ids, a receiver down for a while, a batch given up.

const SECRET = 'webhook-secret-0123456789'

t.test('a 500 is retried with the same events and ids; a receiver down for 10 s gets everything once back', async (t) => {
  const hooks = await receiver(t)
  let failures = 1
  hooks.answer = () => failures-- > 0 ? 500 : 200
  const hub = await build(t, { webhookUrl: hooks.url, webhookSecret: SECRET, webhookDebounce: 0 })
  await hub.subscribe('/subscribe?channels=news&clientId=ann')
  await waitUntil(() => hooks.delivered().length === 2, 5000, 'the retry')
  t.same(hooks.requests.map((request) => request.status), [500, 200])
  t.equal(hooks.requests[1].body, hooks.requests[0].body, 'the same events, the same ids')
  t.not(hooks.requests[1].headers['x-sse-hub-signature'], undefined)

  await hooks.down()
  const downAt = Date.now()
  for (let i = 0; i < 5; i++) await hub.subscribe(`/subscribe?channels=c${i}&clientId=u${i}`)
  await new Promise((resolve) => setTimeout(resolve, 10_000))
  await hooks.up()
  await waitUntil(() => hooks.delivered().length === 12, 20_000, 'the events of the 10 s down')
  t.same(summary(hooks.delivered()).slice(2), [0, 1, 2, 3, 4].flatMap((i) => [`client.joined u${i}`, `channel.occupied c${i}`]), 'all of them, in order')
  t.comment(`delivered ${Math.round((Date.now() - downAt) / 1000)} s after the receiver went down for 10 s`)
  // The receiver counts a request once it answers; the hub, once it read that answer.
  let metrics = await hub.app.inject({ url: '/metrics' })
  await waitUntil(async () => /sse_hub_webhook_queued_events 0\n/.test((metrics = await hub.app.inject({ url: '/metrics' })).body), 5000, 'the hub to read the last answer')
  t.match(metrics.body, /sse_hub_webhook_requests_total\{outcome="delivered"\} [2-9]/)
  const failed = Number(/sse_hub_webhook_requests_total\{outcome="failed"\} (\d+)/.exec(metrics.body)?.[1])
  t.ok(failed >= 4 && failed <= 6, `${failed} failed tries: the 500, then while down at 1, 2, 4 and 8 s after the first`)
  t.match(metrics.body, /sse_hub_webhook_queued_events 0\n/)
})

t.test('a batch failing past webhookRetryFor is dropped, counted, and the next one goes', async (t) => {
  const hooks = await receiver(t)
  hooks.answer = (request) => request.events.some((event) => 'clientId' in event && event.clientId === 'doomed') ? 503 : 200
  const warnings: string[] = []
  const hub = await build(t, { webhookUrl: hooks.url, webhookSecret: SECRET, webhookDebounce: 0, webhookRetryFor: 2500 })
  const log = hub.app.log.warn.bind(hub.app.log)
  hub.app.log.warn = ((msg: string) => { warnings.push(msg); log(msg) }) as typeof hub.app.log.warn
  await hub.subscribe('/subscribe?channels=a&clientId=doomed')
  await waitUntil(() => hooks.requests.length >= 2, 5000, 'a retry')
  await hub.subscribe('/subscribe?channels=b&clientId=next')
  await waitUntil(() => hooks.delivered().length === 2, 10_000, 'the next batch')
  t.same(summary(hooks.delivered()), ['client.joined next', 'channel.occupied b'])
  t.same(hooks.requests.filter((request) => request.status === 503).length, 2, 'tried at 0 and 1 s; the next try, at 3 s, would be past 2.5 s')
  const metrics = await hub.app.inject({ url: '/metrics' })
  t.match(metrics.body, /sse_hub_webhook_events_dropped_total 2\n/)
  t.ok(warnings.some((line) => /webhooks: 2 events dropped/.test(line)), 'logged')
})
