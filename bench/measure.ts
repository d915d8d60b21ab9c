/**
 * What the benchmark measures with: one clock shared by every process and thread, a latency
 * histogram that merges across workers, and the CPU time and memory of a process from /proc.
 */
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'

/**
 * Microseconds on CLOCK_MONOTONIC (what `process.hrtime` reads): one clock for every process
 * and thread on the machine, so a send time stamped by the publisher can be subtracted from a
 * receive time taken in any worker.
 */
export function nowUs (): number {
  const [s, ns] = process.hrtime()
  return s * 1e6 + Math.floor(ns / 1000)
}

/** Sub-buckets per power of two: values are kept within 1/128 (0.8 %). */
const SUB_BITS = 7
const SUB = 1 << SUB_BITS
/** Buckets for 0 .. 2^32-1 µs: exact below 256 µs, then 128 per power of two. */
export const HISTOGRAM_SIZE = (32 - SUB_BITS) * SUB + SUB

function bucketOf (us: number): number {
  const v = us <= 0 ? 0 : us >= 0xffffffff ? 0xffffffff : Math.floor(us)
  if (v < 2 * SUB) return v
  const e = 31 - Math.clz32(v)
  return (e - SUB_BITS) * SUB + (v >>> (e - SUB_BITS))
}

/** The middle of a bucket's range. */
function valueOf (bucket: number): number {
  if (bucket < 2 * SUB) return bucket
  const e = Math.floor(bucket / SUB) + SUB_BITS - 1
  const m = bucket - (e - SUB_BITS) * SUB
  const width = 2 ** (e - SUB_BITS)
  return m * width + (width - 1) / 2
}

/** A log-linear latency histogram in µs, mergeable by adding the counts. */
export class Histogram {
  counts = new Uint32Array(HISTOGRAM_SIZE)
  count = 0
  max = 0
  sum = 0

  add (us: number): void {
    this.counts[bucketOf(us)]++
    this.count++
    this.sum += us
    if (us > this.max) this.max = us
  }

  merge (other: HistogramData): void {
    for (let i = 0; i < HISTOGRAM_SIZE; i++) this.counts[i] += other.counts[i]
    this.count += other.count
    this.sum += other.sum
    if (other.max > this.max) this.max = other.max
  }

  reset (): void {
    this.counts.fill(0)
    this.count = 0
    this.max = 0
    this.sum = 0
  }

  /** The value (µs) under which `p` percent of the samples lie; NaN when empty. */
  percentile (p: number): number {
    if (this.count === 0) return NaN
    const rank = Math.max(1, Math.ceil(this.count * p / 100))
    let seen = 0
    for (let i = 0; i < HISTOGRAM_SIZE; i++) {
      seen += this.counts[i]
      if (seen >= rank) return Math.min(valueOf(i), this.max)
    }
    return this.max
  }

  data (): HistogramData {
    return { counts: this.counts.slice(), count: this.count, max: this.max, sum: this.sum }
  }
}

/** A histogram as it travels between workers (structured clone). */
export interface HistogramData {
  counts: Uint32Array
  count: number
  max: number
  sum: number
}

let clockTicks: number | undefined
function ticksPerSecond (): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      clockTicks = 100
    }
  }
  return clockTicks
}

/** Fields of /proc/<pid>/stat after the command name (which may contain spaces). */
function statFields (pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  } catch {
    return undefined
  }
}

/** User + system CPU seconds of a process (all its threads); 0 when it is gone. */
export function cpuSeconds (pid: number): number {
  const fields = statFields(pid)
  // After the name: state(3) ppid(4) ... utime(14) stime(15), numbered as in proc(5).
  if (fields === undefined) return 0
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond()
}

/** VmRSS of a process in KiB; 0 when it is gone. */
export function rssKiB (pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match === null ? 0 : Number(match[1])
  } catch {
    return 0
  }
}

/**
 * CPU seconds per core since boot, from /proc/stat: busy (user, nice, system, irq, softirq,
 * steal) and softirq alone. Compared with the processes' own CPU, busy shows what else ran on
 * the cores; softirq is network work (on loopback, mostly the receive path of what the process
 * on that core sent), which this kernel also charges to the process it interrupted.
 */
export function coreTimes (): { busy: number[], softirq: number[] } {
  const ticks = ticksPerSecond()
  const busy: number[] = []
  const softirqs: number[] = []
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const match = /^cpu(\d+) (.*)/.exec(line)
    if (match === null) continue
    const [user, nice, system, , , irq, softirq, steal] = match[2].trim().split(/\s+/).map(Number)
    busy[Number(match[1])] = (user + nice + system + irq + softirq + (steal ?? 0)) / ticks
    softirqs[Number(match[1])] = softirq / ticks
  }
  return { busy, softirq: softirqs }
}

/** The direct children of a process (nginx's workers). */
export function childPids (pid: number): number[] {
  const children: number[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const fields = statFields(Number(name))
    if (fields !== undefined && Number(fields[1]) === pid) children.push(Number(name))
  }
  return children
}

/** CPU seconds and RSS of a process together with its children. */
export function treeUsage (pid: number): { cpu: number, rssKiB: number } {
  const pids = [pid, ...childPids(pid)]
  return {
    cpu: pids.reduce((sum, p) => sum + cpuSeconds(p), 0),
    rssKiB: pids.reduce((sum, p) => sum + rssKiB(p), 0)
  }
}
