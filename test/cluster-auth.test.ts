import { createServer, type Server } from 'node:http'
import t from 'tap'
import { build, data, waitUntil } from './helper.js'
import { REDIS_URL, redisPrefix } from './redis.js'

// The app decides on two nodes sharing a Redis: each node asks the app for its own subscribers,
// an event published on one reaches the app-granted streams of both, and a withdrawal ends the
// stream on the node that holds it; a reconnect to the other node is refused.

t.test('authUrl in a cluster: two nodes ask the same app; a withdrawn grant ends the stream, and the other node refuses it too', async (t) => {
  let allowed = true
  const asked: string[] = []
  const server: Server = createServer((req, res) => {
    let text = ''
    req.setEncoding('utf8').on('data', (chunk: string) => { text += chunk }).on('end', () => {
      asked.push(JSON.parse(text).headers.cookie)
      res.writeHead(allowed ? 200 : 403, { 'content-type': 'application/json' })
      res.end(JSON.stringify(allowed ? { clientId: 'alice', ttl: 1 } : { message: 'withdrawn' }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  const authUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/auth`
  const prefix = redisPrefix(t)
  const a = await build(t, { redisUrl: REDIS_URL, redisPrefix: prefix, authUrl })
  const b = await build(t, { redisUrl: REDIS_URL, redisPrefix: prefix, authUrl })

  const onA = await a.subscribe('/subscribe?channels=news', { headers: { cookie: 'session=alice' } })
  const onB = await b.subscribe('/subscribe?channels=news', { headers: { cookie: 'session=alice' } })
  await onA.waitForCount(2)
  await onB.waitForCount(2)
  t.equal(asked.length, 2, 'each node asked for its own subscriber')
  await waitUntil(async () => (await a.app.hub.client('alice'))?.connections === 2, 5000, 'alice seen on both nodes')

  t.equal((await a.publish({ events: [{ channelName: 'news', type: 'headline', payload: { n: 1 } }] })).statusCode, 200)
  await onA.waitForCount(3)
  await onB.waitForCount(3)
  t.same([onA, onB].map((client) => data(client.messages[2]).payload), [{ n: 1 }, { n: 1 }], 'one publish, both nodes\' streams')

  await waitUntil(() => asked.length >= 4, 6000, 'a renewal on each node')
  t.notOk(onA.ended || onB.ended, 'renewed: both go on')
  allowed = false
  await onA.waitForEnd(5000)
  await onB.waitForEnd(5000)
  t.pass('withdrawn: the stream on each node ended')
  const again = await b.app.inject({ url: '/subscribe?channels=news', headers: { cookie: 'session=alice' } })
  t.match(again.json(), { statusCode: 403, message: 'authorization: refused by the app: withdrawn' })
  await waitUntil(async () => (await a.app.hub.client('alice')) === undefined, 5000, 'alice gone from presence')
})
