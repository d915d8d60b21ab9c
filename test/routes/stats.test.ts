import t from 'tap'
import { build, waitUntil } from '../helper.js'
import { bearer } from '../security/keys.js'

t.test('the counters of this process, as JSON', async (t) => {
  const hub = await build(t, { maxConnections: 3 })
  const empty = await hub.app.inject('/stats')
  t.equal(empty.statusCode, 200)
  t.same(empty.json(), {
    status: 'ok',
    connections: 0,
    clients: 0,
    channels: 0,
    published: 0,
    delivered: 0,
    replayed: 0,
    slowDisconnects: 0,
    refused: { draining: 0, 'max-connections': 0, 'rate-limit': 0, 'broker-down': 0, 'auth-unavailable': 0 }
  })

  const ann = await hub.subscribe('/subscribe?channels=a,b&clientId=ann')
  const tab = await hub.subscribe('/subscribe?channels=b&clientId=ann')
  await Promise.all([ann.waitForCount(3), tab.waitForCount(2)])
  const reply = await hub.publish({ events: [{ channelName: 'a', type: 'x', payload: 1 }, { channelName: 'b', type: 'x', payload: 2 }] })
  const firehose = await hub.subscribe('/firehose')
  await Promise.all([ann.waitForCount(5), tab.waitForCount(3)])
  const resumed = await hub.subscribe('/subscribe?channels=a', { headers: { 'last-event-id': reply.json.ids[0] } })
  t.equal(resumed.headers['x-sse-hub-refused'], 'max-connections')
  firehose.close()
  await waitUntil(() => hub.app.hub.connectionCount === 2, 5000, 'the firehose closed')
  const again = await hub.subscribe('/subscribe?channels=a,b', { headers: { 'last-event-id': reply.json.ids[0] } })
  await again.waitForCount(2)

  t.same((await hub.app.inject('/stats')).json(), {
    status: 'ok',
    connections: 3,
    clients: 2,
    channels: 2,
    published: 2,
    delivered: 3,
    replayed: 1,
    slowDisconnects: 0,
    refused: { draining: 0, 'max-connections': 1, 'rate-limit': 0, 'broker-down': 0, 'auth-unavailable': 0 }
  }, 'ann\'s two tabs are one client; the resumed stream got one event from history')

  hub.app.hub.drain()
  t.equal((await hub.app.inject('/stats')).json().status, 'draining')
})

t.test('a presence read: the token from the header or the query', async (t) => {
  const publishToken = 'stats-static-token-0123'
  const hub = await build(t, { publishToken, insecure: false })
  t.equal((await hub.app.inject('/stats')).statusCode, 401)
  t.equal((await hub.app.inject({ url: '/stats', headers: bearer(publishToken) })).statusCode, 200)
  t.equal((await hub.app.inject(`/stats?token=${publishToken}`)).statusCode, 200)
})
