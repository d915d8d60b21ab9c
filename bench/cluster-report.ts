/**
 * The tables of the cluster scenarios (C1–C3), which set hub nodes sharing a Redis next to one
 * node with the memory broker, and the check of C1's targets.
 */
import type { LoadResult } from './load.js'
import { fmt, IDLE_ROWS, median, type Row, TRAFFIC_ROWS } from './report.js'

const MiB = 1024 * 1024

function total (values: number[]): number {
  return values.reduce((sum, value) => sum + value, 0)
}

/** Where the hub processes' and Redis's CPU went, after the servers' CPU as a whole. */
const CPU_ROWS: Row[] = [
  ['hub processes CPU, % of a core', (r) => total(r.nodes.map((node) => node.windowCpu)) / r.window.seconds * 100, 1],
  ['Redis CPU, % of a core', (r) => (r.store?.windowCpuShare ?? NaN) * 100, 1, false],
  ['Redis CPU per publish request, µs', (r) => (r.store?.windowCpu ?? NaN) / (r.window.requestsPerSecond * r.window.seconds) * 1e6, 1, false]
]

/** Per node: its subscribers and RSS per connection; then Redis's memory, the probes and integrity. */
function idleRows (nodes: number): Row[] {
  const perNode = Array.from({ length: nodes }, (_, i): Row[] => [
    [`node ${i + 1}: subscribers`, (r) => r.nodes[i]?.subscribers ?? NaN, 0, false],
    [`node ${i + 1}: RSS per connection, KiB`, (r) => r.nodes[i]?.perConnectionKiB ?? NaN, 2]
  ]).flat()
  return [
    ...IDLE_ROWS,
    ...perNode,
    ['Redis used_memory before, MiB', (r) => (r.store?.startBytes ?? NaN) / MiB, 2, false],
    ['Redis used_memory connected, MiB', (r) => (r.store?.connectedBytes ?? NaN) / MiB, 2, false],
    ['* Redis memory per client, bytes', (r) => r.store?.perClientBytes ?? NaN, 1, false],
    ['Redis CPU for the connects, s', (r) => r.store?.connectCpu ?? NaN, 2, false],
    ['* publish to last delivery, ms, median', (r) => median(r.probes.lastMs), 1],
    ['publish to last delivery, ms, worst', (r) => Math.max(...r.probes.lastMs), 1],
    ['publish to median delivery, ms, median', (r) => median(r.probes.medianMs), 1],
    ['lost', (r) => r.integrity.lost, 0, false],
    ['duplicates', (r) => r.integrity.duplicates, 0, false],
    ['reordered', (r) => r.integrity.reordered, 0, false]
  ]
}

/** The rows of a cluster scenario's table: those of the single server and what only a cluster has. */
export function clusterRows (idle: boolean, nodes: number): Row[] {
  if (idle) return idleRows(nodes)
  const at = TRAFFIC_ROWS.findIndex(([label]) => label === 'server CPU, % of a core') + 1
  return [...TRAFFIC_ROWS.slice(0, at), ...CPU_ROWS, ...TRAFFIC_ROWS.slice(at)]
}

/** A cluster's result and the one node's of the same scenario; undefined: the run failed or did not run. */
export interface Pair { cluster: LoadResult | undefined, single: LoadResult | undefined }

function verdict (met: boolean): string {
  return met ? 'met' : 'NOT met'
}

/**
 * C1's targets: p99 at 100 messages/s at most the one node's + 2 ms; deliveries per CPU-second
 * (hub processes and Redis) at least 0.8 of the one node's; nothing lost, doubled or reordered.
 */
export function clusterTargets (fanout: Pair, latency: Pair): string {
  const lines = ['C1 targets, 2 nodes + Redis against 1 node:']
  if (latency.cluster !== undefined && latency.single !== undefined) {
    const p99 = latency.cluster.latencyMs.p99
    const limit = latency.single.latencyMs.p99 + 2
    lines.push(`  p99 latency at 100 messages/s <= the node's + 2 ms: ${fmt(p99, 2)} ms, limit ${fmt(limit, 2)} ms: ${verdict(p99 <= limit)}`)
  } else {
    lines.push('  p99 latency: not measured (C1-latency did not run, or failed)')
  }
  if (fanout.cluster !== undefined && fanout.single !== undefined) {
    const ratio = fanout.cluster.window.deliveriesPerServerCpuSecond / fanout.single.window.deliveriesPerServerCpuSecond
    lines.push(`  deliveries per CPU-s >= 0.8 x the node's: ${fmt(fanout.cluster.window.deliveriesPerServerCpuSecond)} against ` +
      `${fmt(fanout.single.window.deliveriesPerServerCpuSecond)}, ${fmt(ratio, 2)} x: ${verdict(ratio >= 0.8)}`)
  } else {
    lines.push('  deliveries per CPU-s: not measured (C1-fanout did not run, or failed)')
  }
  const clusters = [fanout.cluster, latency.cluster].filter((r) => r !== undefined)
  if (clusters.length > 0) {
    const lost = total(clusters.map((r) => r.integrity.lost))
    const duplicates = total(clusters.map((r) => r.integrity.duplicates))
    const reordered = total(clusters.map((r) => r.integrity.reordered))
    lines.push(`  0 lost, doubled or reordered: ${lost} lost, ${duplicates} duplicates, ${reordered} reordered over ` +
      `${clusters.length} cluster run${clusters.length === 1 ? '' : 's'}: ${verdict(lost + duplicates + reordered === 0)}`)
  }
  return lines.join('\n')
}
