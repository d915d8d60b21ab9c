/**
 * What a run prints: one line per load, the tables of a scenario, the integrity problems of a
 * result, and whether a cluster met the targets of C1.
 */
import type { LoadResult } from './load.js'

/** M1 prints the largest RSS of each such stretch of its window. */
export const RSS_STRETCH_SECONDS = 30

/** The largest RSS sample of each `RSS_STRETCH_SECONDS` of the window (samples are a second apart), MiB. */
export function rssStretches (result: LoadResult): string[] {
  const samples = result.memory.samplesKiB
  const stretches: string[] = []
  for (let i = 0; i < samples.length; i += RSS_STRETCH_SECONDS) {
    stretches.push(fmt(Math.max(...samples.slice(i, i + RSS_STRETCH_SECONDS)) / 1024, 1))
  }
  return stretches
}

/** Integrity problems of a run; '' when clean. */
export function problems (result: LoadResult): string {
  const i = result.integrity
  const found: string[] = []
  if (result.subscribers.failed > 0) found.push(`${result.subscribers.failed} subscribers failed to connect ${JSON.stringify(result.subscribers.failures)}`)
  if (i.lost > 0) found.push(`${i.lost} events lost on ${i.lossyStreams} streams`)
  if (i.duplicates > 0) found.push(`${i.duplicates} duplicates`)
  if (i.malformed > 0) found.push(`${i.malformed} malformed events`)
  if (i.dropped > 0) found.push(`${i.dropped} streams dropped`)
  if (i.publishErrors > 0) found.push(`${i.publishErrors} publish errors (${i.firstError})`)
  if (i.expected > 0 && result.window.deliveries === 0 && result.probes.lastMs.length === 0) found.push('no deliveries in the window')
  return found.join('; ')
}

export function oneLine (r: LoadResult, idle: boolean): string {
  if (idle) {
    const perNode = r.nodes.length > 1 ? ` (per node: ${r.nodes.map((node) => fmt(node.perConnectionKiB, 2)).join(', ')})` : ''
    const probes = r.probes.lastMs.length > 0 ? `, publish to last delivery ${r.probes.lastMs.map((ms) => fmt(ms, 1)).join(', ')} ms` : ''
    return `${r.subscribers.ready} held, ${fmt(r.connect.perSecond)} connects/s, ${fmt(r.memory.perConnectionKiB, 2)} KiB RSS per connection` +
      perNode + probes + (problems(r) === '' ? '' : ` [${problems(r)}]`)
  }
  const store = r.store === undefined ? '' : ` (Redis ${fmt(r.store.windowCpuShare * 100, 1)} % of a core)`
  return `${fmt(r.window.deliveriesPerSecond)} deliveries/s, ${fmt(r.window.deliveriesPerServerCpuSecond)} per server CPU-s${store}, ` +
    `p99 ${fmt(r.latencyMs.p99, 2)} ms, lost ${r.integrity.lost}` + (problems(r) === '' ? '' : ` [${problems(r)}]`)
}

export function fmt (value: number | undefined, digits = 0): string {
  if (value === undefined || !Number.isFinite(value)) return '-'
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

/** A table row: its label, the figure, its decimals, and false when a ratio of it means nothing. */
export type Row<T = LoadResult> = [label: string, pick: (r: T) => number, digits: number, ratio?: boolean]

export const TRAFFIC_ROWS: Row[] = [
  ['subscribers ready', (r) => r.subscribers.ready, 0, false],
  ['connects/s', (r) => r.connect.perSecond, 0],
  ['publish requests/s', (r) => r.window.requestsPerSecond, 0],
  ['publish requests per server CPU-s', (r) => r.window.requestsPerServerCpuSecond, 0],
  ['events published/s', (r) => r.window.eventsPerSecond, 0],
  ['deliveries/s', (r) => r.window.deliveriesPerSecond, 0],
  ['server CPU, % of a core', (r) => r.window.serverCpuShare * 100, 1],
  ['* deliveries per server CPU-s', (r) => r.window.deliveriesPerServerCpuSecond, 0],
  ['latency p50, ms', (r) => r.latencyMs.p50, 2],
  ['latency p99, ms', (r) => r.latencyMs.p99, 2],
  ['latency max, ms', (r) => r.latencyMs.max, 2],
  ['lost', (r) => r.integrity.lost, 0, false],
  ['duplicates', (r) => r.integrity.duplicates, 0, false],
  ['reordered', (r) => r.integrity.reordered, 0, false],
  ['streams dropped', (r) => r.integrity.dropped, 0, false],
  ['publish errors', (r) => r.integrity.publishErrors, 0, false],
  ['server RSS at window start, MiB', (r) => r.memory.windowStartKiB / 1024, 1],
  ['server RSS at window end, MiB', (r) => r.memory.windowEndKiB / 1024, 1],
  ['generator CPU, % of a core', (r) => r.window.generatorCpuShare * 100, 1],
  ['deliveries per generator read', (r) => r.window.deliveriesPerRead, 2],
  ['generator CPU / server CPU', (r) => r.window.generatorCpu / r.window.serverCpu, 2, false],
  ['core 0 busy, %', (r) => (r.window.coreBusyShare[0] ?? NaN) * 100, 1, false],
  ['core 0 softirq, %', (r) => (r.window.coreSoftirqShare[0] ?? NaN) * 100, 1, false],
  ['core 1 busy, %', (r) => (r.window.coreBusyShare[1] ?? NaN) * 100, 1, false],
  ['core 1 softirq, %', (r) => (r.window.coreSoftirqShare[1] ?? NaN) * 100, 1, false],
  ['other processes, % of a core', (r) => r.window.otherCpu / r.window.seconds * 100, 1, false]
]

export const IDLE_ROWS: Row[] = [
  ['subscribers held', (r) => r.subscribers.ready, 0],
  ['failed to connect', (r) => r.subscribers.failed, 0, false],
  ['connect time, s', (r) => r.connect.seconds, 2],
  ['connects/s', (r) => r.connect.perSecond, 0],
  ['server CPU for the connects, s', (r) => r.connect.serverCpu, 2],
  ['server CPU per connect, µs', (r) => r.connect.serverCpu / r.subscribers.ready * 1e6, 1],
  ['server RSS before, MiB', (r) => r.memory.startKiB / 1024, 1],
  ['server RSS connected, MiB', (r) => r.memory.connectedKiB / 1024, 1],
  ['* RSS per connection, KiB', (r) => r.memory.perConnectionKiB, 2],
  ['server RSS at the end, MiB', (r) => r.memory.windowEndKiB / 1024, 1],
  ['streams dropped', (r) => r.integrity.dropped, 0, false]
]

/** A column of a table: a result, or none when its run failed. */
export interface Column<T = LoadResult> { header: string, result: T | undefined }

/** One row per figure, one column per result and, with two, the first over the second headed `ratio`. */
export function table<T> (rows: Array<Row<T>>, columns: Array<Column<T>>, ratio: string): string {
  const withRatio = columns.length === 2
  const header = ['', ...columns.map((column) => column.header), ...withRatio ? [ratio] : []]
  const lines = rows.map(([label, pick, digits, hasRatio]) => {
    const values = columns.map(({ result }) => result === undefined ? undefined : pick(result))
    const cells = [label, ...values.map((value) => fmt(value, digits))]
    if (withRatio) {
      const [a, b] = values
      cells.push(hasRatio === false || a === undefined || b === undefined || b === 0 ? '' : fmt(a / b, 2))
    }
    return cells
  })
  const all = [header, ...lines]
  const widths = header.map((_, c) => Math.max(...all.map((row) => row[c].length)))
  return all.map((row) => row.map((cell, c) => c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c])).join('  ')).join('\n')
}

/** The cost scenarios' ratio: connect CPU, hub over floor (idle), or publishes per server CPU-second, hub over floor. */
export function floorRatio (idle: boolean, hub: LoadResult, floor: LoadResult): number {
  return idle ? hub.connect.serverCpu / floor.connect.serverCpu : hub.window.requestsPerServerCpuSecond / floor.window.requestsPerServerCpuSecond
}

/**
 * The verdict of alternated rounds (hub, floor, hub, floor, …): each round's ratio and their
 * median, which a machine whose speed drifts from one run to the next moves less than any one round.
 */
export function roundsLine (idle: boolean, pairs: Array<[LoadResult | undefined, LoadResult | undefined]>): string {
  const ratios = pairs.flatMap(([hub, floor]) => hub === undefined || floor === undefined ? [] : [floorRatio(idle, hub, floor)])
  if (ratios.length === 0) return 'hub/floor: every round failed'
  return `${idle ? 'connect CPU' : 'publishes per server CPU-s'}, hub/floor over ${ratios.length} alternated rounds: ` +
    `${ratios.map((ratio) => fmt(ratio, 2)).join(', ')}; median ${fmt(median(ratios), 2)}×`
}

/** The middle value (the mean of the two middle ones for an even count); NaN for none. */
export function median (values: number[]): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/** The cost scenarios' verdict: the hub's figure over the floor's, publishes per CPU-second or connect CPU. */
export function floorLine (idle: boolean, hub: LoadResult | undefined, floor: LoadResult | undefined): string {
  if (hub === undefined || floor === undefined) return 'hub/floor: a run failed'
  if (idle) {
    return `connect CPU: hub ${fmt(hub.connect.serverCpu, 2)} s, floor ${fmt(floor.connect.serverCpu, 2)} s for ` +
      `${fmt(hub.subscribers.ready)} and ${fmt(floor.subscribers.ready)} connects: hub/floor ${fmt(floorRatio(idle, hub, floor), 2)}×`
  }
  return `publishes per server CPU-s: hub ${fmt(hub.window.requestsPerServerCpuSecond)}, floor ${fmt(floor.window.requestsPerServerCpuSecond)}: ` +
    `hub/floor ${fmt(floorRatio(idle, hub, floor), 2)}×`
}
