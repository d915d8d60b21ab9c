/**
 * A shard of subscribers: one worker thread owning many raw TCP sockets, each an SSE stream
 * on one channel. It records for every bench event its latency and its sequence number, and
 * answers the coordinator's commands (see `ShardCommand`).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { parentPort, workerData } from 'node:worker_threads'
import type { Credential, Header } from './credentials.js'
import { H2Sessions } from './h2-client.js'
import { Histogram, type HistogramData, nowUs } from './measure.js'
import { dialTls, type Transport } from './tls.js'
import { Field, ResponseReader, SseParser, type ResponseHandler, type SseHandler } from './wire.js'

/** A server (or one node of a cluster) subscribers connect to. */
export interface Target {
  host: string
  port: number
}

export interface ShardConfig {
  /** Subscriber `i` connects to `targets[i % targets.length]`. */
  targets: Target[]
  /** Subscriber `i` asks for `${subscribePath}${channelNames(i % channels)}`. */
  subscribePath: string
  channelPrefix: string
  channels: number
  /** Subscriber indices of this shard: [from, to). */
  from: number
  to: number
  localAddresses: string[]
  /** Connects in progress at once in this shard. */
  connectConcurrency: number
  /** ms a single subscriber may take to get its first SSE block. */
  connectTimeout: number
  /** JSON.parse every bench event and check it, instead of only picking out q and t. */
  verify: boolean
  /** The `event:` type of bench events. */
  eventType: string
  /** HTTP/1.1 in the clear (raw sockets), HTTP/1.1 over TLS, or HTTP/2 streams. */
  transport: Transport
  /** PEM of the server's certificate, with TLS. */
  ca?: string
  /** HTTP/2: streams per session (subscribers `from + k·n` … share a session). */
  streamsPerSession: number
  /** What each subscriber authorizes its subscribe with (a header of its own, or one shared); none: nothing. */
  credential?: Credential
}

export type ShardCommand =
  | { id: number, cmd: 'connect' }
  | { id: number, cmd: 'snapshot', resetLatency: boolean }
  | { id: number, cmd: 'finish', published: number[] }
  | { id: number, cmd: 'ended', times: boolean }
  | { id: number, cmd: 'close' }

export interface ConnectReport {
  ready: number
  /** Subscribers ready on each target. */
  readyPerTarget: number[]
  failed: number
  /** Failure reasons and how often each occurred. */
  failures: Record<string, number>
  startUs: number
  endUs: number
  /** µs from writing the request (HTTP/2: opening the stream) to the response head, per subscriber that got one. */
  headLatency: HistogramData
  /** µs from writing the request to the first SSE block (the hub's `registered`), per subscriber ready. */
  readyLatency: HistogramData
}

/** The streams that ended after they were ready (the server ended them), and when. */
export interface EndedReport {
  ended: number
  /** CLOCK_MONOTONIC µs of the first and the last end; 0 when none ended. */
  firstUs: number
  lastUs: number
  /** With `times`: each subscriber's end (0: still open or never ready), from subscriber `from` on. */
  times?: Float64Array
}

export interface Snapshot {
  /**
   * Socket reads (HTTP/2: DATA frames): with deliveries, how many events one read brings (the
   * server's write batching).
   */
  reads: number
  /** Bench events received, duplicates included. */
  deliveries: number
  /** Distinct (subscriber, seq) pairs received. */
  unique: number
  duplicates: number
  /** Events that arrived after an event with a higher seq on the same stream. */
  reordered: number
  /** Events that could not be read (no q/t, or wrong content with --verify). */
  malformed: number
  /** Streams that closed after they were ready. */
  dropped: number
  /** Other frames: heartbeats (comments), lastEvent snapshots, events of other types. */
  comments: number
  snapshots: number
  others: number
  /** Latency since the last reset. */
  latency: HistogramData
}

export interface FinishReport {
  /** Sum over streams of published-to-its-channel minus distinct received. */
  lost: number
  /** Distinct events received beyond what was acknowledged to the publisher. */
  unacknowledged: number
  /** Streams that lost at least one event. */
  lossyStreams: number
}

/** Sent unasked every PROGRESS_INTERVAL ms: the shard's deliveries so far (for flow control). */
export interface ProgressReport { progress: number, unique: number }

const PROGRESS_INTERVAL = 20
/** A gap in seqs up to this size is remembered event by event, to tell reordering from duplicates. */
const MAX_HOLES = 10_000
const CONNECTING = 0
const STREAMING = 1
const READY = 2
const CLOSED = 3

const config = workerData as ShardConfig
const port = parentPort
if (port === null) throw new Error('shard.ts runs as a worker thread')

const latency = new Histogram()
const headLatency = new Histogram()
const readyLatency = new Histogram()
const stats = { reads: 0, deliveries: 0, unique: 0, duplicates: 0, reordered: 0, malformed: 0, dropped: 0, comments: 0, snapshots: 0, others: 0 }
const QUOTE = 34
const COLON = 58
const COMMA = 44
const Q = 113
const T = 116
const TYPE_BYTES = Buffer.from(config.eventType)
const subs: Subscriber[] = []
const readBuffer = Buffer.allocUnsafe(256 * 1024)
const h2 = config.transport === 'h2' ? new H2Sessions(config.ca ?? '', config.streamsPerSession) : undefined
let closing = false
/**
 * Each subscriber's credential header, made before the connects so that signing does not slow
 * them; the signing code is loaded only by a load that has credentials.
 */
const credentials = config.credential === undefined ? undefined : await credentialHeaders(config.credential)

async function credentialHeaders (credential: Credential): Promise<Header[]> {
  const { credentialHeader } = await import('./credentials.js')
  return Array.from({ length: config.to - config.from }, (_, k) => {
    const index = config.from + k
    return credentialHeader(credential, index, config.channelPrefix + index % config.channels, config.channelPrefix)
  })
}

function sameBytes (buf: Buffer, start: number, expected: Buffer): boolean {
  for (let i = 0; i < expected.length; i++) if (buf[start + i] !== expected[i]) return false
  return true
}

const enum Kind { Message, Bench, Registered, LastEvent, Other }

class Subscriber implements ResponseHandler, SseHandler {
  state = CONNECTING
  /** Receive time of the data being parsed. */
  now = 0
  readonly channel: number
  readonly channelName: string
  readonly target: number
  /** The socket (HTTP/1.1) or the stream (HTTP/2) of this subscriber. */
  private readonly link: { destroy (): void, reset (): void }
  private readonly reader = new ResponseReader(this)
  private readonly sse = new SseParser(this)
  private readonly timer: NodeJS.Timeout
  private kind = Kind.Message
  private seq = -1
  private sentUs = 0
  private data = ''
  private maxSeq = 0
  unique = 0
  /** Whether the stream ever got ready: only those count for loss. */
  everReady = false
  /** When the request was written (HTTP/2: the stream opened), µs. */
  private requestUs = 0
  /** When the stream ended after it was ready (not by this shard), µs; 0 while open. */
  endedUs = 0
  private holes: Set<number> | null = null

  constructor (readonly index: number, private readonly settle: (sub: Subscriber, failure?: string) => void) {
    this.channel = index % config.channels
    this.channelName = config.channelPrefix + this.channel
    this.target = index % config.targets.length
    const { host, port } = config.targets[this.target]
    const localAddress = config.localAddresses[index % config.localAddresses.length]
    this.timer = setTimeout(() => this.fail('timeout'), config.connectTimeout)
    const path = `${config.subscribePath}${this.channelName}`
    const credential = credentials?.[index - config.from]
    if (h2 !== undefined) {
      this.requestUs = nowUs()
      const stream = h2.open(index - config.from, { host, port }, localAddress, path, this, credential)
      // At the end the sessions' sockets are reset at once (`H2Sessions.resetAll`), not each stream.
      this.link = { destroy: () => stream.destroy(), reset: () => {} }
      return
    }
    const request = `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\n` +
      'Accept: text/event-stream\r\nCache-Control: no-cache\r\n' +
      (credential === undefined ? '' : `${credential.name}: ${credential.value}\r\n`) + '\r\n'
    // In the clear, `onread` reads straight into one buffer shared by the thread, past the stream
    // machinery: the parsers copy whatever they keep beyond the call. TLS has no `onread`.
    const tls = config.transport === 'h1-tls' ? dialTls({ host, port, ca: config.ca ?? '', alpn: 'http/1.1', localAddress }) : undefined
    const socket = tls?.socket ?? connect({
      host,
      port,
      localAddress,
      onread: { buffer: readBuffer, callback: (length: number, buf: Uint8Array) => this.read(length, buf as Buffer) }
    })
    if (tls !== undefined) socket.on('data', (buf: Buffer) => this.read(buf.length, buf))
    socket.on(tls === undefined ? 'connect' : 'secureConnect', () => {
      this.requestUs = nowUs()
      socket.write(request)
    })
    socket.on('error', (err: NodeJS.ErrnoException) => this.fail(err.code ?? err.message))
    socket.on('close', () => this.fail('closed'))
    this.link = { destroy: () => socket.destroy(), reset: tls?.reset ?? (() => socket.resetAndDestroy()) }
  }

  /** HTTP/2: one DATA frame of the stream. */
  onData (buf: Buffer): void {
    this.now = nowUs()
    stats.reads++
    if (this.state === CONNECTING) return this.fail('DATA before the response head')
    if (this.state !== CLOSED) {
      try {
        this.sse.feed(buf, 0, buf.length)
      } catch (err) {
        this.fail(`protocol: ${(err as Error).message}`)
      }
    }
  }

  /** HTTP/2: the stream is gone. */
  onGone (reason: string): void {
    this.fail(reason)
  }

  private read (length: number, buf: Buffer): boolean {
    this.now = nowUs()
    stats.reads++
    try {
      this.reader.feed(buf, length)
    } catch (err) {
      this.fail(`protocol: ${(err as Error).message}`)
    }
    return true
  }

  onHead (status: number, headers: Map<string, string>): void {
    // HTTP/2 heads come outside `read`: the clock is read here for both.
    this.now = nowUs()
    headLatency.add(this.now - this.requestUs)
    if (status !== 200) return this.fail(`status ${status}`)
    if (headers.has('x-sse-hub-refused')) return this.fail(`refused: ${headers.get('x-sse-hub-refused')}`)
    if (!(headers.get('content-type') ?? '').startsWith('text/event-stream')) return this.fail('not text/event-stream')
    this.state = STREAMING
  }

  onBody (buf: Buffer, start: number, end: number): void {
    if (this.state !== CLOSED) this.sse.feed(buf, start, end)
  }

  onEnd (): void {
    this.fail('stream ended')
  }

  onField (field: Field, buf: Buffer, start: number, end: number): void {
    if (field === Field.Data) {
      if (this.kind === Kind.Bench || this.kind === Kind.Message) this.readData(buf, start, end)
    } else if (field === Field.Event) {
      const length = end - start
      if (length === TYPE_BYTES.length && sameBytes(buf, start, TYPE_BYTES)) this.kind = Kind.Bench
      else if (length === 10 && buf.toString('latin1', start, end) === 'registered') this.kind = Kind.Registered
      else if (length === 9 && buf.toString('latin1', start, end) === 'lastEvent') this.kind = Kind.LastEvent
      else this.kind = Kind.Other
    }
  }

  /**
   * Picks q (seq) and t (send time) out of `{"channelName":..,"payload":{"q":1,"t":2,...}}` with
   * plain byte loops: cheaper than Buffer.indexOf with a needle on lines this short.
   */
  private readData (buf: Buffer, start: number, end: number): void {
    let i = start
    const last = end - 4
    while (i < last && !(buf[i] === QUOTE && buf[i + 1] === Q && buf[i + 2] === QUOTE && buf[i + 3] === COLON)) i++
    if (i >= last) return
    i += 4
    let seq = 0
    let digits = 0
    for (; i < end && buf[i] >= 48 && buf[i] <= 57 && digits < 16; i++, digits++) seq = seq * 10 + buf[i] - 48
    if (digits === 0) return
    this.seq = seq
    this.sentUs = -1
    // `,"t":` right after q, as the publisher writes it.
    if (i + 5 < end && buf[i] === COMMA && buf[i + 1] === QUOTE && buf[i + 2] === T && buf[i + 3] === QUOTE && buf[i + 4] === COLON) {
      i += 5
      let t = 0
      digits = 0
      for (; i < end && buf[i] >= 48 && buf[i] <= 57 && digits < 16; i++, digits++) t = t * 10 + buf[i] - 48
      if (digits > 0) this.sentUs = t
    }
    if (config.verify) this.data = buf.toString('utf8', start, end)
  }

  onDispatch (): void {
    if (this.state === STREAMING) {
      readyLatency.add(this.now - this.requestUs)
      this.state = READY
      this.everReady = true
      clearTimeout(this.timer)
      this.settle(this)
    }
    if (this.kind === Kind.Bench || (this.kind === Kind.Message && this.seq >= 0)) this.record()
    else if (this.kind === Kind.LastEvent) stats.snapshots++
    else if (this.kind === Kind.Other) stats.others++
    this.kind = Kind.Message
    this.seq = -1
  }

  onComment (): void {
    stats.comments++
  }

  private record (): void {
    const seq = this.seq
    stats.deliveries++
    if (seq < 1 || this.sentUs < 0 || (config.verify && !this.verified())) {
      stats.malformed++
      return
    }
    latency.add(this.now - this.sentUs)
    const next = this.maxSeq + 1
    if (seq === next) {
      this.maxSeq = seq
      this.unique++
    } else if (seq > next) {
      const gap = seq - next
      if (gap <= MAX_HOLES) {
        this.holes ??= new Set()
        for (let s = next; s < seq; s++) this.holes.add(s)
      }
      this.maxSeq = seq
      this.unique++
    } else if (this.holes !== null && this.holes.delete(seq)) {
      stats.reordered++
      this.unique++
    } else {
      stats.duplicates++
    }
  }

  private verified (): boolean {
    try {
      const event = JSON.parse(this.data)
      return event.channelName === this.channelName && event.type === config.eventType &&
        event.payload?.q === this.seq && event.payload?.t === this.sentUs
    } catch {
      return false
    }
  }

  fail (reason: string): void {
    if (this.state === CLOSED) return
    const wasReady = this.state === READY
    this.state = CLOSED
    clearTimeout(this.timer)
    this.link.destroy()
    if (wasReady) {
      if (!closing) {
        stats.dropped++
        this.endedUs = nowUs()
      }
    } else {
      this.settle(this, reason)
    }
  }

  /** Ends the stream with a RST, so that no port is left in TIME_WAIT for the next run. */
  reset (): void {
    this.state = CLOSED
    clearTimeout(this.timer)
    this.link.reset()
  }

  /** Distinct events this stream still misses out of `published` on its channel. */
  missing (published: number): number {
    return published - this.unique
  }
}

function connectAll (): Promise<ConnectReport> {
  const report: ConnectReport = {
    ready: 0,
    readyPerTarget: config.targets.map(() => 0),
    failed: 0,
    failures: {},
    startUs: nowUs(),
    endUs: 0,
    headLatency: headLatency.data(),
    readyLatency: readyLatency.data()
  }
  let next = config.from
  let active = 0
  return new Promise((resolve) => {
    const settle = (sub: Subscriber, failure?: string): void => {
      active--
      if (failure === undefined) {
        report.ready++
        report.readyPerTarget[sub.target]++
      } else {
        report.failed++
        report.failures[failure] = (report.failures[failure] ?? 0) + 1
      }
      launch()
    }
    const launch = (): void => {
      while (active < config.connectConcurrency && next < config.to) {
        active++
        subs.push(new Subscriber(next++, settle))
      }
      if (active === 0 && next >= config.to && report.endUs === 0) {
        report.endUs = nowUs()
        report.headLatency = headLatency.data()
        report.readyLatency = readyLatency.data()
        resolve(report)
      }
    }
    launch()
  })
}

function snapshot (resetLatency: boolean): Snapshot {
  const reply = { ...stats, latency: latency.data() }
  if (resetLatency) latency.reset()
  return reply
}

function ended (times: boolean): EndedReport {
  const report: EndedReport = { ended: 0, firstUs: 0, lastUs: 0, times: times ? new Float64Array(config.to - config.from) : undefined }
  for (const sub of subs) {
    if (sub.endedUs === 0) continue
    report.ended++
    if (report.firstUs === 0 || sub.endedUs < report.firstUs) report.firstUs = sub.endedUs
    if (sub.endedUs > report.lastUs) report.lastUs = sub.endedUs
    if (report.times !== undefined) report.times[sub.index - config.from] = sub.endedUs
  }
  return report
}

function finish (published: number[]): FinishReport {
  const report: FinishReport = { lost: 0, unacknowledged: 0, lossyStreams: 0 }
  for (const sub of subs) {
    if (!sub.everReady) continue
    const missing = sub.missing(published[sub.channel] ?? 0)
    if (missing > 0) {
      report.lost += missing
      report.lossyStreams++
    } else {
      report.unacknowledged -= missing
    }
  }
  return report
}

/**
 * BENCH_PROFILE_GENERATOR=<dir>: a CPU profile of each shard thread, written when it closes
 * (`node --cpu-prof` does not reach worker threads started this way).
 */
async function startProfiler (dir: string): Promise<{ stop (): Promise<void> }> {
  const { Session } = await import('node:inspector/promises')
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.start')
  return {
    async stop () {
      const { profile } = await session.post('Profiler.stop')
      mkdirSync(dir, { recursive: true })
      writeFileSync(join(dir, `shard-${config.from}-${process.pid}.cpuprofile`), JSON.stringify(profile))
    }
  }
}
const profileDir = process.env.BENCH_PROFILE_GENERATOR
const profiler = profileDir === undefined || profileDir === '' ? undefined : await startProfiler(profileDir)

const progress = setInterval(() => {
  port.postMessage({ progress: stats.deliveries, unique: stats.unique } satisfies ProgressReport)
}, PROGRESS_INTERVAL)
progress.unref()

port.on('message', async (message: ShardCommand) => {
  switch (message.cmd) {
    case 'connect':
      port.postMessage({ id: message.id, ...await connectAll() })
      break
    case 'snapshot':
      port.postMessage({ id: message.id, ...snapshot(message.resetLatency) })
      break
    case 'finish':
      port.postMessage({ id: message.id, ...finish(message.published) })
      break
    case 'ended':
      port.postMessage({ id: message.id, ...ended(message.times) })
      break
    case 'close':
      closing = true
      clearInterval(progress)
      for (const sub of subs) sub.reset()
      h2?.resetAll()
      await profiler?.stop()
      port.postMessage({ id: message.id })
      port.close()
      break
  }
})
