/**
 * What A2 does while the streams are open: the app withdraws every grant and the hold lasts until
 * the hub ended every stream, or the app grants on and the hub renews; and what each shows.
 */
import type { AppStats } from './auth-app.js'
import type { HeldStreams, HoldOutcome } from './load.js'
import { coreTimes, cpuSeconds, nowUs, treeUsage } from './measure.js'
import type { Server } from './servers.js'

/** What the hub counted of its calls to the app (`/metrics`): calls, answers without one, and the seconds its calls took in all. */
export interface HubAuthCounts { calls: number, cacheHits: number, callSeconds: number }

/** The app's revocation of every stream (A2, `withdraw`). */
export interface Revocation {
  open: number
  /** Calls before the withdrawal: first grants and renewals. */
  callsBefore: number
  /** Calls after it, all refused. */
  callsAfter: number
  ended: number
  /** Seconds from the withdrawal to the first and to the last stream ended. */
  firstEnd: number
  lastEnd: number
  /** Seconds from the expiry of the last grant given to the last stream ended. */
  lastExpiryToLastEnd: number
  /** Per stream, ms from its grant's expiry to its end. */
  lagMs: { p50: number, p99: number, max: number, min: number }
  hubCpu: number
  appCpu: number
  /** Core 0's busy seconds (the hub's and the app's core), from the withdrawal to the last end. */
  core0Busy: number
  /** Seconds from the withdrawal to the last end as the hold saw it (it looks every 100 ms). */
  seconds: number
  /** Calls per second from the withdrawal on. */
  perSecond: number[]
}

/** The app granting on (A2, `keep`). */
export interface Renewals {
  seconds: number
  calls: number
  /** Renewals the hub asked for in the hold: calls, and answers it had kept or shared. */
  asked: number
  /** The hub's calls in the hold, and the seconds they took in all, as it timed them. */
  hubCalls: number
  hubCallSeconds: number
  ended: number
  hubCpu: number
  appCpu: number
  /** Core 0's busy seconds (the hub's and the app's core) in the hold. */
  core0Busy: number
  perSecond: number[]
}

/** The bench's app, running. */
export interface AuthApp {
  url: string
  pid: number
  stats (expiries?: boolean): Promise<AppStats>
  /** Withdraws every grant; the app's stats at that moment. */
  withdraw (): Promise<AppStats>
  stop (): Promise<void>
}

/** The hub to measure: its process, and where to read its metrics. */
export type HubProcess = Pick<Server, 'pid' | 'host' | 'port'>

/** The hub's counters of its calls to `authUrl`. */
export async function hubAuthCounts (hub: HubProcess): Promise<HubAuthCounts> {
  const text = await (await fetch(`http://${hub.host}:${hub.port}/metrics`)).text()
  const value = (pattern: RegExp): number => [...text.matchAll(pattern)].reduce((total, match) => total + Number(match[1]), 0)
  return {
    calls: value(/^sse_hub_auth_calls_total\{[^}]*\} (\S+)$/gm),
    cacheHits: value(/^sse_hub_auth_cache_hits_total (\S+)$/gm),
    callSeconds: value(/^sse_hub_auth_call_duration_seconds_sum (\S+)$/gm)
  }
}

async function sleep (ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}

/** The app's calls per second from the second `fromUs` falls in. */
function callsPerSecondFrom (stats: AppStats, fromUs: number): number[] {
  return stats.perSecond.slice(Math.max(0, Math.floor((fromUs - stats.startUs) / 1e6)))
}

/**
 * A2 `withdraw`: the app withdraws every grant at once; the hold lasts until every stream ended
 * (or until 30 s past the last grant's expiry), then says when each ended against its grant's expiry.
 */
export function revocationHold (hub: HubProcess, app: AuthApp, figures: { revocation?: Revocation }): (streams: HeldStreams) => Promise<HoldOutcome> {
  return async (streams) => {
    const before = await streams.ended()
    const [hub0, app0, core0] = [treeUsage(hub.pid).cpu, cpuSeconds(app.pid), coreTimes().busy[0] ?? NaN]
    const stats0 = await app.withdraw()
    const { withdrawnUs } = stats0
    const deadline = Date.now() + (Math.max(0, (stats0.lastExpiryUs - nowUs()) / 1000)) + 30_000
    let now = before
    while (now.ended < streams.ready && Date.now() < deadline) {
      await sleep(100)
      now = await streams.ended()
    }
    const [hub1, app1, core1, t1] = [treeUsage(hub.pid).cpu, cpuSeconds(app.pid), coreTimes().busy[0] ?? NaN, nowUs()]
    const last = await streams.ended(true)
    const stats1 = await app.stats(true)
    const lags: number[] = []
    last.times?.forEach((endUs, i) => {
      const expiresUs = stats1.expiries?.[i] ?? 0
      if (endUs > 0 && expiresUs > 0) lags.push((endUs - expiresUs) / 1000)
    })
    lags.sort((a, b) => a - b)
    const at = (p: number): number => lags.length === 0 ? NaN : lags[Math.min(lags.length - 1, Math.ceil(lags.length * p / 100) - 1)]
    const calls = (stats: AppStats): number => stats.calls.allowed + stats.calls.refused + stats.calls.unknown
    figures.revocation = {
      open: streams.ready - before.ended,
      callsBefore: calls(stats0),
      callsAfter: calls(stats1) - calls(stats0),
      ended: last.ended - before.ended,
      firstEnd: last.firstUs > withdrawnUs ? (last.firstUs - withdrawnUs) / 1e6 : NaN,
      lastEnd: (last.lastUs - withdrawnUs) / 1e6,
      lastExpiryToLastEnd: (last.lastUs - stats0.lastExpiryUs) / 1e6,
      lagMs: { p50: at(50), p99: at(99), max: lags.at(-1) ?? NaN, min: lags[0] ?? NaN },
      hubCpu: hub1 - hub0,
      appCpu: app1 - app0,
      core0Busy: core1 - core0,
      seconds: (t1 - withdrawnUs) / 1e6,
      perSecond: callsPerSecondFrom(stats1, withdrawnUs)
    }
    return { endedOnPurpose: last.ended - before.ended }
  }
}

/** A2 `keep`: the app grants on for `duration` seconds; the hub renews every grant as it runs out. */
export function renewalHold (hub: HubProcess, app: AuthApp, duration: number, figures: { renewals?: Renewals }): (streams: HeldStreams) => Promise<HoldOutcome> {
  return async (streams) => {
    const before = await streams.ended()
    const [stats0, counts0] = [await app.stats(), await hubAuthCounts(hub)]
    const [hub0, app0, core0, t0] = [treeUsage(hub.pid).cpu, cpuSeconds(app.pid), coreTimes().busy[0] ?? NaN, nowUs()]
    await sleep(duration * 1000)
    const [hub1, app1, core1, t1] = [treeUsage(hub.pid).cpu, cpuSeconds(app.pid), coreTimes().busy[0] ?? NaN, nowUs()]
    const [stats1, counts1] = [await app.stats(), await hubAuthCounts(hub)]
    const after = await streams.ended()
    const calls = (stats: AppStats): number => stats.calls.allowed + stats.calls.refused + stats.calls.unknown
    figures.renewals = {
      seconds: (t1 - t0) / 1e6,
      calls: calls(stats1) - calls(stats0),
      asked: counts1.calls + counts1.cacheHits - counts0.calls - counts0.cacheHits,
      hubCalls: counts1.calls - counts0.calls,
      hubCallSeconds: counts1.callSeconds - counts0.callSeconds,
      ended: after.ended - before.ended,
      hubCpu: hub1 - hub0,
      appCpu: app1 - app0,
      core0Busy: core1 - core0,
      perSecond: callsPerSecondFrom(stats1, t0)
    }
    return { endedOnPurpose: 0 }
  }
}
