/**
 * The load generator's coordinator: starts the subscriber processes (agent.ts, each running
 * shard.ts threads), connects every subscriber, runs the publisher through a warm-up and a
 * measured window, drains, and collects throughput, latency, integrity and the CPU and memory
 * of both the server and the generator itself.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { Credential } from './credentials.js'
import { coreTimes, cpuSeconds, Histogram, nowUs, rssKiB, treeUsage, type HistogramData } from './measure.js'
import { Publisher, type PublishProtocol } from './publisher.js'
import { track } from './servers.js'
import type { ConnectReport, EndedReport, FinishReport, ShardConfig, Snapshot, Target } from './shard.js'
import type { Transport } from './tls.js'

export interface LoadOptions {
  /** Where the publisher connects (a cluster: its first node). */
  host: string
  port: number
  protocol: PublishProtocol
  /** Where subscriber `i` connects: `targets[i % targets.length]`; default: host:port alone. */
  targets?: Target[]
  /** Prefix of a subscribe URL, followed by the channel name. */
  subscribePath: string
  /**
   * The server processes to measure, each with its children (nginx's worker): one per target, in
   * the same order; none: not measured.
   */
  serverPids?: number[]
  /** A store the servers share (a cluster's Redis): counted in the server CPU and RSS, and on its own. */
  storePid?: number
  /** Bytes the store holds (Redis `used_memory`), read before the connects and once they settled. */
  storeMemory?: () => Promise<number>
  subscribers: number
  /** Subscriber i is on channel i % channels. */
  channels: number
  /** Channel names are `${channelPrefix}${i}`: make it unique per run. */
  channelPrefix: string
  /** Events per publish (the hub: one POST; nchan: one POST per event). */
  batch: number
  /** Batches per second; 0: as fast as acknowledged. */
  rate: number
  /** Unanswered publish requests at most. */
  depth: number
  /** Flow control: outstanding deliveries per subscriber at most (0: off). */
  window: number
  payloadBytes: number
  /** Seconds of publishing before the measured window. */
  warmup: number
  /** Seconds measured (or held idle). */
  duration: number
  /** Hold the subscribers without publishing (capacity runs). */
  idle: boolean
  /**
   * After an idle hold: publishes of one batch, one at a time, each timed from its send to its
   * last delivery (the latency histogram's max over every subscriber).
   */
  probes: number
  /** Seconds between the last connect and weighing the server, for its memory to settle. */
  settle: number
  /** Subscriber sockets per generator process at most (each process has its own open-file limit). */
  socketsPerProcess: number
  threadsPerProcess: number
  /** Source addresses 127.0.0.1 .. 127.0.0.N, one per subscriber in turn. */
  localAddresses: number
  /** Connects in progress at once, over all shards (stay below the server's listen backlog). */
  connectConcurrency: number
  /** JSON.parse and check every event and every publish reply. */
  verify: boolean
  /** How subscribers connect; with TLS (`h1-tls`, `h2`) the publisher uses TLS too (HTTP/1.1). */
  transport: Transport
  /** PEM of the server's certificate, the only CA the clients trust (with TLS). */
  ca?: string
  /** HTTP/2: streams per session. */
  streamsPerSession: number
  /** What each subscriber authorizes its subscribe with; none: nothing. */
  credential?: Credential
  /**
   * Take the first readings of the connects once every generator thread is up (always with a
   * credential, which the threads make as they start), so that the connects' figures, the other
   * processes' CPU among them, cover the connects alone and not the generator's start.
   */
  waitForGenerator?: boolean
  /** The app the server asks on each subscribe (auth-app.ts): its CPU over the connects is read beside the server's, not counted in it. */
  appPid?: number
  /**
   * Idle runs: what happens while the subscribers are held, instead of waiting `duration` seconds
   * (A2: the app withdraws its grants, and the hold lasts until the server ended the streams).
   */
  hold?: (streams: HeldStreams) => Promise<HoldOutcome>
  log: (message: string) => void
}

/** The held streams, as a `hold` sees them. */
export interface HeldStreams {
  /** Subscribers ready after the connects. */
  ready: number
  /** The streams the server ended so far; with `times`, each subscriber's end (0: open), by subscriber index. */
  ended (times?: boolean): Promise<EndedReport>
}

export interface HoldOutcome {
  /** Streams the hold had the server end (a revocation): not counted as dropped. */
  endedOnPurpose: number
}

export const defaultLoadOptions = {
  host: '127.0.0.1',
  subscribePath: '/subscribe?channels=',
  channels: 1,
  batch: 1,
  rate: 0,
  depth: 16,
  window: 16,
  payloadBytes: 100,
  warmup: 2,
  duration: 10,
  idle: false,
  probes: 0,
  settle: 1,
  socketsPerProcess: 8000,
  threadsPerProcess: 2,
  localAddresses: 4,
  connectConcurrency: 256,
  verify: false,
  transport: 'h1',
  streamsPerSession: 1,
  log: () => {}
} satisfies Partial<LoadOptions>

/** One server process (a cluster node) and the subscribers of its target. */
export interface NodeResult {
  subscribers: number
  startKiB: number
  connectedKiB: number
  perConnectionKiB: number
  connectCpu: number
  windowCpu: number
}

/** Percentiles of a latency histogram, ms. */
export interface Percentiles { p50: number, p99: number, max: number, samples: number }

export interface LoadResult {
  subscribers: { requested: number, ready: number, failed: number, failures: Record<string, number>, readyPerTarget: number[] }
  connect: {
    seconds: number
    perSecond: number
    serverCpu: number
    /** CPU seconds of `appPid` over the connects (0 without one). */
    appCpu: number
    /** CPU seconds of anything but the server, the app and the generator over the connects (see `window.otherCpu`). */
    otherCpu: number
    /** From writing the request to the response head, and to the first SSE block. */
    latencyMs: { head: Percentiles, ready: Percentiles }
  }
  /** Each of `serverPids`, in order. */
  nodes: NodeResult[]
  /** The shared store (`storePid`, `storeMemory`), when there is one. */
  store?: {
    connectCpu: number
    windowCpu: number
    windowCpuShare: number
    startBytes: number
    connectedBytes: number
    /** (connected − start) ÷ subscribers ready. */
    perClientBytes: number
  }
  /** Each probe's time from its send to its last and to its median delivery. */
  probes: { lastMs: number[], medianMs: number[] }
  /** Server RSS (KiB: every server process with its children, and the store). */
  memory: {
    startKiB: number
    connectedKiB: number
    perConnectionKiB: number
    windowStartKiB: number
    windowEndKiB: number
    /** One sample per second through the measured window. */
    samplesKiB: number[]
  }
  window: {
    seconds: number
    deliveries: number
    deliveriesPerSecond: number
    /** Deliveries per socket read in the generator: above 1 when events arrive together. */
    deliveriesPerRead: number
    eventsPublished: number
    eventsPerSecond: number
    requestsPerSecond: number
    /** Publish requests acknowledged in the window ÷ the server's CPU seconds in it. */
    requestsPerServerCpuSecond: number
    /** Every server process and the store. */
    serverCpu: number
    serverCpuShare: number
    deliveriesPerServerCpuSecond: number
    generatorCpu: number
    generatorCpuShare: number
    /** Busy share of each core through the window (1 = a whole core). */
    coreBusyShare: number[]
    /**
     * Softirq share of each core: network work (on loopback mostly the receive path of what was
     * sent). It is part of the busy time, and of the CPU time of whichever process it interrupted.
     */
    coreSoftirqShare: number[]
    /** CPU seconds spent by anything but the server and the generator: other processes, idle-time softirq. */
    otherCpu: number
  }
  latencyMs: { p50: number, p99: number, max: number, mean: number, samples: number }
  integrity: {
    expected: number
    lost: number
    lossyStreams: number
    duplicates: number
    reordered: number
    malformed: number
    dropped: number
    unacknowledged: number
    publishErrors: number
    firstError: string | undefined
    /** Streams the server ended on purpose during a `hold` (a revocation); `dropped` counts the others. */
    endedOnPurpose: number
  }
  publisher: Publisher['stats']
  generator: { processes: number, threads: number }
}

type Reply = { id: number } & Partial<ConnectReport & Snapshot & FinishReport & EndedReport>

/** CPU seconds and RSS of the server processes together, each node's, and the store's CPU. */
interface Usage {
  cpu: number
  rssKiB: number
  nodes: Array<{ cpu: number, rssKiB: number }>
  storeCpu: number
}

interface Shard {
  agent: ChildProcess
  index: number
  /** Its first subscriber. */
  from: number
  progress: number
  unique: number
}

async function sleep (ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}

/** The shards: `threads` per process, enough processes to keep each under `socketsPerProcess`. */
function plan (options: LoadOptions): ShardConfig[][] {
  const processes = Math.max(1, Math.ceil(options.subscribers / options.socketsPerProcess))
  const total = Math.max(1, Math.min(options.subscribers, processes * options.threadsPerProcess))
  const per = Math.ceil(total / processes)
  const addresses = Array.from({ length: options.localAddresses }, (_, i) => `127.0.0.${i + 1}`)
  const targets = options.targets ?? [{ host: options.host, port: options.port }]
  const groups: ShardConfig[][] = []
  for (let s = 0; s < total; s++) {
    const from = Math.floor(options.subscribers * s / total)
    const to = Math.floor(options.subscribers * (s + 1) / total)
    const group = Math.floor(s / per)
    groups[group] ??= []
    groups[group].push({
      targets,
      subscribePath: options.subscribePath,
      channelPrefix: options.channelPrefix,
      channels: options.channels,
      from,
      to,
      localAddresses: addresses,
      connectConcurrency: Math.max(1, Math.floor(options.connectConcurrency / total)),
      connectTimeout: 30_000,
      verify: options.verify,
      eventType: 'bench',
      transport: options.transport,
      ca: options.ca,
      streamsPerSession: Math.max(1, options.streamsPerSession),
      credential: options.credential
    })
  }
  return groups
}

/** Runs one load: connect, publish (or idle), measure, drain, check, close. */
export async function runLoad (input: Partial<LoadOptions> & Pick<LoadOptions, 'port' | 'protocol' | 'subscribers' | 'channelPrefix'>): Promise<LoadResult> {
  const options: LoadOptions = { ...defaultLoadOptions, ...input }
  const { log } = options
  const groups = plan(options)
  const agents: ChildProcess[] = []
  const shards: Shard[] = []
  const waiting = new Map<number, { resolve: (reply: Reply) => void, reject: (err: Error) => void }>()
  let nextId = 1
  let fatal: Error | undefined
  let publisher: Publisher | undefined

  const failAll = (err: Error): void => {
    fatal ??= err
    for (const { reject } of waiting.values()) reject(err)
    waiting.clear()
  }
  const progressTotal = (): number => shards.reduce((sum, shard) => sum + shard.progress, 0)
  const uniqueTotal = (): number => shards.reduce((sum, shard) => sum + shard.unique, 0)

  const agentPath = fileURLToPath(new URL('./agent.ts', import.meta.url))
  for (const group of groups) {
    const agent = fork(agentPath, [JSON.stringify(group)], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    track(agent)
    const base = shards.length
    agents.push(agent)
    group.forEach(({ from }, index) => shards.push({ agent, index, from, progress: 0, unique: 0 }))
    agent.on('message', (message: { shard: number, id?: number, progress?: number, unique?: number, error?: string }) => {
      const shard = shards[base + message.shard]
      if (message.error !== undefined) return failAll(new Error(`shard ${base + message.shard}: ${message.error}`))
      if (message.progress !== undefined) {
        shard.progress = message.progress
        shard.unique = message.unique ?? 0
        publisher?.progress(progressTotal())
        return
      }
      const waiter = waiting.get(message.id as number)
      waiting.delete(message.id as number)
      waiter?.resolve(message as Reply)
    })
    agent.on('exit', (code, signal) => {
      if (code !== 0) failAll(new Error(`load generator process exited (${code ?? signal})`))
    })
  }

  const call = (shard: Shard, command: object): Promise<Reply> => {
    if (fatal !== undefined) return Promise.reject(fatal)
    const id = nextId++
    return new Promise((resolve, reject) => {
      waiting.set(id, { resolve, reject })
      shard.agent.send({ ...command, id, shard: shard.index })
    })
  }
  const callAll = (command: object): Promise<Reply[]> => Promise.all(shards.map((shard) => call(shard, command)))
  const server = (): Usage => {
    const nodes = (options.serverPids ?? []).map((pid) => treeUsage(pid))
    const store = options.storePid === undefined ? { cpu: 0, rssKiB: 0 } : { cpu: cpuSeconds(options.storePid), rssKiB: rssKiB(options.storePid) }
    return {
      cpu: nodes.reduce((total, node) => total + node.cpu, store.cpu),
      rssKiB: nodes.reduce((total, node) => total + node.rssKiB, store.rssKiB),
      nodes,
      storeCpu: store.cpu
    }
  }
  const storeMemory = async (): Promise<number> => options.storeMemory === undefined ? 0 : await options.storeMemory()
  const generatorCpu = (): number => cpuSeconds(process.pid) + agents.reduce((sum, agent) => sum + cpuSeconds(agent.pid ?? 0), 0)
  const appCpu = (): number => options.appPid === undefined ? 0 : cpuSeconds(options.appPid)
  const ended = async (times = false): Promise<EndedReport> => {
    const replies = await Promise.all(shards.map((shard) => call(shard, { cmd: 'ended', times })))
    const all: EndedReport = { ended: 0, firstUs: 0, lastUs: 0, times: times ? new Float64Array(options.subscribers) : undefined }
    replies.forEach((reply, i) => {
      all.ended += reply.ended ?? 0
      if (reply.firstUs !== undefined && reply.firstUs > 0 && (all.firstUs === 0 || reply.firstUs < all.firstUs)) all.firstUs = reply.firstUs
      all.lastUs = Math.max(all.lastUs, reply.lastUs ?? 0)
      if (reply.times !== undefined) all.times?.set(reply.times, shards[i].from)
    })
    return all
  }

  try {
    // A shard makes its credentials as it starts: wait for every shard, so that the readings cover the connects alone.
    if (options.waitForGenerator || options.credential !== undefined) await callAll({ cmd: 'ended', times: false })
    // Connect.
    const storeStart = await storeMemory()
    const start = server()
    const [app0, g0, c0] = [appCpu(), generatorCpu(), coreTimes()]
    log(`connecting ${options.subscribers} subscribers (${groups.length} processes, ${shards.length} threads)`)
    const connects = await callAll({ cmd: 'connect' })
    const connected = server()
    const [app1, g1, c1] = [appCpu(), generatorCpu(), coreTimes()]
    const headLatency = new Histogram()
    const readyLatency = new Histogram()
    for (const reply of connects) {
      if (reply.headLatency !== undefined) headLatency.merge(reply.headLatency)
      if (reply.readyLatency !== undefined) readyLatency.merge(reply.readyLatency)
    }
    const failures: Record<string, number> = {}
    const readyPerTarget: number[] = []
    let ready = 0
    let failed = 0
    for (const reply of connects) {
      ready += reply.ready ?? 0
      failed += reply.failed ?? 0
      reply.readyPerTarget?.forEach((count, target) => { readyPerTarget[target] = (readyPerTarget[target] ?? 0) + count })
      for (const [reason, count] of Object.entries(reply.failures ?? {})) failures[reason] = (failures[reason] ?? 0) + count
    }
    const connectSeconds = (Math.max(...connects.map((r) => r.endUs ?? 0)) - Math.min(...connects.map((r) => r.startUs ?? 0))) / 1e6
    log(`${ready} ready, ${failed} failed in ${connectSeconds.toFixed(2)} s`)
    if (ready === 0) throw new Error(`no subscriber could connect: ${JSON.stringify(failures)}`)

    // Let the server settle, then weigh it.
    await sleep(options.settle * 1000)
    const settled = server()
    const storeConnected = await storeMemory()

    publisher = new Publisher({ ...options, eventType: 'bench', ca: options.transport === 'h1' ? undefined : options.ca })
    const samples: number[] = []
    let windowSeconds = options.duration
    let deliveries = 0
    let reads = 0
    let events = 0
    let requests = 0
    let serverCpu = 0
    let nodeCpu: number[] = []
    let storeCpu = 0
    let genCpu = 0
    let coreBusy: number[] = []
    let coreSoftirq: number[] = []
    let windowStart = settled.rssKiB
    let windowEnd = settled.rssKiB
    const latency = new Histogram()
    const probes: LoadResult['probes'] = { lastMs: [], medianMs: [] }
    let endedOnPurpose = 0

    if (options.idle && options.hold !== undefined) {
      endedOnPurpose = (await options.hold({ ready, ended })).endedOnPurpose
    } else if (options.idle) {
      for (let i = 0; i < options.duration; i++) {
        await sleep(1000)
        samples.push(server().rssKiB)
      }
      windowEnd = samples.at(-1) ?? settled.rssKiB
      if (options.probes > 0) await publisher.open()
      for (let i = 0; i < options.probes; i++) {
        await callAll({ cmd: 'snapshot', resetLatency: true })
        await withTimeout(publisher.probe(), 15_000, 'a probe publish was not answered')
        for (let wait = 0; wait < 300 && uniqueTotal() < publisher.expectedDeliveries; wait++) await sleep(100)
        const probe = new Histogram()
        for (const reply of await callAll({ cmd: 'snapshot', resetLatency: false })) probe.merge(reply.latency as HistogramData)
        probes.lastMs.push(probe.max / 1000)
        probes.medianMs.push(probe.percentile(50) / 1000)
        latency.merge(probe.data())
      }
    } else {
      await publisher.open()
      publisher.start()
      await sleep(options.warmup * 1000)
      // The measured window.
      const before = await callAll({ cmd: 'snapshot', resetLatency: true })
      const t0 = nowUs()
      const s0 = server()
      const g0 = generatorCpu()
      const c0 = coreTimes()
      const p0 = { ...publisher.stats }
      windowStart = s0.rssKiB
      for (let i = 0; i < options.duration; i++) {
        await sleep(1000)
        if (fatal !== undefined) throw fatal
        samples.push(server().rssKiB)
      }
      const after = await callAll({ cmd: 'snapshot', resetLatency: false })
      const t1 = nowUs()
      const s1 = server()
      genCpu = generatorCpu() - g0
      const c1 = coreTimes()
      coreBusy = c1.busy.map((busy, core) => busy - (c0.busy[core] ?? 0))
      coreSoftirq = c1.softirq.map((softirq, core) => softirq - (c0.softirq[core] ?? 0))
      windowEnd = s1.rssKiB
      windowSeconds = (t1 - t0) / 1e6
      serverCpu = s1.cpu - s0.cpu
      nodeCpu = s1.nodes.map((node, i) => node.cpu - (s0.nodes[i]?.cpu ?? 0))
      storeCpu = s1.storeCpu - s0.storeCpu
      deliveries = sum(after, 'deliveries') - sum(before, 'deliveries')
      reads = sum(after, 'reads') - sum(before, 'reads')
      events = publisher.stats.acknowledgedEvents - p0.acknowledgedEvents
      requests = publisher.stats.acknowledgedRequests - p0.acknowledgedRequests
      for (const reply of after) latency.merge(reply.latency as HistogramData)

      // Drain: until every acknowledged event arrived, or nothing moved for a second.
      await withTimeout(publisher.stop(), 15_000, 'publisher did not get its replies')
      let last = -1
      let still = 0
      for (let i = 0; i < 150 && uniqueTotal() < publisher.expectedDeliveries && still < 10; i++) {
        await sleep(100)
        const now = progressTotal()
        still = now === last ? still + 1 : 0
        last = now
      }
    }

    const finish = await callAll({ cmd: 'finish', published: publisher.acknowledged })
    const totals = await callAll({ cmd: 'snapshot', resetLatency: false })
    const result: LoadResult = {
      subscribers: { requested: options.subscribers, ready, failed, failures, readyPerTarget },
      connect: {
        seconds: connectSeconds,
        perSecond: ready / connectSeconds,
        serverCpu: connected.cpu - start.cpu,
        appCpu: app1 - app0,
        otherCpu: sumOf(c1.busy) - sumOf(c0.busy) - (connected.cpu - start.cpu) - (app1 - app0) - (g1 - g0),
        latencyMs: { head: percentiles(headLatency), ready: percentiles(readyLatency) }
      },
      nodes: settled.nodes.map((node, i) => {
        const subscribers = readyPerTarget[i] ?? 0
        const startKiB = start.nodes[i]?.rssKiB ?? 0
        return {
          subscribers,
          startKiB,
          connectedKiB: node.rssKiB,
          perConnectionKiB: (node.rssKiB - startKiB) / subscribers,
          connectCpu: (connected.nodes[i]?.cpu ?? 0) - (start.nodes[i]?.cpu ?? 0),
          windowCpu: nodeCpu[i] ?? 0
        }
      }),
      store: options.storePid === undefined && options.storeMemory === undefined
        ? undefined
        : {
            connectCpu: connected.storeCpu - start.storeCpu,
            windowCpu: storeCpu,
            windowCpuShare: storeCpu / windowSeconds,
            startBytes: storeStart,
            connectedBytes: storeConnected,
            perClientBytes: (storeConnected - storeStart) / ready
          },
      probes,
      memory: {
        startKiB: start.rssKiB,
        connectedKiB: settled.rssKiB,
        perConnectionKiB: (settled.rssKiB - start.rssKiB) / ready,
        windowStartKiB: windowStart,
        windowEndKiB: windowEnd,
        samplesKiB: samples
      },
      window: {
        seconds: windowSeconds,
        deliveries,
        deliveriesPerSecond: deliveries / windowSeconds,
        deliveriesPerRead: reads > 0 ? deliveries / reads : NaN,
        eventsPublished: events,
        eventsPerSecond: events / windowSeconds,
        requestsPerSecond: requests / windowSeconds,
        requestsPerServerCpuSecond: serverCpu > 0 ? requests / serverCpu : NaN,
        serverCpu,
        serverCpuShare: serverCpu / windowSeconds,
        deliveriesPerServerCpuSecond: serverCpu > 0 ? deliveries / serverCpu : NaN,
        generatorCpu: genCpu,
        generatorCpuShare: genCpu / windowSeconds,
        coreBusyShare: coreBusy.map((busy) => busy / windowSeconds),
        coreSoftirqShare: coreSoftirq.map((softirq) => softirq / windowSeconds),
        otherCpu: coreBusy.reduce((a, b) => a + b, 0) - serverCpu - genCpu
      },
      latencyMs: {
        p50: latency.percentile(50) / 1000,
        p99: latency.percentile(99) / 1000,
        max: latency.max / 1000,
        mean: latency.count > 0 ? latency.sum / latency.count / 1000 : NaN,
        samples: latency.count
      },
      integrity: {
        expected: publisher.expectedDeliveries,
        lost: sum(finish, 'lost'),
        lossyStreams: sum(finish, 'lossyStreams'),
        duplicates: sum(totals, 'duplicates'),
        reordered: sum(totals, 'reordered'),
        malformed: sum(totals, 'malformed'),
        dropped: sum(totals, 'dropped') - endedOnPurpose,
        unacknowledged: sum(finish, 'unacknowledged'),
        publishErrors: publisher.stats.errors,
        firstError: publisher.firstError,
        endedOnPurpose
      },
      publisher: { ...publisher.stats },
      generator: { processes: agents.length, threads: shards.length }
    }
    return result
  } finally {
    publisher?.close()
    if (fatal === undefined) {
      await withTimeout(callAll({ cmd: 'close' }), 10_000, 'shards did not close').catch(() => {})
    }
    await Promise.all(agents.map(async (agent) => {
      if (agent.exitCode !== null || agent.signalCode !== null) return
      const exited = new Promise((resolve) => agent.once('exit', resolve))
      agent.disconnect()
      const timer = setTimeout(() => agent.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    }))
  }
}

function sumOf (values: number[]): number {
  return values.reduce((a, b) => a + b, 0)
}

function percentiles (histogram: Histogram): Percentiles {
  return { p50: histogram.percentile(50) / 1000, p99: histogram.percentile(99) / 1000, max: histogram.max / 1000, samples: histogram.count }
}

function sum (replies: Reply[], key: 'deliveries' | 'reads' | 'lost' | 'lossyStreams' | 'duplicates' | 'reordered' | 'malformed' | 'dropped' | 'unacknowledged'): number {
  return replies.reduce((total, reply) => total + (reply[key] ?? 0), 0)
}

async function withTimeout<T> (promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}
