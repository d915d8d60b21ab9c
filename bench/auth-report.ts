/**
 * What the auth scenarios print: A1's table of the connects per setup and the ratios between
 * them (the callback against JWT, JWT against no auth), A2's revocation and renewal figures.
 */
import { type AuthFigures, authHeaderOf } from './auth-scenarios.js'
import type { LoadResult } from './load.js'
import { type Column, fmt, type Row, table } from './report.js'

/** A setup's run: its load's result and what the hub and the app counted. */
export interface AuthRun { result: LoadResult, auth?: AuthFigures }

const perConnect = (cpu: number, r: LoadResult): number => cpu / r.subscribers.ready * 1e6
const hubAndApp = (r: LoadResult): number => r.connect.serverCpu + r.connect.appCpu

const CONNECT_ROWS: Array<Row<AuthRun>> = [
  ['subscribers connected', ({ result: r }) => r.subscribers.ready, 0],
  ['failed to connect', ({ result: r }) => r.subscribers.failed, 0],
  ['connect time, s', ({ result: r }) => r.connect.seconds, 2],
  ['connects/s', ({ result: r }) => r.connect.perSecond, 0],
  ['hub CPU for the connects, s', ({ result: r }) => r.connect.serverCpu, 2],
  ['hub CPU per connect, µs', ({ result: r }) => perConnect(r.connect.serverCpu, r), 1],
  ['* connects per hub CPU-s', ({ result: r }) => r.subscribers.ready / r.connect.serverCpu, 0],
  ['app CPU for the connects, s', ({ result: r }) => r.connect.appCpu, 2],
  ['hub + app CPU per connect, µs', ({ result: r }) => perConnect(hubAndApp(r), r), 1],
  ['connects per hub + app CPU-s', ({ result: r }) => r.subscribers.ready / hubAndApp(r), 0],
  ['* to registered p50, ms', ({ result: r }) => r.connect.latencyMs.ready.p50, 2],
  ['* to registered p99, ms', ({ result: r }) => r.connect.latencyMs.ready.p99, 2],
  ['to registered max, ms', ({ result: r }) => r.connect.latencyMs.ready.max, 2],
  ['calls to the app', ({ auth }) => callsOf(auth), 0],
  ['answered from the hub\'s cache', ({ auth }) => auth?.hub?.cacheHits ?? NaN, 0],
  ['other processes, % of a core', ({ result: r }) => r.connect.otherCpu / r.connect.seconds * 100, 1],
  ['streams dropped', ({ result: r }) => r.integrity.dropped, 0]
]

function callsOf (auth: AuthFigures | undefined): number {
  const calls = auth?.app
  return calls === undefined ? NaN : calls.allowed + calls.refused + calls.unknown
}

/** `a/b` of the connect figures of two setups, when both ran. */
function ratioLine (runs: Map<string, AuthRun | undefined>, a: string, b: string): string | undefined {
  const x = runs.get(a)?.result
  const y = runs.get(b)?.result
  if (x === undefined || y === undefined) return undefined
  const ratio = (pick: (r: LoadResult) => number): string => `${fmt(pick(x) / pick(y), 2)}×`
  return `${authHeaderOf(a)}/${authHeaderOf(b)}: hub CPU per connect ${ratio((r) => r.connect.serverCpu / r.subscribers.ready)}, ` +
    `connects per hub CPU-s ${ratio((r) => r.subscribers.ready / r.connect.serverCpu)}, ` +
    `hub + app CPU per connect ${ratio((r) => hubAndApp(r) / r.subscribers.ready)}, ` +
    `to registered p50 ${ratio((r) => r.connect.latencyMs.ready.p50)}, p99 ${ratio((r) => r.connect.latencyMs.ready.p99)}`
}

/** One column per setup; with two, the ratio column is headed by their names. */
function columnsOf (runs: Map<string, AuthRun | undefined>): { columns: Array<Column<AuthRun>>, ratio: string } {
  const columns = [...runs.entries()].map(([name, run]) => ({ header: authHeaderOf(name), result: run }))
  return { columns, ratio: columns.map((column) => column.header).join('/') }
}

/** A1: the table of the connects, one column per setup, and the ratios between setups. */
export function connectSummary (runs: Map<string, AuthRun | undefined>): string {
  const { columns, ratio } = columnsOf(runs)
  const pairs: Array<[string, string]> = [['hub-app', 'hub-jwt'], ['hub-jwt', 'hub'], ['hub-app', 'hub'], ['hub-app-shared', 'hub-jwt-shared'], ['hub-jwt-shared', 'hub']]
  const lines = pairs.map(([a, b]) => ratioLine(runs, a, b)).filter((line) => line !== undefined)
  return [table(CONNECT_ROWS, columns, ratio), ...lines].join('\n')
}

/** Seconds of CPU over seconds of time, in % of a core. */
function share (cpu: number | undefined, seconds: number | undefined): number {
  return (cpu ?? NaN) / (seconds ?? NaN) * 100
}

/** What else ran on the hub's and the app's core. */
function others (figures: { core0Busy: number, hubCpu: number, appCpu: number } | undefined): number {
  return figures === undefined ? NaN : figures.core0Busy - figures.hubCpu - figures.appCpu
}

const REVOCATION_ROWS: Array<Row<AuthRun>> = [
  ['streams open at the withdrawal', ({ auth }) => auth?.revocation?.open ?? NaN, 0],
  ['calls before it (grants and renewals)', ({ auth }) => auth?.revocation?.callsBefore ?? NaN, 0],
  ['* calls after it', ({ auth }) => auth?.revocation?.callsAfter ?? NaN, 0],
  ['streams ended after it', ({ auth }) => auth?.revocation?.ended ?? NaN, 0],
  ['withdrawal to the first end, s', ({ auth }) => auth?.revocation?.firstEnd ?? NaN, 2],
  ['* withdrawal to the last end, s', ({ auth }) => auth?.revocation?.lastEnd ?? NaN, 2],
  ['* last grant\'s expiry to the last end, s', ({ auth }) => auth?.revocation?.lastExpiryToLastEnd ?? NaN, 2],
  ['a stream\'s expiry to its end, min, ms', ({ auth }) => auth?.revocation?.lagMs.min ?? NaN, 0],
  ['a stream\'s expiry to its end, p50, ms', ({ auth }) => auth?.revocation?.lagMs.p50 ?? NaN, 0],
  ['a stream\'s expiry to its end, p99, ms', ({ auth }) => auth?.revocation?.lagMs.p99 ?? NaN, 0],
  ['a stream\'s expiry to its end, max, ms', ({ auth }) => auth?.revocation?.lagMs.max ?? NaN, 0],
  ['hub CPU, withdrawal to the last end, s', ({ auth }) => auth?.revocation?.hubCpu ?? NaN, 2],
  ['hub CPU per stream ended, µs', ({ auth }) => (auth?.revocation?.hubCpu ?? NaN) / (auth?.revocation?.ended ?? NaN) * 1e6, 1],
  ['app CPU, withdrawal to the last end, s', ({ auth }) => auth?.revocation?.appCpu ?? NaN, 2],
  ['core 0 busy, %', ({ auth }) => share(auth?.revocation?.core0Busy, auth?.revocation?.seconds), 1],
  ['core 0, others than hub and app, % of a core', ({ auth }) => share(others(auth?.revocation), auth?.revocation?.seconds), 1],
  ['streams dropped otherwise', ({ result: r }) => r.integrity.dropped, 0]
]

const RENEWAL_ROWS: Array<Row<AuthRun>> = [
  ['streams held', ({ result: r }) => r.subscribers.ready, 0],
  ['hold, s', ({ auth }) => auth?.renewals?.seconds ?? NaN, 1],
  ['renewals asked in the hold', ({ auth }) => auth?.renewals?.asked ?? NaN, 0],
  ['renewals per second', ({ auth }) => (auth?.renewals?.asked ?? NaN) / (auth?.renewals?.seconds ?? NaN), 0],
  ['renewal rounds (renewals per stream)', ({ auth, result: r }) => (auth?.renewals?.asked ?? NaN) / r.subscribers.ready, 2],
  ['calls to the app in the hold', ({ auth }) => auth?.renewals?.calls ?? NaN, 0],
  ['* calls per renewal round', ({ auth, result: r }) => (auth?.renewals?.calls ?? NaN) / ((auth?.renewals?.asked ?? NaN) / r.subscribers.ready), 0],
  ['* streams ended in the hold', ({ auth }) => auth?.renewals?.ended ?? NaN, 0],
  ['a call to the app, mean, ms (the hub\'s timing)', ({ auth }) => (auth?.renewals?.hubCallSeconds ?? NaN) / (auth?.renewals?.hubCalls ?? NaN) * 1000, 2],
  ['hub CPU in the hold, % of a core', ({ auth }) => share(auth?.renewals?.hubCpu, auth?.renewals?.seconds), 1],
  ['hub CPU per renewal, µs', ({ auth }) => (auth?.renewals?.hubCpu ?? NaN) / (auth?.renewals?.asked ?? NaN) * 1e6, 1],
  ['app CPU in the hold, % of a core', ({ auth }) => share(auth?.renewals?.appCpu, auth?.renewals?.seconds), 1],
  // Below a hundred calls the app's own idle CPU (timers, a collection) is all there is to see.
  ['app CPU per call, µs', ({ auth }) => (auth?.renewals?.calls ?? 0) < 100 ? NaN : (auth?.renewals?.appCpu ?? NaN) / (auth?.renewals?.calls ?? NaN) * 1e6, 1],
  ['core 0 busy, %', ({ auth }) => share(auth?.renewals?.core0Busy, auth?.renewals?.seconds), 1],
  ['core 0, others than hub and app, % of a core', ({ auth }) => share(others(auth?.renewals), auth?.renewals?.seconds), 1],
  ['streams dropped', ({ result: r }) => r.integrity.dropped, 0]
]

/** A2: the revocation or the renewals, one column per setup, and the app's calls per second. */
export function holdSummary (runs: Map<string, AuthRun | undefined>, then: 'withdraw' | 'keep'): string {
  const { columns, ratio } = columnsOf(runs)
  const perSecond = [...runs.entries()].map(([name, run]) => {
    const seconds = then === 'withdraw' ? run?.auth?.revocation?.perSecond : run?.auth?.renewals?.perSecond
    return `${authHeaderOf(name)}: calls to the app per second from ${then === 'withdraw' ? 'the withdrawal' : 'the start of the hold'}: ${(seconds ?? []).map((calls) => fmt(calls)).join(' ')}`
  })
  return [table(then === 'withdraw' ? REVOCATION_ROWS : RENEWAL_ROWS, columns, ratio), ...perSecond].join('\n')
}
