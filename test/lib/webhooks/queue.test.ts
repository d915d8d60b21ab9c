import t from 'tap'
import type { PresenceChange } from '../../../lib/registry/registry.js'
import { eventsOf } from '../../../lib/webhooks/events.js'
import { WebhookQueue } from '../../../lib/webhooks/queue.js'
import { summary } from '../../webhook-receiver.js'

const join = (clientId: string, channels: string[], at: number, occupancy = channels): PresenceChange =>
  ({ join: true, clientId, whole: true, changed: channels, channels, occupancy, at })
const leave = (clientId: string, channels: string[], at: number, occupancy = channels): PresenceChange =>
  ({ join: false, clientId, whole: true, changed: channels, channels: [], occupancy, at })

function queueOf (debounce: number, changes: PresenceChange[], max = 1000): WebhookQueue {
  const queue = new WebhookQueue(debounce, max)
  changes.forEach((change, i) => { queue.push(eventsOf(change, i + 1), i + 1) })
  return queue
}

t.test('a change gives the client\'s event, then one per channel occupied or vacated, with ids made of its time, number and place', async (t) => {
  const events = eventsOf(join('ann', ['b', 'a'], 1_700_000_000_000, ['a']), 7).map((queued) => queued.event)
  t.same(events, [
    { id: `${(1_700_000_000_000).toString(36)}-7-0`, type: 'client.joined', time: '2023-11-14T22:13:20.000Z', clientId: 'ann', channels: ['a', 'b'] },
    { id: `${(1_700_000_000_000).toString(36)}-7-1`, type: 'channel.occupied', time: '2023-11-14T22:13:20.000Z', channel: 'a' }
  ])
  t.same(eventsOf(join('ann', ['b', 'a'], 1_700_000_000_000, ['a']), 7).map((queued) => queued.event.id), events.map((event) => event.id), 'the same change read again: the same ids')
  const partial: PresenceChange = { join: false, clientId: 'ann', whole: false, changed: ['a'], channels: ['b'], occupancy: [], at: 1 }
  t.same(eventsOf(partial, 8), [], 'a tab closing while another stays on its channels: no event')
})

t.test('a leave undone within the debounce sends neither event; one undone later sends both', async (t) => {
  const reload = queueOf(3000, [join('ann', ['a'], 0), leave('ann', ['a'], 10_000), join('ann', ['a'], 12_000)])
  t.same(summary(reload.take(100, 20_000).map((queued) => queued.event)), ['client.joined ann', 'channel.occupied a'], 'the reload left no trace')
  t.equal(reload.size, 0)
  const away = queueOf(3000, [leave('ann', ['a'], 10_000), join('ann', ['a'], 14_000)])
  t.same(summary(away.take(100, 20_000).map((queued) => queued.event)), ['client.left ann', 'channel.vacated a', 'client.joined ann', 'channel.occupied a'])
  const moved = queueOf(3000, [leave('ann', ['a'], 10_000), join('ann', ['b'], 11_000)])
  t.same(summary(moved.take(100, 20_000).map((queued) => queued.event)), ['channel.vacated a', 'channel.occupied b'], 'back on another channel: the client did not leave, the channels changed')
})

t.test('a leave waits for the debounce, and what comes after it waits behind it: events go in order', async (t) => {
  const queue = queueOf(3000, [join('ann', ['a'], 0), leave('ann', ['a'], 1000), join('bob', ['b'], 2000)])
  t.equal(queue.readyIn(2000), 0)
  t.same(summary(queue.take(100, 2000).map((queued) => queued.event)), ['client.joined ann', 'channel.occupied a'])
  t.equal(queue.readyIn(2000), 2000, 'the leave goes 3 s after it was made')
  t.same(queue.take(100, 2000), [], 'bob waits behind ann\'s leave')
  t.same(summary(queue.take(100, 4000).map((queued) => queued.event)), ['client.left ann', 'channel.vacated a', 'client.joined bob', 'channel.occupied b'])
  t.same(summary(queueOf(3000, [leave('ann', ['a'], 1000)]).take(100, 0, true).map((queued) => queued.event)), ['client.left ann', 'channel.vacated a'], 'at a stop, everything goes')
})

t.test('batches are cut at the limit; the settled change is the last one all of whose events left', async (t) => {
  const queue = queueOf(0, Array.from({ length: 60 }, (_, i) => join(`c${i}`, [`ch${i}`], i)))
  t.equal(queue.size, 120)
  t.equal(queue.take(100, 100).length, 100)
  t.equal(queue.settledSeq, 50, 'change 51 gave 1 of its 2 events: resumed from it')
  t.equal(queue.take(100, 100).length, 20)
  t.equal(queue.settledSeq, 60)
  t.equal(queue.readyIn(100), undefined)
})

t.test('past the limit the oldest events are dropped and counted', async (t) => {
  const queue = queueOf(0, Array.from({ length: 10 }, (_, i) => join(`c${i}`, [], i)), 4)
  t.equal(queue.size, 4)
  t.equal(queue.dropped, 6)
  t.same(summary(queue.take(100, 100).map((queued) => queued.event)), ['client.joined c6', 'client.joined c7', 'client.joined c8', 'client.joined c9'])
})
