import Fastify from 'fastify'
import t from 'tap'
import sseHub from '../../app.js'
import { build, waitUntil } from '../helper.js'
import { parseMetrics, scrape } from '../metrics.js'

const METRICS_TOKEN = 'metrics-token-0123456789'
const PUBLISH_TOKEN = 'publish-token-0123456789'

const event = (channelName: string, payload: unknown = 1): object => ({ channelName, type: 't', payload })

t.test('the counters follow what the hub does over real streams', async (t) => {
  const hub = await build(t, { prefix: '/hub' })
  const before = await scrape(hub.app, '/hub/metrics')
  t.same(['sse_hub_connections', 'sse_hub_clients', 'sse_hub_channels', 'sse_hub_events_published_total', 'sse_hub_events_delivered_total']
    .map((name) => before.get(name)), [0, 0, 0, 0, 0], 'a new hub starts at zero')

  // Two tabs of alice on a and b, bob on b: three streams, two clients, two channels.
  const tabs = await Promise.all([
    hub.subscribe('/hub/subscribe?channels=a,b&clientId=alice'),
    hub.subscribe('/hub/subscribe?channels=a&clientId=alice'),
    hub.subscribe('/hub/subscribe?channels=b&clientId=bob')
  ])
  await Promise.all(tabs.map((tab) => tab.waitForCount(1)))
  const published = await hub.app.inject({ method: 'POST', url: '/hub/publish', payload: { events: [event('a'), event('b'), event('c')] } })
  t.equal(published.statusCode, 200)
  // a reaches two tabs, b two: four frames; c has no subscriber.
  await waitUntil(async () => (await scrape(hub.app, '/hub/metrics')).get('sse_hub_events_delivered_total') === 4, 5000, 'four deliveries')
  const open = await scrape(hub.app, '/hub/metrics')
  t.equal(open.get('sse_hub_connections'), 3)
  t.equal(open.get('sse_hub_clients'), 2, 'two tabs are one client')
  t.equal(open.get('sse_hub_channels'), 2)
  t.equal(open.get('sse_hub_events_published_total'), 3)

  // A resume from the id of a's event replays b's, c's is on no channel of the stream.
  const resumed = await hub.subscribe('/hub/subscribe?channels=a,b', { headers: { 'last-event-id': published.json().ids[0] } })
  await resumed.waitForCount(2)
  t.equal((await scrape(hub.app, '/hub/metrics')).get('sse_hub_events_replayed_total'), 1)

  for (const tab of [...tabs, resumed]) tab.close()
  await waitUntil(() => hub.app.hub.connectionCount === 0)
  const closed = await scrape(hub.app, '/hub/metrics')
  t.same([closed.get('sse_hub_connections'), closed.get('sse_hub_clients'), closed.get('sse_hub_channels')], [0, 0, 0])
})

t.test('refused subscribes are counted by reason, rejected requests by status, and only accepted publishes are timed', async (t) => {
  const hub = await build(t, { insecure: false, publishToken: PUBLISH_TOKEN, maxConnections: 1, bodyLimit: 200 })
  const auth = { authorization: `Bearer ${PUBLISH_TOKEN}` }
  const first = await hub.subscribe('/subscribe?channels=a')
  await first.waitForCount(1)
  const full = await hub.subscribe('/subscribe?channels=a')
  await full.waitForEnd()
  hub.app.hub.drain()
  const draining = await hub.subscribe('/subscribe?channels=a')
  await draining.waitForEnd()

  t.equal((await hub.publish({ events: [event('a')] }, auth)).statusCode, 200)
  t.equal((await hub.publish({ events: [event('a')] }, auth)).statusCode, 200)
  t.equal((await hub.publish({ events: [event('a b')] }, auth)).statusCode, 400)
  t.equal((await hub.publish({ events: [event('a')] })).statusCode, 401)
  t.equal((await hub.publish({ events: [event('a', 'x'.repeat(300))] }, auth)).statusCode, 413)
  t.equal((await hub.app.inject('/subscribe?channels=a,,b')).statusCode, 400)

  const samples = await scrape(hub.app)
  t.equal(samples.get('sse_hub_refused_subscribes_total{reason="max-connections"}'), 1)
  t.equal(samples.get('sse_hub_refused_subscribes_total{reason="draining"}'), 1)
  t.equal(samples.get('sse_hub_refused_subscribes_total{reason="rate-limit"}'), 0, 'every reason is listed, from zero')
  t.equal(samples.get('sse_hub_rejected_requests_total{status="400"}'), 2)
  t.equal(samples.get('sse_hub_rejected_requests_total{status="401"}'), 1)
  t.equal(samples.get('sse_hub_rejected_requests_total{status="413"}'), 1)
  t.equal(samples.get('sse_hub_publish_duration_seconds_count'), 2, 'the two accepted publishes')
  t.equal(samples.get('sse_hub_publish_duration_seconds_bucket{le="+Inf"}'), 2)
  const sum = samples.get('sse_hub_publish_duration_seconds_sum') ?? 0
  t.ok(sum > 0 && sum < 2, `their durations add up to ${sum} s`)
  t.equal(samples.get('sse_hub_broker_up'), 1, 'the memory broker is always up')
})

t.test('the process defaults come along, without the ones that list every handle', async (t) => {
  const hub = await build(t)
  const samples = await scrape(hub.app)
  for (const name of ['nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes', 'process_open_fds', 'process_resident_memory_bytes', 'process_cpu_seconds_total']) {
    t.ok(samples.has(name), name)
  }
  t.notOk([...samples.keys()].some((name) => name.startsWith('nodejs_active_handles') || name.startsWith('nodejs_active_resources')), 'no per-handle listing')
  const reply = await hub.app.inject('/metrics')
  t.match(reply.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  const names = reply.body.split('\n').filter((line) => line.startsWith('# TYPE ')).map((line) => line.split(' ')[2])
  t.equal(new Set(names).size, names.length, 'each metric once')
})

t.test('metricsToken: /metrics needs it as a Bearer token, and nothing else opens it', async (t) => {
  const hub = await build(t, { insecure: false, publishToken: PUBLISH_TOKEN, metricsToken: METRICS_TOKEN })
  const none = await hub.app.inject('/metrics')
  t.equal(none.statusCode, 401)
  t.match(none.json(), { code: 'SSE_HUB_NO_TOKEN', message: /metricsToken/ })
  t.match(none.headers['www-authenticate'], /^Bearer /)
  for (const [what, headers, url] of [
    ['a wrong token', { authorization: 'Bearer not-the-metrics-token' }, '/metrics'],
    ['the publish token', { authorization: `Bearer ${PUBLISH_TOKEN}` }, '/metrics']
  ] as const) {
    const reply = await hub.app.inject({ url, headers })
    t.equal(reply.statusCode, 401, what)
    t.equal(reply.json().code, 'SSE_HUB_BAD_TOKEN', what)
    t.notOk(reply.body.includes(PUBLISH_TOKEN), 'the answer never repeats a token')
  }
  t.equal((await hub.app.inject(`/metrics?token=${METRICS_TOKEN}`)).statusCode, 401, 'not from the query, where logs would keep it')
  const samples = await scrape(hub.app, '/metrics', { authorization: `Bearer ${METRICS_TOKEN}` })
  t.equal(samples.get('sse_hub_rejected_requests_total{status="401"}'), 4, 'the refused scrapes are counted')
  t.equal((await hub.app.inject({ url: '/clients', headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).statusCode, 401, 'the metrics token opens nothing else')
})

t.test('without metricsToken /metrics is open, even on a hub whose other reads need a token', async (t) => {
  const hub = await build(t, { insecure: false, publishToken: PUBLISH_TOKEN })
  t.equal((await hub.app.inject('/metrics')).statusCode, 200)
  t.equal((await hub.app.inject('/clients')).statusCode, 401)
})

t.test('metricsToken is checked like the other tokens', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await t.rejects(async () => { await app.register(sseHub, { metricsToken: 'short' }).ready() },
    { code: 'SSE_HUB_BAD_CONFIG', message: /invalid option metricsToken: Expected string length greater or equal to 16/ })
})

t.test('two hubs in one app count apart and share the process metrics', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(async (scope) => { await scope.register(sseHub, { prefix: '/one', insecure: true }) })
  await app.register(async (scope) => { await scope.register(sseHub, { prefix: '/two', insecure: true }) })
  await app.ready()
  t.equal((await app.inject({ method: 'POST', url: '/one/publish', payload: { events: [event('a'), event('b')] } })).statusCode, 200)
  const one = parseMetrics((await app.inject('/one/metrics')).body)
  const two = parseMetrics((await app.inject('/two/metrics')).body)
  t.equal(one.get('sse_hub_events_published_total'), 2)
  t.equal(two.get('sse_hub_events_published_total'), 0)
  t.ok(one.has('process_cpu_seconds_total') && two.has('process_cpu_seconds_total'))
})
