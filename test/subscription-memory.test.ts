import { queryObjects } from 'node:v8'
import type { Socket } from 'node:net'
import { test } from 'tap'
import { build, rawSubscriber } from './helper.js'

/** A channel name of 128 characters, the longest allowed, of its own to `stream`. */
function channelName (stream: string, index: number): string {
  return `${stream}-${index}-`.padEnd(128, 'x')
}

function channelList (stream: string, count: number): string {
  return Array.from({ length: count }, (_, i) => channelName(stream, i)).join(',')
}

/** Objects alive after a full collection (v8 counts them on the heap, the way a heap snapshot would). */
function liveObjects (): number {
  return queryObjects(Object, { format: 'count' }) as number
}

// What a subscription must cost is its name and an index entry: a Set, a closure or a sorted
// index per channel would let one address fill the heap with streams on 64 long names each.
// Each count is a full collection and a walk of the heap (seconds under tap's loader), so one
// hub and four counts serve both cases.
test('a subscribe makes at most a small record per channel new to the hub, nothing per channel it joins', async (t) => {
  const hub = await build(t)
  const port = Number(new URL(hub.url).port)
  const sockets: Socket[] = []
  t.teardown(() => { for (const socket of sockets) socket.destroy() })
  const shared = channelList('shared', 64)
  // The first streams make what the hub makes once (compiled routes, pools); the second stream on
  // a channel makes its Sets, and from the third on a stream is one more entry in each.
  for (let i = 0; i < 3; i++) sockets.push(await rawSubscriber(port, `channels=${shared}`))

  const counts = [liveObjects()]
  for (const list of [channelName('one', 0), channelList('many', 64), shared]) {
    sockets.push(await rawSubscriber(port, `channels=${list}`))
    counts.push(liveObjects())
  }
  t.equal(hub.app.hub.connectionCount, 6, 'every stream is open')
  const [one, many, joined] = [1, 2, 3].map((i) => counts[i] - counts[i - 1])
  const perNewChannel = (many - one) / 63
  t.ok(perNewChannel < 1.5, `objects per extra channel new to the hub: ${perNewChannel.toFixed(2)} (one channel: ${one}, 64: ${many})`)
  const perJoinedChannel = (joined - one) / 63
  t.ok(perJoinedChannel < 0.5, `objects per extra channel joined: ${perJoinedChannel.toFixed(2)} (one channel: ${one}, 64: ${joined})`)
})
