import t from 'tap'
import { StreamExpiry } from '../../lib/core/stream-expiry.js'
import { build, data, waitUntil } from '../helper.js'
import { keys, mint } from './keys.js'

// A subscriber stream lives as long as its JWT: it ends within a second of the token's `exp`, and
// the client comes back with a fresh token and resumes from its last event.

const grant = { subscribe: ['room*'] }
const seconds = (from: number): number => Math.floor(from / 1000)

t.test('a stream ends when its token expires, one without exp stays, and the client resumes with a new token', async (t) => {
  const hub = await build(t, { subscribeAuth: true, jwtSecret: keys.secret })
  // Two seconds from the next whole second, so that the stream is open a while before it ends.
  const exp = seconds(Date.now()) + 3
  const expiring = await hub.subscribe('/subscribe?channels=room1', { headers: { authorization: `Bearer ${mint(keys.secret, { sub: 'alice', exp, hub: grant })}` } })
  const lasting = await hub.subscribe('/subscribe?channels=room1', { headers: { authorization: `Bearer ${mint(keys.secret, { sub: 'bob', hub: grant })}` } })
  t.equal(expiring.status, 200)
  await expiring.waitForCount(2)
  await lasting.waitForCount(2)
  const { ids } = (await hub.publish({ events: [{ channelName: 'room1', type: 'before', payload: 1 }] })).json
  await expiring.waitFor((client) => client.ofType('before').length === 1)

  await expiring.waitForEnd(6000)
  t.ok(Date.now() >= exp * 1000, 'not before exp')
  t.equal(expiring.lastEventId, ids[0], 'the last event came before the end')
  t.notOk(lasting.ended, 'the stream of a token without exp is still open')
  await waitUntil(() => hub.app.hub.connectionCount === 1, 5000, 'one stream left')

  // Missed while it was away, then back with a new token and its Last-Event-ID.
  const missed = (await hub.publish({ events: [{ channelName: 'room1', type: 'while', payload: 2 }] })).json
  const again = await hub.subscribe('/subscribe?channels=room1', {
    headers: { authorization: `Bearer ${mint(keys.secret, { sub: 'alice', exp: seconds(Date.now()) + 60, hub: grant })}`, 'last-event-id': ids[0] }
  })
  await again.waitForCount(2)
  t.same(JSON.parse(data(again.ofType('registered')[0]).payload), { clientId: 'alice', resumed: true })
  t.equal(again.messages[1].id, missed.ids[0], 'the missed event, replayed')
  t.notOk(again.ended)

  // An expired token is a 401, before any stream.
  const stale = await hub.subscribe('/subscribe?channels=room1', { headers: { authorization: `Bearer ${mint(keys.secret, { sub: 'alice', exp: seconds(Date.now()) - 1, hub: grant })}` } })
  t.equal(stale.status, 401)
})

t.test('StreamExpiry: streams end in the second they expire, forgotten ones never, and the timer runs only while needed', async (t) => {
  const expiry = new StreamExpiry<{ close (reason: 'shutdown'): void, ended: boolean }>()
  const stream = () => ({ ended: false, close () { this.ended = true } })
  const now = Date.now()
  const [soon, later, forgotten] = [stream(), stream(), stream()]
  expiry.add(soon, now + 1000)
  expiry.add(later, now + 2000)
  expiry.add(forgotten, now + 1000)
  expiry.forget(forgotten)
  t.equal(expiry.size, 2)
  await waitUntil(() => soon.ended, 4000, 'the first stream to end')
  t.notOk(later.ended, 'the later one is still open')
  t.ok(Date.now() >= now + 1000, 'not before its expiry')
  await waitUntil(() => later.ended, 4000, 'the second stream to end')
  t.notOk(forgotten.ended, 'a forgotten stream is left alone')
  t.equal(expiry.size, 0)
  t.equal((expiry as unknown as { timer: unknown }).timer, undefined, 'no timer while no stream expires')
})
