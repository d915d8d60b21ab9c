/**
 * The setups of the HTTP/2 scenarios (H1–H3): a server (the hub or nginx + nchan) with or without
 * TLS, and how the subscribers reach it (HTTP/2 with 1 or 10 streams per session, HTTP/1.1 over
 * TLS, HTTP/1.1 in the clear); and the lines that compare them, run by run.
 */
import type { LoadResult } from './load.js'
import { fmt } from './report.js'
import type { Transport } from './tls.js'

export type TlsSetupName = 'hub-h2' | 'hub-h2x10' | 'hub-tls' | 'nchan-h2' | 'nchan-h2x10' | 'nchan-tls'

export interface TlsSetup {
  server: 'hub' | 'nchan'
  transport: Transport
  streamsPerSession: number
  /** Its column's header. */
  header: string
}

export const TLS_SETUPS: Record<TlsSetupName, TlsSetup> = {
  'hub-h2': { server: 'hub', transport: 'h2', streamsPerSession: 1, header: 'hub h2' },
  'hub-h2x10': { server: 'hub', transport: 'h2', streamsPerSession: 10, header: 'hub h2 ×10' },
  'hub-tls': { server: 'hub', transport: 'h1-tls', streamsPerSession: 1, header: 'hub h1 TLS' },
  'nchan-h2': { server: 'nchan', transport: 'h2', streamsPerSession: 1, header: 'nchan h2' },
  'nchan-h2x10': { server: 'nchan', transport: 'h2', streamsPerSession: 10, header: 'nchan h2 ×10' },
  'nchan-tls': { server: 'nchan', transport: 'h1-tls', streamsPerSession: 1, header: 'nchan h1 TLS' }
}

export function isTlsSetup (name: string): name is TlsSetupName {
  return Object.hasOwn(TLS_SETUPS, name)
}

/** A column's header: the setup's, or `hub h1` / `nchan h1` for the servers in the clear. */
export function headerOf (name: string): string {
  return isTlsSetup(name) ? TLS_SETUPS[name].header : `${name} h1`
}

type Results = Map<string, LoadResult | undefined>

/** `a/b` of a figure of two setups, when both ran. */
function ratio (results: Results, a: string, b: string, pick: (r: LoadResult) => number): string | undefined {
  const x = results.get(a)
  const y = results.get(b)
  if (x === undefined || y === undefined) return undefined
  return `${headerOf(a)}/${headerOf(b)} ${fmt(pick(x) / pick(y), 2)}×`
}

function ratios (results: Results, pairs: Array<[string, string]>, pick: (r: LoadResult) => number): string {
  return pairs.map(([a, b]) => ratio(results, a, b, pick)).filter((line) => line !== undefined).join(', ')
}

/**
 * The comparisons of an H scenario, from the results of one run of it: per CPU-second and the
 * DATA frames (HTTP/1.1: socket reads) per stream per batch; or, idle, memory and connect CPU.
 */
export function tlsSummary (results: Results, idle: boolean, batch: number): string {
  const ran = [...results.entries()].filter((entry): entry is [string, LoadResult] => entry[1] !== undefined)
  if (idle) {
    const pick = (r: LoadResult): number => r.memory.perConnectionKiB
    return [
      `RSS per stream, KiB: ${ran.map(([name, r]) => `${headerOf(name)} ${fmt(pick(r), 2)}`).join(', ')}`,
      `  ${ratios(results, [['hub-h2', 'hub-tls'], ['hub-h2x10', 'hub-tls'], ['hub-h2', 'hub'], ['hub-tls', 'hub'], ['hub-h2', 'nchan-h2'], ['hub-h2x10', 'nchan-h2x10']], pick)}`,
      `server CPU per connect, µs: ${ran.map(([name, r]) => `${headerOf(name)} ${fmt(r.connect.serverCpu / r.subscribers.ready * 1e6, 1)}`).join(', ')}`
    ].join('\n')
  }
  const pick = (r: LoadResult): number => r.window.deliveriesPerServerCpuSecond
  // Reads per (stream, batch) pair, each pair `batch` deliveries: the batch's events are all on one channel.
  const frames = (r: LoadResult): number => batch / r.window.deliveriesPerRead
  return [
    `deliveries per server CPU-s: ${ran.map(([name, r]) => `${headerOf(name)} ${fmt(pick(r))}`).join(', ')}`,
    `  ${ratios(results, [['hub-h2', 'hub-tls'], ['hub-h2x10', 'hub-tls'], ['hub-h2', 'hub'], ['hub-tls', 'hub'], ['hub-h2', 'nchan-h2'], ['hub-tls', 'nchan-tls'], ['nchan-h2', 'nchan-tls']], pick)}`,
    `reads (h2: DATA frames) per stream per published batch of ${batch}: ${ran.map(([name, r]) => `${headerOf(name)} ${fmt(frames(r), 2)}`).join(', ')}`
  ].join('\n')
}
