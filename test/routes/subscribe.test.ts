import { connect } from 'node:net'
import t from 'tap'
import { build, data, registryCount, waitUntil } from '../helper.js'

t.test('a stream opens with retry, registered and a lastEvent per channel', async (t) => {
  const hub = await build(t, { retry: 1234 })
  await hub.publish({ events: [{ channelName: 'b', type: 'greeting', payload: { hi: 1 } }] })
  const client = await hub.subscribe('/subscribe?channels=a,b&clientId=alice', { headers: { origin: 'https://example.test' } })
  t.equal(client.status, 200)
  t.equal(client.headers['content-type'], 'text/event-stream')
  t.equal(client.headers['cache-control'], 'no-cache')
  t.equal(client.headers['x-accel-buffering'], 'no')
  t.equal(client.headers['access-control-allow-origin'], '*', 'CORS survives the hijacked stream')
  await client.waitForCount(3)
  t.equal(client.retry, 1234)
  const [registered, a, b] = client.messages
  t.equal(registered.event, 'registered')
  t.same(data(registered), { type: 'registered', payload: '{"clientId":"alice","resumed":false}' })
  t.type(registered.id, 'string', 'registered carries the stream position')
  t.same(data(a), { channelName: 'a', type: 'lastEvent', payload: '{}' })
  t.same(data(b), { channelName: 'b', type: 'lastEvent', payload: '{"type":"greeting","payload":{"hi":1}}' })
  t.equal(a.id, undefined, 'snapshots carry no id')
})

t.test('a generated clientId is unique; a channel named twice counts once', async (t) => {
  const hub = await build(t)
  const one = await hub.subscribe('/subscribe?channels=x,x')
  const two = await hub.subscribe('/subscribe/?channels=x')
  await one.waitForCount(2)
  await two.waitForCount(2)
  t.equal(one.ofType('lastEvent').length, 1)
  const idOne = JSON.parse(data(one.messages[0]).payload).clientId
  const idTwo = JSON.parse(data(two.messages[0]).payload).clientId
  t.ok(idOne.length > 0)
  t.not(idOne, idTwo)
})

t.test('live events reach every subscriber of the channel and nobody else', async (t) => {
  const hub = await build(t)
  const onA = await hub.subscribe('/subscribe?channels=a')
  const onAB = await hub.subscribe('/subscribe?channels=a,b')
  const onB = await hub.subscribe('/subscribe?channels=b')
  await Promise.all([onA.waitForCount(2), onAB.waitForCount(3), onB.waitForCount(2)])
  const res = await hub.publish({ events: [{ channelName: 'a', type: 'ta', payload: 1 }, { channelName: 'b', type: 'tb', payload: 2 }] })
  await Promise.all([onA.waitForCount(3), onAB.waitForCount(5), onB.waitForCount(3)])
  t.same(onA.messages.slice(2).map((m) => [m.id, m.event]), [[res.json.ids[0], 'ta']])
  t.same(onAB.messages.slice(3).map((m) => [m.id, m.event]), [[res.json.ids[0], 'ta'], [res.json.ids[1], 'tb']])
  t.same(onB.messages.slice(2).map((m) => [m.id, m.event]), [[res.json.ids[1], 'tb']])
})

t.test('bad subscribe requests are 400 with a JSON body naming the problem', async (t) => {
  const hub = await build(t, { maxChannelsPerSubscription: 3 })
  const cases: Array<[string, RegExp]> = [
    ['/subscribe', /^channels: is required/],
    ['/subscribe?channels=', /^channels: empty channel name in ""/],
    ['/subscribe?channels=a,,b', /^channels: empty channel name in "a,,b"/],
    ['/subscribe?channels=a,', /^channels: empty channel name in "a,"/],
    ['/subscribe?channels=a%20b', /^channels: "a b" is not a valid channel name/],
    ['/subscribe?channels=' + 'x'.repeat(129), /^channels: "x{32}"\.\.\. \(129 characters\) is not a valid channel name/],
    ['/subscribe?channels=a%0Ab', /^channels: "a\\nb" is not a valid channel name/],
    ['/subscribe?channels=a,b,c,d', /^channels: 4 channels requested, at most 3 allowed/],
    ['/subscribe?channels=a&clientId=', /^clientId: "" is not a valid clientId/],
    ['/subscribe?channels=a&clientId=bad%20id', /^clientId: "bad id" is not a valid clientId/],
    ['/subscribe?channels=a&clientId=' + 'c'.repeat(129), /^clientId: .* is not a valid clientId/]
  ]
  for (const [url, message] of cases) {
    const res = await hub.app.inject(url)
    t.equal(res.statusCode, 400, url)
    t.equal(res.headers['content-type'], 'application/json; charset=utf-8')
    t.match(res.json(), { statusCode: 400, error: 'Bad Request', message }, url)
  }
  t.equal(hub.app.hub.connectionCount, 0)
})

t.test('heartbeats: a comment line when nothing else was sent', async (t) => {
  const hub = await build(t, { heartbeatInterval: 100 })
  const client = await hub.subscribe('/subscribe?channels=quiet')
  await client.waitFor((c) => c.comments.length >= 2, 3000, 'two heartbeats')
  t.ok(client.comments.every((comment) => comment === 'heartbeat'))
  t.equal(client.messages.length, 2, 'heartbeats dispatch no event')
})

t.test('at maxConnections a subscribe gets 200, retry: and a closed stream', async (t) => {
  const hub = await build(t, { maxConnections: 2, retry: 1000 })
  const first = await hub.subscribe('/subscribe?channels=a')
  const second = await hub.subscribe('/subscribe?channels=a')
  await Promise.all([first.waitForCount(2), second.waitForCount(2)])
  const refused = await hub.subscribe('/subscribe?channels=a', { headers: { origin: 'https://example.test' } })
  t.equal(refused.status, 200)
  t.equal(refused.headers['x-sse-hub-refused'], 'max-connections')
  t.equal(refused.headers['content-type'], 'text/event-stream')
  t.equal(refused.headers['access-control-allow-origin'], '*')
  await refused.waitForEnd()
  t.same(refused.messages, [], 'no event, only retry:')
  t.ok(refused.retry !== undefined && refused.retry >= 1000 && refused.retry <= 3000, `jittered retry ${refused.retry}`)
  t.equal(hub.app.hub.counters().refused['max-connections'], 1)

  // A freed slot is usable again.
  first.close()
  await waitUntil(() => hub.app.hub.connectionCount === 1)
  const third = await hub.subscribe('/subscribe?channels=a')
  await third.waitForCount(2)
  t.equal(third.headers['x-sse-hub-refused'], undefined)
})

t.test('a draining hub refuses subscribes the same way and reports 503', async (t) => {
  const hub = await build(t)
  hub.app.hub.drain()
  const refused = await hub.subscribe('/subscribe?channels=a')
  t.equal(refused.headers['x-sse-hub-refused'], 'draining')
  await refused.waitForEnd()
  t.not(refused.retry, undefined)
  const health = await hub.app.inject('/health')
  t.equal(health.statusCode, 503)
  t.same(health.json(), { status: 'draining' })
})

t.test('health is ok while serving', async (t) => {
  const hub = await build(t)
  const health = await hub.app.inject('/health')
  t.equal(health.statusCode, 200)
  t.same(health.json(), { status: 'ok' })
})

t.test('lastEvent: "{}" before any publish, 400 on a missing or bad channel', async (t) => {
  const hub = await build(t)
  t.same((await hub.app.inject('/lastEvent?channel=nothing')).json(), { response: '{}' })
  const missing = await hub.app.inject('/lastEvent')
  t.equal(missing.statusCode, 400)
  t.match(missing.json().message, /^channel: is required/)
  const bad = await hub.app.inject('/lastEvent?channel=a%20b')
  t.equal(bad.statusCode, 400)
  t.match(bad.json().message, /^channel: "a b" is not a valid channel name/)
})

t.test('a client that disconnects leaves its channels', async (t) => {
  const hub = await build(t)
  const client = await hub.subscribe('/subscribe?channels=a,b&clientId=bob')
  await client.waitForCount(3)
  t.same(await hub.app.hub.client('bob'), { clientId: 'bob', connections: 1, channels: ['a', 'b'], connectedAt: (await hub.app.hub.client('bob'))?.connectedAt })
  client.close()
  await waitUntil(() => hub.app.hub.connectionCount === 0)
  t.equal(await hub.app.hub.client('bob'), undefined)
  t.same(await registryCount(hub.app.hub), { clients: 0, connections: 0 })
  t.same((await hub.publish({ events: [{ channelName: 'a', type: 't', payload: 1 }] })).statusCode, 200)
})

t.test('an HTTP/1.0 client gets a plain, close-delimited stream', async (t) => {
  const hub = await build(t)
  const { port } = hub.app.server.address() as { port: number }
  const socket = connect(port, '127.0.0.1')
  t.teardown(() => { socket.destroy() })
  let received = ''
  socket.setEncoding('utf8')
  socket.on('data', (text: string) => { received += text })
  socket.write('GET /subscribe?channels=old HTTP/1.0\r\nAccept: text/event-stream\r\n\r\n')
  await waitUntil(() => received.includes('event: lastEvent'))
  await hub.publish({ events: [{ channelName: 'old', type: 'news', payload: 1 }] })
  await waitUntil(() => received.includes('event: news'))
  const [head, body] = received.split('\r\n\r\n')
  t.match(head, /^HTTP\/1\.1 200 OK/)
  t.notMatch(head, /transfer-encoding/i)
  t.match(body, /^retry: 2000\nid: \S+\nevent: registered\ndata: .*\n\nevent: lastEvent\ndata: .*\n\nid: \S+\nevent: news\ndata: \{"channelName":"old","type":"news","payload":1\}\n\n$/)
})
