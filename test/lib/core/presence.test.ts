import t from 'tap'
import { resolveConfig } from '../../../lib/config/config.js'
import { silentLogger } from '../../../lib/base/logger.js'
import { Hub, STREAMS } from '../../../lib/core/hub.js'
import { openParts } from '../../../lib/core/parts.js'
import type { SseSink } from '../../../lib/wire/sink.js'
import { registryCount, waitUntil } from '../../helper.js'

/** A sink that keeps every Buffer it was handed, to check which frames are shared. */
class RecordingSink implements SseSink {
  readonly writes: Buffer[] = []
  writableLength = 0
  private readonly listeners: Array<() => void> = []
  open (text: string, frames: readonly Buffer[]): void { this.writes.push(Buffer.from(text), ...frames) }
  write (frame: Buffer): void { this.writes.push(frame) }
  cork (): void {}
  uncork (): void {}
  end (): void { this.closed() }
  destroy (): void { this.closed() }
  onClose (listener: () => void): void { this.listeners.push(listener) }
  closed (): void { for (const listener of this.listeners.splice(0)) listener() }
  ofEvent (event: string): Buffer[] { return this.writes.filter((frame) => frame.includes(`event: ${event}\n`)) }
}

t.test('a burst of N presence=1 connects builds the list a few times, one Buffer for everyone', async (t) => {
  const presenceInterval = 100
  const config = resolveConfig({ presenceInterval, maxConnections: 10000 })
  const hub = new Hub(config, await openParts(config, {}, silentLogger))
  t.teardown(() => hub.close())
  const sinks = Array.from({ length: 1000 }, () => new RecordingSink())
  const started = Date.now()
  for (const [i, sink] of sinks.entries()) {
    await hub[STREAMS].subscribe(sink, { channelNames: ['room'], clientId: `c${i}`, presence: true })
  }
  const duration = Date.now() - started
  const complete = (frame: Buffer | undefined): boolean => frame !== undefined && frame.includes('\\"c999\\"')
  await waitUntil(() => sinks.every((sink) => complete(sink.ofEvent('online-presence').at(-1))), 5000, 'every sink to get the full list')

  const built = new Set(sinks.flatMap((sink) => sink.ofEvent('online-presence')))
  const bound = 2 + Math.ceil(duration / presenceInterval)
  t.ok(built.size <= bound, `${built.size} lists built for 1000 connects in ${duration} ms (bound ${bound})`)
  const last = sinks[0].ofEvent('online-presence').at(-1)
  t.ok(sinks.every((sink) => sink.ofEvent('online-presence').at(-1) === last), 'the same Buffer went to every connection')
  const sent = sinks.reduce((sum, sink) => sum + sink.ofEvent('online-presence').length, 0)
  t.ok(sent <= 1000 * bound, `${sent} writes in all`)
})

t.test('watchers of everyone share one Buffer per loop turn', async (t) => {
  const config = resolveConfig()
  const hub = new Hub(config, await openParts(config, {}, silentLogger))
  t.teardown(() => hub.close())
  const watchers = Array.from({ length: 3 }, () => new RecordingSink())
  for (const sink of watchers) await hub[STREAMS].watchPresence(sink)
  const clients = Array.from({ length: 50 }, () => new RecordingSink())
  await Promise.all(clients.map((sink, i) => hub[STREAMS].subscribe(sink, { channelNames: ['a'], clientId: `c${i}` })))
  await waitUntil(() => watchers.every((sink) => sink.writes.join('').split('event: join').length === 51), 5000, 'fifty joins')
  t.ok(watchers[0].ofEvent('join').length < 50, `${watchers[0].ofEvent('join').length} writes for 50 joins`)
  t.ok(watchers[0].ofEvent('join').every((frame, i) => frame === watchers[1].ofEvent('join')[i] && frame === watchers[2].ofEvent('join')[i]),
    'the same Buffers for every watcher')
  t.same(await registryCount(hub), { clients: 50, connections: 50 }, 'watchers are no clients')
})
