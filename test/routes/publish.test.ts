import t from 'tap'
import { build, data } from '../helper.js'

// The seed README's own example: two channels, a 4-event batch, each listener fires where it should.
t.test('the seed example end to end', async (t) => {
  const hub = await build(t)
  const client = await hub.subscribe('/subscribe/?channels=' + encodeURIComponent('channel1,channel2'))
  await client.waitForCount(3) // registered + 2 lastEvent
  const res = await hub.publish({
    events: [
      { channelName: 'channel1', type: 'message', payload: '{ "location": "123.44,34.234234"}' },
      { channelName: 'channel1', type: 'foo', payload: '{ "message": "Hi fooo"}' },
      { channelName: 'channel2', type: 'message', payload: '{ "location": "123.44,872938.99"}' },
      { channelName: 'channel2', type: 'bar', payload: '{ "location": "123.44"}' }
    ]
  })
  t.equal(res.statusCode, 200)
  t.equal(res.json.published, 4)
  await client.waitForCount(7)
  const live = client.messages.slice(3)
  t.same(live.map((m) => [m.event, data(m).channelName]), [
    ['message', 'channel1'], ['foo', 'channel1'], ['message', 'channel2'], ['bar', 'channel2']
  ])
  t.same(data(live[1]), { channelName: 'channel1', type: 'foo', payload: '{ "message": "Hi fooo"}' })
  t.same(live.map((m) => m.id), res.json.ids, 'the reply ids are the id: lines')
})

t.test('payload is any JSON value, delivered exactly', async (t) => {
  const hub = await build(t)
  const client = await hub.subscribe('/subscribe?channels=c')
  await client.waitForCount(2)
  const payloads = [null, 0, false, '', 'line\nbreak\r\n: not a comment', { nested: [1, { a: 'b' }] }, [], 12.5]
  const res = await hub.publish({ events: payloads.map((payload) => ({ channelName: 'c', type: 'value', payload })) })
  t.equal(res.statusCode, 200)
  await client.waitForCount(2 + payloads.length)
  t.same(client.messages.slice(2).map((m) => data(m).payload), payloads)
})

t.test('events of one request arrive in array order, ids strictly increasing', async (t) => {
  const hub = await build(t)
  const client = await hub.subscribe('/subscribe?channels=a,b,c')
  await client.waitForCount(4)
  const events = Array.from({ length: 60 }, (_, i) => ({ channelName: 'abc'[i % 3], type: 'n', payload: i }))
  const res = await hub.publish({ events })
  await client.waitForCount(64)
  t.same(client.messages.slice(4).map((m) => data(m).payload), events.map((e) => e.payload))
  const seqs = res.json.ids.map((id: string) => Number(id.split('-')[1]))
  t.ok(seqs.every((seq: number, i: number) => i === 0 || seq > seqs[i - 1]), 'ids increase')
})

t.test('an empty batch is accepted', async (t) => {
  const hub = await build(t)
  t.same((await hub.publish({ events: [] })).json, { published: 0, ids: [] })
})

t.test('the last event of each channel becomes its lastEvent', async (t) => {
  const hub = await build(t)
  await hub.publish({
    events: [
      { channelName: 'a', type: 'first', payload: 1 },
      { channelName: 'a', type: 'second', payload: { x: 2 } },
      { channelName: 'b', type: 'only', payload: null }
    ]
  })
  const a = await hub.app.inject('/lastEvent?channel=a')
  t.same(a.json(), { response: '{"type":"second","payload":{"x":2}}' })
  const b = await hub.app.inject('/lastEvent?channel=b')
  t.same(b.json(), { response: '{"type":"only","payload":null}' })
})

t.test('bad batches are rejected whole, naming the index and the rule', async (t) => {
  const hub = await build(t, { maxEventsPerPublish: 3 })
  const client = await hub.subscribe('/subscribe?channels=ok')
  await client.waitForCount(2)
  const good = { channelName: 'ok', type: 'fine', payload: 1 }
  const cases: Array<[string, unknown, RegExp]> = [
    ['reserved type', { events: [good, good, { channelName: 'ok', type: 'registered', payload: 1 }] }, /^events\/2\/type: "registered" is reserved/],
    ['reserved lastEvent', { events: [{ ...good, type: 'lastEvent' }] }, /^events\/0\/type: "lastEvent" is reserved/],
    ['reserved online-presence', { events: [{ ...good, type: 'online-presence' }] }, /^events\/0\/type: "online-presence" is reserved/],
    ['missing payload', { events: [good, { channelName: 'ok', type: 'x' }] }, /^events\/1\/payload: is required/],
    ['missing type', { events: [{ channelName: 'ok', payload: 1 }] }, /^events\/0\/type: is required/],
    ['missing channelName', { events: [{ type: 'x', payload: 1 }] }, /^events\/0\/channelName: is required/],
    ['bad channel name', { events: [good, { ...good, channelName: 'has space' }] }, /^events\/1\/channelName: "has space" is not a valid channel name/],
    ['empty channel name', { events: [{ ...good, channelName: '' }] }, /^events\/0\/channelName: "" is not a valid channel name/],
    ['long channel name', { events: [{ ...good, channelName: 'x'.repeat(129) }] }, /^events\/0\/channelName: .* is not a valid channel name/],
    ['type with newline', { events: [{ ...good, type: 'a\nb' }] }, /^events\/0\/type: "a\\nb" is not a valid event type/],
    ['type starting with a dot', { events: [{ ...good, type: '.x' }] }, /^events\/0\/type: "\.x" is not a valid event type/],
    ['long type', { events: [{ ...good, type: 'x'.repeat(65) }] }, /^events\/0\/type: .* is not a valid event type/],
    ['numeric type', { events: [{ ...good, type: 5 }] }, /^events\/0\/type: Expected string/],
    ['event not an object', { events: [good, 'nope'] }, /^events\/1: Expected object/],
    ['events not an array', { events: 'x' }, /^events: Expected array/],
    ['no events', { other: [] }, /^events: is required/],
    ['too many events', { events: [good, good, good, good] }, /^events: Expected array length to be less or equal to 3/]
  ]
  for (const [name, body, message] of cases) {
    const res = await hub.publish(body)
    t.equal(res.statusCode, 400, `${name}: 400`)
    t.equal(res.json.statusCode, 400)
    t.equal(res.json.error, 'Bad Request')
    t.match(res.json.message, message, `${name}: ${res.json.message}`)
  }
  const notJson = await hub.app.inject({ method: 'POST', url: '/publish', headers: { 'content-type': 'application/json' }, payload: '{"events": [' })
  t.equal(notJson.statusCode, 400, 'invalid JSON is a 400')
  t.type(notJson.json().message, 'string')

  // Nothing of any rejected batch reached the subscriber: the next event is the first it sees.
  await hub.publish({ events: [{ channelName: 'ok', type: 'after', payload: 'x' }] })
  await client.waitForCount(3)
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.same(client.messages.slice(2).map((m) => m.event), ['after'])
  t.equal((await hub.app.inject('/lastEvent?channel=ok')).json().response, '{"type":"after","payload":"x"}')
})

t.test('body limit: exactly bodyLimit bytes pass, one more is 413', async (t) => {
  const bodyLimit = 1000
  const hub = await build(t, { bodyLimit })
  const bodyOf = (size: number): string => {
    const shell = JSON.stringify({ events: [{ channelName: 'c', type: 't', payload: '' }] })
    return JSON.stringify({ events: [{ channelName: 'c', type: 't', payload: 'x'.repeat(size - shell.length) }] })
  }
  const post = (payload: string) => hub.app.inject({ method: 'POST', url: '/publish', headers: { 'content-type': 'application/json' }, payload })
  t.equal(bodyOf(bodyLimit).length, bodyLimit)
  t.equal((await post(bodyOf(bodyLimit))).statusCode, 200)
  const over = await post(bodyOf(bodyLimit + 1))
  t.equal(over.statusCode, 413)
  t.equal(over.json().message, 'body: larger than the limit of 1000 bytes')
})

t.test('publish is also served at /publish/', async (t) => {
  const hub = await build(t)
  const res = await hub.app.inject({ method: 'POST', url: '/publish/', payload: { events: [{ channelName: 'c', type: 't', payload: 1 }] } })
  t.equal(res.statusCode, 200)
})
