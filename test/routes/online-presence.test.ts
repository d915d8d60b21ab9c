import t from 'tap'
import { build, data, registryCount, waitUntil } from '../helper.js'
import type { SseClient } from '../sse-client.js'

/** The clientIds of every `online-presence` event a connection got, in order. */
function lists (client: SseClient): string[][] {
  return client.ofType('online-presence').map((message) => JSON.parse(data(message).payload))
}

t.test('presence=1: the list once on connect, then on every change of the set of clientIds', async (t) => {
  const hub = await build(t, { presenceInterval: 50 })
  const alice = await hub.subscribe('/subscribe?channels=a&clientId=alice&presence=1')
  await alice.waitFor((c) => c.ofType('online-presence').length === 1, 5000, 'the list on connect')
  t.same(alice.messages.map((m) => m.event), ['registered', 'lastEvent', 'online-presence'], 'after the opening frames')
  const [first] = alice.ofType('online-presence')
  t.same(data(first), { type: 'online-presence', payload: '["alice"]' }, 'the payload is a JSON string, as in the original')
  t.equal(first.id, undefined, 'no id: it must not move the resume position')

  const bob = await hub.subscribe('/subscribe?channels=b&clientId=bob')
  const quiet = await hub.subscribe('/subscribe?channels=a&clientId=quiet&presence=0')
  await alice.waitFor((c) => lists(c).some((list) => list.length === 3), 5000, 'bob and quiet')
  t.same(lists(alice).at(-1), ['alice', 'bob', 'quiet'])

  // A second tab of bob does not change the set: the next update is carol's, with nothing before it.
  const count = lists(alice).length
  const bobTab = await hub.subscribe('/subscribe?channels=c&clientId=bob&presence=true')
  await bobTab.waitFor((c) => c.ofType('online-presence').length === 1, 5000, 'the list for the second tab')
  t.same(lists(bobTab), [['alice', 'bob', 'quiet']], 'presence=true works too, and gets the current list at once')
  const carol = await hub.subscribe('/subscribe?channels=a&clientId=carol')
  await alice.waitFor((c) => lists(c).length === count + 1, 5000, 'carol')
  t.same(lists(alice).at(-1), ['alice', 'bob', 'quiet', 'carol'])

  carol.close()
  await alice.waitFor((c) => lists(c).length === count + 2, 5000, 'carol leaving')
  t.same(lists(alice).at(-1), ['alice', 'bob', 'quiet'])
  await bobTab.waitFor((c) => lists(c).length === 3, 5000, 'the same updates on the second tab')
  t.same(bob.ofType('online-presence'), [], 'nothing without presence=1')
  t.same(quiet.ofType('online-presence'), [], 'nothing with presence=0')
})

t.test('a bad presence flag is a 400', async (t) => {
  const hub = await build(t)
  for (const value of ['yes', '2', '']) {
    const res = await hub.app.inject(`/subscribe?channels=a&presence=${value}`)
    t.equal(res.statusCode, 400)
    t.match(res.json(), { code: 'SSE_HUB_BAD_PRESENCE', message: `presence: ${JSON.stringify(value)} is not 1, true, 0 or false` })
  }
})

t.test('a burst of 500 connects is coalesced to a few updates', async (t) => {
  const presenceInterval = 200
  const hub = await build(t, { presenceInterval })
  const follower = await hub.subscribe('/subscribe?channels=watch&clientId=follower&presence=1')
  await follower.waitFor((c) => c.ofType('online-presence').length === 1, 5000, 'the first list')

  const started = Date.now()
  const burst = await Promise.all(Array.from({ length: 500 }, (_, i) => hub.subscribe(`/subscribe?channels=burst&clientId=b${i}`)))
  await waitUntil(async () => (await registryCount(hub.app.hub)).clients === 501, 10000, '501 clients')
  const duration = Date.now() - started
  await follower.waitFor((c) => lists(c).at(-1)?.length === 501, 5000, 'the list of all 501')
  await Promise.all(burst.map((client) => client.waitForCount(2)))

  const updates = lists(follower).length - 1
  const bound = 2 + Math.ceil(duration / presenceInterval)
  t.ok(updates >= 1 && updates <= bound, `${updates} updates for a burst of ${duration} ms (bound ${bound})`)
  t.same([...lists(follower).at(-1) as string[]].sort(), ['follower', ...burst.map((_, i) => `b${i}`)].sort())
})
