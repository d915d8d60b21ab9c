/**
 * `npm run bench`: the scenarios of the SSE benchmark, each against the hub and against nginx +
 * nchan, or (cluster scenarios) against hub nodes sharing a Redis and one node on its own; the
 * servers pinned to core 0 and this process (publisher + load generator) to core 1.
 * Prints a table per scenario and writes every figure to bench/results/<date>.json.
 * See bench/README.md.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, loadavg, release } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { type LoadOptions, type LoadResult, runLoad } from './load.js'
import { connectSummary, holdSummary } from './auth-report.js'
import { type AuthFigures, type AuthPlan, type AuthSetupName, deployAuth, isAuthSetup } from './auth-scenarios.js'
import { attachObservers, type ObserverStats } from './observers.js'
import { summariseProfiles } from './profile.js'
import { type CommandStat, REDIS_SERVER, redisInstalled, redisVersion, startCluster } from './cluster.js'
import { clusterRows, clusterTargets, type Pair } from './cluster-report.js'
import { type Column, floorLine, fmt, IDLE_ROWS, oneLine, problems, roundsLine, RSS_STRETCH_SECONDS, rssStretches, table, TRAFFIC_ROWS } from './report.js'
import { hubServesTls, installNchan, killChildrenOnExit, nginxVersion, REPO, type StartOptions, startFloor, startHub, startNchan } from './servers.js'
import { benchCertificate } from './tls.js'
import { headerOf, isTlsSetup, TLS_SETUPS, type TlsSetupName, tlsSummary } from './tls-scenarios.js'

interface Scenario {
  id: string
  title: string
  load: Partial<LoadOptions> & Pick<LoadOptions, 'subscribers'>
  /** Presence observers attached before the connect burst (hub only: nchan has no presence). */
  observers?: { watchers: number, presenceSubscribers: number }
  /** Runs only when named in --only (long runs). */
  optIn?: boolean
  /**
   * A cluster scenario: `nodes` hub nodes sharing a Redis of the bench's own (cluster.ts), each
   * with its share of the subscribers, next to one node with the memory broker and `single` on
   * top of the load (by default the same load).
   */
  cluster?: { nodes: number, single?: Partial<LoadOptions> }
  /** Against the floor (floor-server.ts) rather than nchan: what the hub costs per request above delivery alone. */
  floor?: boolean
  /** The setups of an HTTP/2 or auth scenario, in the order of its columns (`--hub-only` drops nchan's). */
  setups?: ServerName[]
  /** An auth scenario (A1, A2): what the app grants, and what happens once the streams are open. */
  auth?: AuthPlan
}

/**
 * The HTTP/2 scenarios' setups: the hub over h2 (one stream per session, and ten), over HTTP/1.1
 * with TLS and in the clear; nchan over h2 and HTTP/1.1 with TLS.
 */
const H_FANOUT: ServerName[] = ['hub-h2', 'hub-h2x10', 'hub-tls', 'hub', 'nchan-h2', 'nchan-tls']

/** C3's publishes, one at a time, each to all 100,000. */
const C3_PROBES = 5

/** The auth scenarios' setups: no auth, a JWT per subscriber or one for all, the app's callback per session or one for all. */
const A_CONNECT: ServerName[] = ['hub', 'hub-jwt', 'hub-jwt-shared', 'hub-app', 'hub-app-shared']

const SCENARIOS: Scenario[] = [
  { id: 'W1-1k', title: 'W1 fan-out: 1 channel, 1,000 subscribers, publisher at max rate, 100-byte payloads', load: { subscribers: 1000 } },
  { id: 'W1-10k', title: 'W1 fan-out: 1 channel, 10,000 subscribers, publisher at max rate, 100-byte payloads', load: { subscribers: 10_000 } },
  { id: 'W2', title: 'W2 latency: 1 channel, 1,000 subscribers, 100 messages/s', load: { subscribers: 1000, rate: 100 } },
  {
    id: 'W3',
    title: 'W3 many channels: 5,000 subscribers each on its own channel, batches of 50 events, max rate',
    load: { subscribers: 5000, channels: 5000, batch: 50 }
  },
  { id: 'W4-10k', title: 'W4 capacity: 10,000 idle subscribers', load: { subscribers: 10_000, idle: true } },
  { id: 'W4-19k', title: 'W4 capacity: 19,000 idle subscribers', load: { subscribers: 19_000, idle: true } },
  { id: 'P0', title: 'P0 presence baseline: a burst of 10,000 connects, no presence observers', load: { subscribers: 10_000, idle: true, duration: 2 } },
  {
    id: 'P1',
    title: 'P1 presence: the same burst with 100 /presence watchers and 100 presence=1 subscribers attached',
    load: { subscribers: 10_000, idle: true, duration: 2 },
    observers: { watchers: 100, presenceSubscribers: 100 }
  },
  {
    id: 'F1',
    title: 'F1 publish cost: 1 event per POST, 5,000 channels with one subscriber each, 64 POSTs in flight, max rate; the hub against the floor',
    load: { subscribers: 5000, channels: 5000, batch: 1, depth: 64 },
    floor: true
  },
  {
    id: 'F2',
    title: 'F2 connect cost: 19,000 connects, held 2 s; the hub against the floor',
    load: { subscribers: 19_000, idle: true, duration: 2 },
    floor: true
  },
  {
    id: 'M1-1k',
    title: 'M1 memory over time: W1 with 1,000 subscribers for 3 minutes, server RSS sampled every second',
    load: { subscribers: 1000, warmup: 0, duration: 180 },
    optIn: true
  },
  {
    id: 'M1-10k',
    title: 'M1 memory over time: W1 with 10,000 subscribers for 3 minutes, server RSS sampled every second',
    load: { subscribers: 10_000, warmup: 0, duration: 180 },
    optIn: true
  },
  {
    id: 'H1-1k',
    title: 'H1 fan-out over HTTP/2: W1-1k (1 channel, 1,000 subscribers, max rate) over h2, HTTP/1.1 + TLS and HTTP/1.1',
    load: { subscribers: 1000 },
    setups: H_FANOUT,
    optIn: true
  },
  {
    id: 'H1-10k',
    title: 'H1 fan-out over HTTP/2: W1-10k (1 channel, 10,000 subscribers, max rate) over h2, HTTP/1.1 + TLS and HTTP/1.1',
    load: { subscribers: 10_000 },
    setups: H_FANOUT,
    optIn: true
  },
  {
    id: 'H2-10k',
    title: 'H2 idle streams: 10,000 subscribers held 2 s over h2 with 1 and 10 streams per session, HTTP/1.1 + TLS and HTTP/1.1',
    load: { subscribers: 10_000, idle: true, duration: 2 },
    setups: ['hub-h2', 'hub-h2x10', 'hub-tls', 'hub', 'nchan-h2', 'nchan-h2x10'],
    optIn: true
  },
  {
    id: 'H3',
    title: 'H3 coalescing: 1,000 subscribers on 1 channel, batches of 8 events, one publish at a time; writes per stream per batch',
    load: { subscribers: 1000, batch: 8, depth: 1 },
    setups: H_FANOUT,
    optIn: true
  },
  {
    id: 'A1-10k',
    title: 'A1 connect cost with auth: a burst of 10,000 connects (256 in flight), each with a credential of its own or all with one: no auth, JWT, the app\'s callback',
    load: { subscribers: 10_000, idle: true, duration: 1, waitForGenerator: true },
    setups: A_CONNECT,
    auth: { ttl: 600 },
    optIn: true
  },
  {
    id: 'A1-serial',
    title: 'A1 connect latency with auth: 1,000 connects one at a time, each with a credential of its own or all with one: no auth, JWT, the app\'s callback',
    load: { subscribers: 1000, idle: true, duration: 0, threadsPerProcess: 1, connectConcurrency: 1, waitForGenerator: true },
    setups: A_CONNECT,
    auth: { ttl: 600 },
    optIn: true
  },
  {
    id: 'A2-revoke',
    title: 'A2 revocation: 10,000 streams on the app\'s grants of 5 s, a session each; then the app withdraws every grant',
    load: { subscribers: 10_000, idle: true },
    setups: ['hub-app'],
    auth: { ttl: 5, then: 'withdraw' },
    optIn: true
  },
  {
    id: 'A2-renew',
    title: 'A2 renewal: 10,000 streams on the app\'s grants of 5 s held 16 s, the app granting on; a session each, and one for all',
    load: { subscribers: 10_000, idle: true, duration: 16 },
    setups: ['hub-app', 'hub-app-shared'],
    auth: { ttl: 5, then: 'keep' },
    optIn: true
  },
  {
    id: 'C1-fanout',
    title: 'C1 cluster fan-out: 2 nodes + Redis, 5,000 subscribers on each, 1 channel, publishing through node 1 at max rate; 1 node with 10,000',
    load: { subscribers: 10_000 },
    cluster: { nodes: 2 }
  },
  {
    id: 'C1-latency',
    title: 'C1 cluster latency, W2 on a cluster: 2 nodes + Redis, 500 subscribers on each, 1 channel, 100 messages/s; 1 node with 1,000',
    load: { subscribers: 1000, rate: 100 },
    cluster: { nodes: 2 }
  },
  {
    id: 'C2',
    title: 'C2 publish through Redis: 1 event per POST on 5,000 channels (one subscriber each), max rate; 1 node + Redis against 1 node with the memory broker',
    load: { subscribers: 5000, channels: 5000, batch: 1 },
    cluster: { nodes: 1 }
  },
  {
    id: 'C3',
    title: `C3 cluster capacity: 100,000 idle subscribers on 6 nodes + Redis, then ${C3_PROBES} single publishes timed to their last delivery; 1 node with 16,667`,
    // 32 source addresses: 3,125 sockets on each, fewer than W4-19k puts on each of its 4.
    load: { subscribers: 100_000, idle: true, probes: C3_PROBES, localAddresses: 32 },
    cluster: { nodes: 6, single: { subscribers: 16_667 } },
    optIn: true
  }
]

const QUICK: Scenario = {
  id: 'quick',
  title: 'smoke run: 8 subscribers on 2 channels, batches of 2, every event checked',
  load: { subscribers: 8, channels: 2, batch: 2, warmup: 0.2, duration: 1, settle: 0.2, verify: true, depth: 4 }
}

const USAGE = `Usage: node --import tsx bench/run.ts [options]

  --only LIST       scenarios to run, comma-separated prefixes of W1-1k, W1-10k, W2, W3, W4-10k, W4-19k, P0, P1,
                    F1, F2, C1-fanout, C1-latency, C2 (e.g. --only W1 or --only W1-1k,W4,C1), or M1-1k, M1-10k
                    (3 minutes per server each), C3 (100,000 subscribers on 6 nodes) and H1-1k, H1-10k,
                    H2-10k, H3 (HTTP/2 and TLS: --only H, about 15 minutes), A1-10k, A1-serial, A2-revoke,
                    A2-renew (subscribe auth: --only A, about 4 minutes), never run by default;
                    C scenarios need ${REDIS_SERVER}, and are skipped without it unless named
  --duration S      seconds measured per run (default 10)
  --warmup S        seconds of publishing before the measured window (default 2)
  --quick           smoke run: a few subscribers for about a second; exits 1 on any loss
  --hub-only        skip nginx + nchan (F1 and F2 still run the floor)
  --profile         write a CPU profile of the hub per run (node --cpu-prof) and print its top functions
  --window N        flow control: undelivered events per subscriber at most (default 16, 0: off)
  --depth N         unanswered publish requests at most (default 16)
  --threads N       worker threads per load generator process (default 2)
  --addresses N     loopback source addresses 127.0.0.1 .. 127.0.0.N (default 4)
  --no-pin          do not pin the servers (core 0) and the load generator (core 1)
  --hub-repo DIR    run the hub from DIR/dist (another checkout, built), e.g. to compare versions against the floor
  --rounds N        F1, F2: run the hub and the floor N times each, alternating which goes first, and give
                    the median of the rounds' ratios (default 3): one round's ratio moves by ±15 % and more
                    on a machine whose speed drifts from one run to the next
  --help            this text`

/** What a run starts: the hub, nginx + nchan, the floor, or a cluster of hub nodes and its Redis. */
type ServerName = 'hub' | 'nchan' | 'floor' | 'cluster' | TlsSetupName | AuthSetupName
interface Run {
  scenario: string
  server: ServerName
  /** F1, F2 with --rounds: which of the alternated rounds (from 0). */
  round?: number
  result?: LoadResult
  observers?: ObserverStats
  redisCommands?: CommandStat[]
  auth?: AuthFigures
  error?: string
  profile?: string
}

async function main (): Promise<number> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
      quick: { type: 'boolean', default: false },
      'hub-only': { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      window: { type: 'string', default: '16' },
      depth: { type: 'string', default: '16' },
      threads: { type: 'string', default: '2' },
      addresses: { type: 'string', default: '4' },
      'no-pin': { type: 'boolean', default: false },
      'hub-repo': { type: 'string' },
      rounds: { type: 'string', default: '3' },
      help: { type: 'boolean', short: 'h', default: false }
    },
    strict: true
  })
  if (values.help) {
    console.log(USAGE)
    return 0
  }
  const number = (name: string, value: string): number => {
    const n = Number(value)
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name}: not a number: ${value}`)
    return n
  }
  const common: Partial<LoadOptions> = {
    duration: number('duration', values.duration),
    warmup: number('warmup', values.warmup),
    window: number('window', values.window),
    depth: Math.max(1, number('depth', values.depth)),
    threadsPerProcess: Math.max(1, number('threads', values.threads)),
    localAddresses: Math.min(254, Math.max(1, number('addresses', values.addresses)))
  }
  const roundCount = Math.max(1, Math.floor(number('rounds', values.rounds)))

  let scenarios = values.quick ? [QUICK] : SCENARIOS.filter((s) => s.optIn !== true)
  let skipped = ''
  if (values.only !== undefined) {
    const wanted = values.only.split(',').map((s) => s.trim().toUpperCase()).filter((s) => s !== '')
    scenarios = SCENARIOS.filter((s) => wanted.some((w) => s.id.toUpperCase().startsWith(w)))
    if (scenarios.length === 0) throw new Error(`--only ${values.only}: no such scenario`)
  } else if (!redisInstalled() && scenarios.some((s) => s.cluster !== undefined)) {
    skipped = scenarios.filter((s) => s.cluster !== undefined).map((s) => s.id).join(', ')
    scenarios = scenarios.filter((s) => s.cluster === undefined)
  }
  const servers: ServerName[] = values['hub-only'] ? ['hub'] : ['hub', 'nchan']
  const withNchan = scenarios.some((s) => setupsOf(s, servers).some((name) => name.startsWith('nchan')))
  const withRedis = scenarios.some((s) => s.cluster !== undefined)

  killChildrenOnExit()
  const cores = availableParallelism()
  const pin = !values['no-pin'] && cores >= 2
  if (pin) execFileSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' })
  if (withNchan) installNchan()

  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  const resultsDir = join(REPO, 'bench', 'results')
  const workDir = join(resultsDir, `run-${stamp}`)
  mkdirSync(workDir, { recursive: true })
  const machine = {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores,
    kernel: release(),
    node: process.version,
    nginx: withNchan ? nginxVersion() : undefined,
    redis: withRedis && redisInstalled() ? redisVersion() : undefined,
    openFileLimit: openFileLimit(),
    pinned: pin ? `servers${withRedis ? ' (every hub node and Redis)' : ''} on core 0, load generator and publisher on core 1` : 'not pinned'
  }
  console.log(`SSE benchmark, ${new Date().toISOString()}`)
  console.log(`${machine.cpu}, ${machine.cores} cores, Linux ${machine.kernel}, Node ${machine.node}` +
    `${machine.nginx === undefined ? '' : `, ${machine.nginx}`}${machine.redis === undefined ? '' : `, ${machine.redis}`}; ` +
    `${machine.pinned}; open-file limit ${machine.openFileLimit}`)
  console.log(`flow control: at most ${common.window} undelivered events per subscriber in flight, ${common.depth} publish requests unanswered`)
  console.log(`load average before the run: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
  if (withNchan) {
    console.log('nchan takes one message per POST (it has no batch publish), so a batch of N events is N pipelined POSTs to it')
  }
  if (scenarios.some((s) => setupsOf(s, servers).some((name) => isTlsSetup(name) && TLS_SETUPS[name].server === 'hub'))) {
    console.log(hubServesTls(values['hub-repo'] ?? REPO)
      ? 'the hub over TLS: sse-hub with SSE_HUB_TLS_CERT and SSE_HUB_TLS_KEY'
      : 'the hub over TLS: this build of sse-hub has no TLS options, so its plugin runs in Fastify\'s HTTP/2 server (bench/tls-hub-server.ts)')
  }
  if (skipped !== '') console.log(`skipped ${skipped}: ${REDIS_SERVER} is missing (apt-get install redis-server)`)

  const runs: Run[] = []
  const resultOf = (id: string, name: ServerName): LoadResult | undefined => runs.find((r) => r.scenario === id && r.server === name)?.result
  for (const scenario of scenarios) {
    console.log(`\n== ${scenario.id}: ${scenario.title}`)
    // Rounds alternate which of the hub and the floor goes first, so that a drift in the machine's speed weighs on both alike.
    const rounds = scenario.floor === true ? Array.from({ length: roundCount }, (_, round) => round) : [undefined]
    const order = (round: number | undefined): ServerName[] => round !== undefined && round % 2 === 1 ? [...setupsOf(scenario, servers)].reverse() : setupsOf(scenario, servers)
    for (const round of rounds) {
      if (round !== undefined && roundCount > 1) console.log(`  round ${round + 1} of ${roundCount}`)
      for (const name of order(round)) {
        const run: Run = { scenario: scenario.id, server: name, round }
        runs.push(run)
        const profileDir = values.profile && !name.startsWith('nchan') ? join(workDir, `profile-${scenario.id}${name === 'hub' ? '' : `-${name}`}${round === undefined || round === 0 ? '' : `-${round + 1}`}`) : undefined
        let deployment: Deployment | undefined
        try {
          deployment = await deploy(name, scenario, { core: pin ? 0 : undefined, workDir, profileDir, hubRepo: values['hub-repo'] })
          const load = { ...common, ...scenario.load, ...name === 'hub' ? scenario.cluster?.single : undefined }
          const { host, port } = deployment.load
          const observers = scenario.observers === undefined ? undefined : await attachObservers({ host, port, ...scenario.observers })
          run.result = await runLoad({
            ...load,
            ...deployment.load,
            channelPrefix: `${scenario.id.toLowerCase()}-${name}-${Date.now().toString(36)}-`,
            log: (message) => console.log(`  ${name}: ${message}`)
          })
          run.auth = await deployment.authFigures?.()
          run.redisCommands = await deployment.commandStats?.()
          if (run.redisCommands !== undefined) {
            const top = run.redisCommands.slice(0, 4).map(({ command, calls, usec }) => `${command} ${fmt(calls)} calls, ${fmt(usec / calls, 1)} µs each`)
            console.log(`  ${name}: Redis time by command, whole run: ${top.join('; ')}`)
          }
          run.observers = observers?.stop()
          if (run.observers !== undefined) console.log(`  ${name}: observers: ${JSON.stringify(run.observers)}`)
          console.log(`  ${name}: ${oneLine(run.result, load.idle === true)}`)
          const other = run.result.window.otherCpu / run.result.window.seconds
          if (other > 0.1) {
            console.log(`  ${name}: WARNING: ${(other * 100).toFixed(0)} % of a core went to other processes during the window: figures are disturbed`)
          }
        } catch (err) {
          run.error = (err as Error).stack ?? String(err)
          console.log(`  ${name}: FAILED: ${(err as Error).message}`)
        } finally {
          await deployment?.stop()
        }
        if (profileDir !== undefined) {
          run.profile = summariseProfiles(profileDir, 25, name)
          if (run.profile !== '') console.log(run.profile)
        }
      }
    }
    const hub = resultOf(scenario.id, 'hub')
    const nchan = resultOf(scenario.id, 'nchan')
    console.log('')
    if (scenario.auth !== undefined) {
      const names = setupsOf(scenario, servers)
      const results = new Map(names.map((name) => {
        const run = runs.find((r) => r.scenario === scenario.id && r.server === name)
        return [name, run?.result === undefined ? undefined : { result: run.result, auth: run.auth }]
      }))
      const { then } = scenario.auth
      console.log(then === undefined ? connectSummary(results) : holdSummary(results, then))
    } else if (scenario.setups !== undefined) {
      const names = setupsOf(scenario, servers)
      const results = new Map(names.map((name) => [name, resultOf(scenario.id, name)]))
      console.log(table(scenario.load.idle === true ? IDLE_ROWS : TRAFFIC_ROWS, names.map((name) => ({ header: headerOf(name), result: results.get(name) })), ''))
      console.log(tlsSummary(results, scenario.load.idle === true, scenario.load.batch ?? 1))
    } else if (scenario.floor === true) {
      const floor = resultOf(scenario.id, 'floor')
      const idle = scenario.load.idle === true
      console.log(table(idle ? IDLE_ROWS : TRAFFIC_ROWS, [{ header: 'hub', result: hub }, { header: 'floor', result: floor }], 'hub/floor'))
      console.log(floorLine(idle, hub, floor))
      if (roundCount > 1) {
        const of = (round: number, name: ServerName): LoadResult | undefined => runs.find((r) => r.scenario === scenario.id && r.server === name && r.round === round)?.result
        console.log(roundsLine(idle, rounds.map((round) => [of(round as number, 'hub'), of(round as number, 'floor')])))
      }
    } else if (scenario.cluster === undefined) {
      const columns: Column[] = [{ header: 'hub', result: hub }]
      if (setupsOf(scenario, servers).includes('nchan')) columns.push({ header: 'nchan', result: nchan })
      console.log(table(scenario.load.idle === true ? IDLE_ROWS : TRAFFIC_ROWS, columns, 'hub/nchan'))
    } else {
      const { nodes } = scenario.cluster
      console.log(table(clusterRows(scenario.load.idle === true, nodes), [
        { header: `${nodes} node${nodes === 1 ? '' : 's'} + Redis`, result: resultOf(scenario.id, 'cluster') },
        { header: '1 node, memory', result: hub }
      ], 'ratio'))
      console.log('server CPU and RSS: every hub process and Redis; ratio: the cluster over the one node')
    }
    if (scenario.id.startsWith('M1')) {
      for (const [name, result] of [['hub', hub], ['nchan', nchan]] as const) {
        if (result !== undefined) console.log(`${name} RSS, MiB, largest per ${RSS_STRETCH_SECONDS} s: ${rssStretches(result).join(' ')}`)
      }
    }
  }
  const baseline = runs.find((r) => r.scenario === 'P0')?.result
  const observed = runs.find((r) => r.scenario === 'P1')?.result
  if (baseline !== undefined && observed !== undefined) {
    console.log(`\npresence cost: 10,000 connects took ${fmt(observed.connect.seconds, 2)} s with observers, ` +
      `${fmt(baseline.connect.seconds, 2)} s without (ratio ${fmt(observed.connect.seconds / baseline.connect.seconds, 2)}); ` +
      `server CPU ${fmt(observed.connect.serverCpu, 2)} s vs ${fmt(baseline.connect.serverCpu, 2)} s`)
  }

  if (scenarios.some((s) => s.id.startsWith('C1'))) {
    const pair = (id: string): Pair => ({ cluster: resultOf(id, 'cluster'), single: resultOf(id, 'hub') })
    console.log(`\n${clusterTargets(pair('C1-fanout'), pair('C1-latency'))}`)
  }

  const file = join(resultsDir, `bench-${stamp}.json`)
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), machine, options: common, runs }, null, 2))
  console.log(`\nresults: ${file}`)

  const failed = runs.filter((r) => r.error !== undefined || (r.result !== undefined && problems(r.result) !== ''))
  for (const run of failed) console.log(`problem in ${run.scenario} (${run.server}): ${run.error?.split('\n')[0] ?? problems(run.result as LoadResult)}`)
  return values.quick && failed.length > 0 ? 1 : 0
}

/** The setups a scenario runs, in the order of its table's columns. */
function setupsOf (scenario: Scenario, servers: ServerName[]): ServerName[] {
  if (scenario.setups !== undefined) return scenario.setups.filter((name) => servers.includes('nchan') || !name.startsWith('nchan'))
  if (scenario.cluster !== undefined) return ['cluster', 'hub']
  if (scenario.floor === true) return ['hub', 'floor']
  if (scenario.observers !== undefined) return ['hub']
  return servers
}

/** Servers started for one run, and what the load needs to reach and measure them. */
interface Deployment {
  load: Pick<LoadOptions, 'host' | 'port' | 'protocol' | 'subscribePath' | 'targets' | 'serverPids' | 'storePid' | 'storeMemory'> &
    Partial<Pick<LoadOptions, 'transport' | 'ca' | 'streamsPerSession' | 'credential' | 'appPid' | 'hold'>>
  /** A cluster's Redis: the commands that took the most of its time since it started. */
  commandStats?: () => Promise<CommandStat[]>
  /** An auth setup: what the app and the hub counted of the calls, and A2's figures. */
  authFigures?: () => Promise<AuthFigures>
  stop (): Promise<void>
}

/** A cluster publishes through its first node; its subscribers are spread over every node. */
async function deploy (name: ServerName, scenario: Scenario, start: StartOptions): Promise<Deployment> {
  if (name === 'cluster') {
    const cluster = await startCluster({ ...start, nodes: scenario.cluster?.nodes ?? 2 })
    const [first] = cluster.nodes
    return {
      load: {
        host: first.host,
        port: first.port,
        protocol: 'hub',
        subscribePath: first.subscribePath,
        targets: cluster.nodes.map(({ host, port }) => ({ host, port })),
        serverPids: cluster.nodes.map((node) => node.pid),
        storePid: cluster.redis.pid,
        storeMemory: () => cluster.redis.usedMemory()
      },
      commandStats: () => cluster.redis.commandStats(),
      stop: () => cluster.stop()
    }
  }
  if (isAuthSetup(name)) {
    const { subscribers, duration } = { ...scenario.load, duration: scenario.load.duration ?? 0 }
    const auth = await deployAuth(name, scenario.auth ?? { ttl: 600 }, subscribers, duration, start)
    const { host, port, protocol, subscribePath, pid } = auth.hub
    return { load: { host, port, protocol, subscribePath, serverPids: [pid], ...auth.load }, authFigures: () => auth.figures(), stop: () => auth.stop() }
  }
  if (isTlsSetup(name)) {
    const { server: kind, transport, streamsPerSession } = TLS_SETUPS[name]
    const tls = benchCertificate(start.workDir)
    const server = kind === 'hub' ? await startHub({ ...start, tls }) : await startNchan({ ...start, tls })
    const { host, port, protocol, subscribePath, pid } = server
    return { load: { host, port, protocol, subscribePath, serverPids: [pid], transport, ca: tls.cert, streamsPerSession }, stop: () => server.stop() }
  }
  const server = name === 'hub' ? await startHub(start) : name === 'floor' ? await startFloor(start) : await startNchan(start)
  const { host, port, protocol, subscribePath, pid } = server
  return { load: { host, port, protocol, subscribePath, serverPids: [pid] }, stop: () => server.stop() }
}

function openFileLimit (): string {
  try {
    return /^Max open files\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? 'unknown'
  } catch {
    return 'unknown'
  }
}

// Exit explicitly: the exit hook then kills anything a failed run left behind.
main().then((code) => process.exit(code), (err) => {
  console.error(err)
  process.exit(1)
})
