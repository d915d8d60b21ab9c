import t from 'tap'
import { MemoryBroker } from '../../lib/memory-broker.js'

const event = (channelName: string, payload: number) => ({ channelName, type: 'n', payload })

t.test('expired events are dropped from channels nobody touches any more', async (t) => {
  const broker = new MemoryBroker({ historySize: 100, historyTtl: 30, sweepInterval: 20 })
  t.teardown(() => broker.close())
  const [first] = await broker.publish([event('idle', 1), event('idle', 2), event('other', 3)])
  t.equal(broker.retainedCount, 3)
  await new Promise((resolve) => setTimeout(resolve, 120))
  t.equal(broker.retainedCount, 0, 'swept without a publish or a resume on the channels')
  const start = await broker.startPoint(['idle'], first.id)
  t.equal(start.resumed, false, 'a resume from before the sweep is refused, not taken for "nothing missed"')
  t.same(start.resumed ? [] : start.lastEvents.map((last) => last?.payload), [2], 'the last event stays')
})

t.test('without an age limit nothing is swept', async (t) => {
  const broker = new MemoryBroker({ historySize: 100, historyTtl: 0, sweepInterval: 10 })
  t.teardown(() => broker.close())
  await broker.publish([event('a', 1)])
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(broker.retainedCount, 1)
})
