import t from 'tap'
import { build } from './helper.js'
import type { SseClient } from './sse-client.js'

/** The times (ms) at which each chunk of a stream arrived. */
function arrivals (client: SseClient): number[] {
  const times: number[] = []
  client.response.on('data', () => times.push(Date.now()))
  return times
}

t.test('no stream stays silent longer than 1.25 heartbeat intervals, and none gets a heartbeat before one interval', async (t) => {
  const heartbeatInterval = 800
  const hub = await build(t, { heartbeatInterval })
  // Streams opened at ten points spread over one interval: whatever the phase of the hub's timer,
  // one of them wrote its opening frames just after a tick.
  const streams: Array<{ client: SseClient, times: number[] }> = []
  for (let i = 0; i < 10; i++) {
    const client = await hub.subscribe(`/subscribe?channels=quiet&clientId=c${i}`)
    const times = arrivals(client)
    times.push(Date.now())
    streams.push({ client, times })
    await new Promise((resolve) => setTimeout(resolve, heartbeatInterval / 10))
  }
  await new Promise((resolve) => setTimeout(resolve, 3.5 * heartbeatInterval))

  let longest = 0
  let shortest = Infinity
  for (const { client, times } of streams) {
    t.ok(client.comments.length >= 2, `heartbeats arrived: ${client.comments.length}`)
    for (let i = 1; i < times.length; i++) {
      longest = Math.max(longest, times[i] - times[i - 1])
      shortest = Math.min(shortest, times[i] - times[i - 1])
    }
  }
  t.ok(longest <= 1.25 * heartbeatInterval + 100, `longest silence ${longest} ms (interval ${heartbeatInterval})`)
  t.ok(shortest >= heartbeatInterval - 50, `shortest silence ${shortest} ms`)
})
