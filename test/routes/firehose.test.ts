import { connect } from 'node:net'
import t from 'tap'
import { mintToken } from '../../lib/cli/token.js'
import { build, data, waitUntil } from '../helper.js'
import { redisClient, redisPrefix } from '../redis.js'
import { bearer, keys, mint } from '../security/keys.js'

t.test('every event of every channel, in publish order, as subscribers get it', async (t) => {
  const hub = await build(t)
  const subscriber = await hub.subscribe('/subscribe?channels=b&clientId=bob')
  await subscriber.waitForCount(2)
  // Published before the firehose opened: not shown, no snapshot.
  await hub.publish({ events: [{ channelName: 'b', type: 'old', payload: 0 }] })
  const firehose = await hub.subscribe('/firehose', { headers: { origin: 'https://example.test' } })
  t.equal(firehose.status, 200)
  t.equal(firehose.headers['content-type'], 'text/event-stream')
  t.equal(firehose.headers['access-control-allow-origin'], '*', 'CORS survives the hijacked stream')
  await waitUntil(() => firehose.retry !== undefined, 5000, 'the retry line')
  t.equal(firehose.retry, 2000, 'it starts with the hub\'s retry')

  const first = await hub.publish({ events: [{ channelName: 'a', type: 'x', payload: { n: 1 } }, { channelName: 'b', type: 'y', payload: null }] })
  const second = await hub.publish({ events: [{ channelName: 'nobody-listens', type: 'z', payload: '<img src=x>' }] })
  const ids = [...first.json.ids, ...second.json.ids]
  await firehose.waitForCount(3)
  t.same(firehose.messages.map((message) => [message.id, message.event, data(message)]), [
    [ids[0], 'x', { channelName: 'a', type: 'x', payload: { n: 1 } }],
    [ids[1], 'y', { channelName: 'b', type: 'y', payload: null }],
    [ids[2], 'z', { channelName: 'nobody-listens', type: 'z', payload: '<img src=x>' }]
  ], 'ids, types and data as published, channels with no subscriber included')
  await subscriber.waitForCount(4)
  t.same(subscriber.messages.slice(3).map((message) => [message.id, message.data]), [[ids[1], firehose.messages[1].data]], 'the subscriber gets the same frame')

  t.same((await hub.app.inject('/clients')).json().clients.map((c: { clientId: string }) => c.clientId), ['bob'], 'the firehose is no client')
  t.equal(hub.app.hub.connectionCount, 2, 'but it is a stream')
  t.match(hub.app.hub.counters(), { connections: 2, clients: 1, channels: 1 })
})

t.test('a presence read: 401 without a token, 403 without hub.presence, ?token= for EventSource', async (t) => {
  const publishToken = 'firehose-static-token-0123'
  const hub = await build(t, { publishToken, jwtSecret: keys.secret, insecure: false })
  t.equal((await hub.app.inject('/firehose')).statusCode, 401)
  const wrong = await hub.subscribe('/firehose?token=not-the-token-at-all')
  t.equal(wrong.status, 401)
  t.equal(wrong.headers['content-type'], 'application/json; charset=utf-8', 'a JSON error, not a stream')
  const publisher = mint(keys.secret, { hub: { publish: ['*'] } })
  const forbidden = await hub.subscribe('/firehose', { headers: bearer(publisher) })
  t.equal(forbidden.status, 403)

  for (const query of [`?token=${publishToken}`, `?token=${mint(keys.secret, { hub: { presence: true } })}`]) {
    const firehose = await hub.subscribe(`/firehose${query}`)
    t.equal(firehose.status, 200)
    await waitUntil(() => firehose.retry !== undefined, 5000, 'the retry line')
    await hub.publish({ events: [{ channelName: 'a', type: 'x', payload: 1 }] }, bearer(publishToken))
    await firehose.waitForCount(1)
    t.equal(data(firehose.messages[0]).channelName, 'a')
    firehose.close()
  }
  await waitUntil(() => hub.app.hub.connectionCount === 0, 5000, 'both closed')
})

/** The status of a GET over a real socket, and its JSON body unless it is a stream (a stream is cut, not awaited). */
async function answer (url: string, headers: Record<string, string> = {}): Promise<{ status: number, json: any }> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(5000) })
  if (res.headers.get('content-type') === 'text/event-stream') {
    await res.body?.cancel()
    return { status: res.status, json: undefined }
  }
  return { status: res.status, json: await res.json() }
}

t.test('subscribeAuth: the README\'s browser token (orders*, presence) does not open the firehose, and sees nothing of payroll', async (t) => {
  const publishToken = 'firehose-static-token-0123'
  const metricsToken = 'firehose-metrics-token-0123'
  const hub = await build(t, { subscribeAuth: true, publishToken, metricsToken, jwtSecret: keys.secret, insecure: false })
  const minted = (...args: string[]): string => mintToken(args, { SSE_HUB_JWT_SECRET: keys.secret })
  const browser = minted('--subscribe', 'orders*', '--presence', '--sub', 'alice')
  t.equal((await hub.app.inject(`/subscribe?channels=payroll&token=${browser}`)).statusCode, 403, 'it may not subscribe to payroll')

  // As `curl -N "…/firehose?token=$T"`, then a publish to payroll.
  const leak = await hub.subscribe(`/firehose?token=${browser}`)
  await leak.waitFor((client) => client.ended || client.retry !== undefined, 5000, 'a refusal or the retry line')
  await hub.publish({ events: [{ channelName: 'payroll', type: 'salary', payload: { alice: 123456 } }] }, bearer(publishToken))
  await leak.waitFor((client) => client.ended || client.messages.length > 0, 5000, 'the end or an event')
  t.equal(leak.status, 403, 'refused')
  t.same(leak.messages, [], 'the salary event does not arrive')
  const refusal = await answer(`${hub.url}/firehose?token=${browser}`)
  t.equal(refusal.status, 403)
  t.equal(refusal.json.message, 'firehose: the token does not allow reading every channel (a JWT needs hub.subscribe ["*"] and hub.presence)')
  t.equal((await hub.app.inject(`/clients?token=${browser}`)).statusCode, 200, 'its presence reads stay open')

  const refused: Array<[string, Record<string, string>, number]> = [
    ['every channel but no presence', bearer(minted('--subscribe', '*')), 403],
    ['presence and a prefix', bearer(minted('--subscribe', 'pay*', '--presence')), 403],
    ['the metrics token', bearer(metricsToken), 401]
  ]
  for (const [what, headers, status] of refused) t.equal((await answer(`${hub.url}/firehose`, headers)).status, status, what)

  for (const [what, headers] of [['the publish token', bearer(publishToken)], ['presence and every channel', bearer(minted('--subscribe', '*', '--presence'))]] as const) {
    const firehose = await hub.subscribe('/firehose', { headers })
    t.equal(firehose.status, 200, what)
    await waitUntil(() => firehose.retry !== undefined, 5000, 'the retry line')
    await hub.publish({ events: [{ channelName: 'payroll', type: 'salary', payload: 1 }] }, bearer(publishToken))
    await firehose.waitForCount(1)
    t.equal(data(firehose.messages[0]).channelName, 'payroll', `${what}: payroll's events`)
    firehose.close()
  }
})

t.test('refused while draining and at maxConnections; closing it detaches it', async (t) => {
  const hub = await build(t, { maxConnections: 1, retry: 1000, heartbeatInterval: 100 })
  const firehose = await hub.subscribe('/firehose')
  await waitUntil(() => firehose.retry !== undefined, 5000, 'the retry line')
  await firehose.waitFor((f) => f.comments.includes('heartbeat'), 3000, 'a heartbeat')
  const full = await hub.subscribe('/firehose')
  t.equal(full.headers['x-sse-hub-refused'], 'max-connections', 'it counts against maxConnections')
  await full.waitForEnd()

  firehose.close()
  await waitUntil(() => hub.app.hub.connectionCount === 0, 5000, 'the firehose detached')
  await hub.publish({ events: [{ channelName: 'a', type: 'x', payload: 1 }] })
  t.equal(hub.app.hub.counters().delivered, 0, 'nothing is written for a closed firehose')

  hub.app.hub.drain()
  const draining = await hub.subscribe('/firehose')
  t.equal(draining.headers['x-sse-hub-refused'], 'draining')
  await draining.waitForEnd()
  t.same(draining.messages, [])
  t.ok(draining.retry !== undefined && draining.retry >= 1000 && draining.retry <= 3000, `jittered retry ${draining.retry}`)
})

t.test('a firehose that does not read is cut; the subscribers get everything', async (t) => {
  const maxBufferedBytes = 64 * 1024
  const hub = await build(t, { maxBufferedBytes, slowClientTimeout: 500 })
  const { port } = hub.app.server.address() as { port: number }
  const reader = await hub.subscribe('/subscribe?channels=a')
  await reader.waitForCount(2)
  const stalled = connect(port, '127.0.0.1')
  stalled.pause()
  stalled.on('error', () => {})
  t.teardown(() => { stalled.destroy() })
  stalled.write('GET /firehose HTTP/1.1\r\nHost: x\r\n\r\n')
  await waitUntil(() => hub.app.hub.connectionCount === 2, 5000, 'the stalled firehose')

  const payload = 'x'.repeat(16 * 1024)
  let sent = 0
  while (hub.app.hub.counters().slowDisconnects === 0 && sent < 2000) {
    await hub.publish({ events: [{ channelName: 'a', type: 'chunk', payload: `${sent}:${payload}` }] })
    sent++
    if (sent % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 50))
  }
  await waitUntil(() => hub.app.hub.counters().slowDisconnects === 1, 5000, 'the slow firehose to be cut')
  await waitUntil(() => hub.app.hub.connectionCount === 1, 5000, 'the firehose detached')
  await reader.waitForCount(2 + sent, 20000)
  t.same(reader.ofType('chunk').map((m) => data(m).payload.split(':')[0]), Array.from({ length: sent }, (_, i) => String(i)), 'the reader got every event in order')
  t.equal(hub.app.hub.counters().clients, 1)
})

t.test('in a cluster, a firehose on one node shows the events published through every node', async (t) => {
  const prefix = redisPrefix(t)
  const node = () => build(t, { redis: redisClient(t), redisPrefix: prefix, historySize: 10 })
  const [a, b] = await Promise.all([node(), node()])
  const firehose = await a.subscribe('/firehose')
  await waitUntil(() => firehose.retry !== undefined, 5000, 'the retry line')
  await b.publish({ events: [{ channelName: 'on-b', type: 'x', payload: 1 }] })
  await a.publish({ events: [{ channelName: 'on-a', type: 'x', payload: 2 }] })
  await firehose.waitForCount(2)
  t.same(firehose.messages.map((message) => data(message).channelName), ['on-b', 'on-a'])
})
