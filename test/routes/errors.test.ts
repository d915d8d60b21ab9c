import t from 'tap'
import { build, data } from '../helper.js'

t.test('a query parameter given twice is named as such', async (t) => {
  const hub = await build(t)
  const cases: Array<[string, string]> = [
    ['/subscribe?channels=a&channels=b', 'channels: given more than once'],
    ['/lastEvent?channel=a&channel=b', 'channel: given more than once'],
    ['/clients?limit=1&limit=2', 'limit: given more than once'],
    ['/subscribe?channels=a&clientId=x&clientId=y', 'clientId: given more than once']
  ]
  for (const [url, message] of cases) {
    const res = await hub.app.inject({ method: 'GET', url })
    t.equal(res.statusCode, 400, url)
    t.same(res.json(), { statusCode: 400, code: 'SSE_HUB_REPEATED_PARAMETER', error: 'Bad Request', message })
  }
})

t.test('OPTIONS without preflight headers: a 400 in the JSON error format; a real preflight: 204', async (t) => {
  const hub = await build(t)
  const bare = await hub.app.inject({ method: 'OPTIONS', url: '/publish' })
  t.equal(bare.statusCode, 400)
  t.match(bare.headers['content-type'], /application\/json/)
  t.match(bare.json(), { statusCode: 400, code: 'SSE_HUB_NOT_PREFLIGHT', error: 'Bad Request', message: /^OPTIONS: / })
  const preflight = await hub.app.inject({ method: 'OPTIONS', url: '/publish', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } })
  t.equal(preflight.statusCode, 204)
  t.equal(preflight.headers['access-control-allow-origin'], '*')
})

t.test('a payload with __proto__ or constructor keys is data: accepted, delivered as sent, nothing polluted', async (t) => {
  const hub = await build(t)
  const client = await hub.subscribe('/subscribe?channels=p')
  await client.waitForCount(2)
  const payload = '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"n":1}'
  const body = `{"events":[{"channelName":"p","type":"t","payload":${payload}}]}`
  const res = await hub.app.inject({ method: 'POST', url: '/publish', headers: { 'content-type': 'application/json' }, payload: body })
  t.equal(res.statusCode, 200, res.body)
  await client.waitForCount(3)
  const message = client.messages[2]
  t.equal(message.data, `{"channelName":"p","type":"t","payload":${payload}}`, 'the payload bytes as sent')
  t.equal(data(message).payload.n, 1)
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched')
  const last = await hub.app.inject({ method: 'GET', url: '/lastEvent?channel=p' })
  t.equal(JSON.parse(last.json().response).payload.n, 1)
})

t.test('an empty or broken JSON body: a 400 that says which', async (t) => {
  const hub = await build(t)
  const cases: Array<[string, RegExp]> = [
    ['', /^body: empty; expected a JSON object$/],
    ['{"events":[', /^body: not valid JSON \(/],
    ['{"events":[]}x', /^body: not valid JSON \(/]
  ]
  for (const [payload, message] of cases) {
    const res = await hub.app.inject({ method: 'POST', url: '/publish', headers: { 'content-type': 'application/json' }, payload })
    t.equal(res.statusCode, 400, JSON.stringify(payload))
    t.match(res.json(), { statusCode: 400, code: 'SSE_HUB_BAD_JSON', message })
  }
})

t.test('payload keys with escapes reach subscribers as sent, whatever was published before (V8 in Node 24 alters them in JSON.parse)', async (t) => {
  const hub = await build(t)
  const client = await hub.subscribe('/subscribe?channels=k')
  await client.waitForCount(2)
  const payloads = ['{"h":[],"\\\\":0}', '{"h":1,"\\"":2}', '{"\\u0000":": comment","retry: 1":"x"}', '{"\\n":{"\\r":1}}']
  for (const payload of payloads) {
    const res = await hub.app.inject({ method: 'POST', url: '/publish', headers: { 'content-type': 'application/json' }, payload: `{"events":[{"channelName":"k","type":"t","payload":${payload}}]}` })
    t.equal(res.statusCode, 200)
  }
  await client.waitForCount(2 + payloads.length)
  // Each sample is written as JSON.stringify writes it, so the frames hold it byte for byte.
  t.same(client.messages.slice(2).map((message) => message.data), payloads.map((payload) => `{"channelName":"k","type":"t","payload":${payload}}`))
})
