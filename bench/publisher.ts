/**
 * The publisher: one keep-alive connection with pipelined POSTs, at most `depth` unanswered.
 * One connection keeps every channel's events in publish order, so that any reordering the
 * subscribers see is the server's. Each event's payload is `{"q":seq,"t":sendTimeUs,"x":pad}`,
 * padded to `payloadBytes`, with seq counting from 1 per channel and t stamped when the request
 * is written.
 */
import { connect, type Socket } from 'node:net'
import { nowUs } from './measure.js'
import { dialTls } from './tls.js'
import { ResponseReader } from './wire.js'

/**
 * How a server takes events. The hub: one `POST /publish {"events":[...]}` per batch. nchan: one
 * POST per event to `/publish?channel=<id>` whose body is the event, so that its subscribers get
 * the same `data:` line as the hub's.
 */
export type PublishProtocol = 'hub' | 'nchan'

export interface PublisherOptions {
  host: string
  port: number
  protocol: PublishProtocol
  channelPrefix: string
  channels: number
  /** Subscribers on channel i: for the deliveries a publish is expected to cause. */
  subscribers: number
  /** Events per batch; a batch goes to consecutive channels, round robin. */
  batch: number
  /** Batches per second; 0: as fast as acknowledged. */
  rate: number
  /** Unanswered requests at most. */
  depth: number
  /**
   * Flow control: no new batch while more than this many deliveries per subscriber are
   * outstanding (published but not yet seen by the load generator). 0: none.
   */
  window: number
  payloadBytes: number
  eventType: string
  /** Check every reply body (the hub's `published` count). */
  verify: boolean
  /** PEM of the server's certificate: publish over TLS (HTTP/1.1, pipelined all the same). */
  ca?: string
}

interface Pending {
  /** Channel index and seq of each event. */
  channels: number[]
  seqs: number[]
}

export class Publisher {
  /** Events acknowledged per channel: what each of its subscribers should get. */
  readonly acknowledged: number[]
  readonly stats = { batches: 0, requests: 0, acknowledgedRequests: 0, events: 0, acknowledgedEvents: 0, errors: 0, skippedBatches: 0 }
  /** Deliveries the acknowledged events should cause, and those of all sent events. */
  expectedDeliveries = 0
  sentDeliveries = 0
  /** Deliveries the subscribers reported so far (set by the coordinator). */
  delivered = 0
  firstError: string | undefined
  private readonly seqs: number[]
  private readonly queue: Pending[] = []
  private readonly inflight: Pending[] = []
  private readonly reader: ResponseReader
  private socket: Socket | undefined
  private cursor = 0
  private startedUs = 0
  private running = false
  private timer: NodeJS.Timeout | undefined
  private status = 0
  private body = ''
  private idleWaiters: (() => void)[] = []
  private readonly pad: string
  private readonly host: string

  constructor (private readonly options: PublisherOptions) {
    this.acknowledged = new Array<number>(options.channels).fill(0)
    this.seqs = new Array<number>(options.channels).fill(0)
    this.pad = 'x'.repeat(options.payloadBytes)
    this.host = `${options.host}:${options.port}`
    this.reader = new ResponseReader({
      onHead: (status) => { this.status = status },
      onBody: (buf, start, end) => { if (this.options.verify) this.body += buf.toString('utf8', start, end) },
      onEnd: () => this.answered()
    })
  }

  /** Subscribers of channel `i` (subscriber `s` is on channel `s % channels`). */
  subscribersOn (channel: number): number {
    const { subscribers, channels } = this.options
    return Math.floor(subscribers / channels) + (channel < subscribers % channels ? 1 : 0)
  }

  async open (): Promise<void> {
    const { host, port, ca } = this.options
    const socket = ca === undefined ? connect({ host, port, noDelay: true }) : dialTls({ host, port, ca, alpn: 'http/1.1' }).socket
    await new Promise<void>((resolve, reject) => {
      socket.once(ca === undefined ? 'connect' : 'secureConnect', resolve)
      socket.once('error', reject)
    })
    socket.on('data', (buf: Buffer) => {
      try {
        this.reader.feed(buf)
      } catch (err) {
        this.fail(`bad reply: ${(err as Error).message}`)
      }
    })
    socket.on('error', (err) => this.fail(`publisher socket: ${err.message}`))
    socket.on('close', () => this.fail('publisher connection closed'))
    this.socket = socket
  }

  start (): void {
    this.running = true
    this.startedUs = nowUs()
    this.timer = setInterval(() => this.pump(), 1)
    this.pump()
  }

  /** Stops making batches; resolves when every request sent was answered (or failed). */
  async stop (): Promise<void> {
    this.running = false
    clearInterval(this.timer)
    this.queue.length = 0
    if (this.inflight.length === 0) return
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve))
  }

  /**
   * Publishes one batch now, outside start/stop and flow control (a probe of an idle server);
   * resolves when it is answered or the connection failed.
   */
  async probe (): Promise<void> {
    if (this.socket === undefined || this.socket.destroyed) throw new Error(this.firstError ?? 'publisher not open')
    this.makeBatch()
    this.pump()
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve))
  }

  close (): void {
    this.running = false
    clearInterval(this.timer)
    this.socket?.destroy()
  }

  /** The coordinator's latest count of deliveries: may open the flow-control window. */
  progress (delivered: number): void {
    this.delivered = delivered
    if (this.running) this.pump()
  }

  private mayStartBatch (): boolean {
    const { rate, window, subscribers } = this.options
    if (!this.running || this.queue.length > 0) return false
    if (rate > 0 && this.stats.batches >= (nowUs() - this.startedUs) / 1e6 * rate) return false
    if (window > 0 && this.sentDeliveries - this.delivered > window * subscribers) return false
    return true
  }

  /** Makes batches while allowed and writes requests while fewer than `depth` are unanswered. */
  private pump (): void {
    const socket = this.socket
    if (socket === undefined || socket.destroyed) return
    let corked = false
    for (let guard = 0; guard < 10_000; guard++) {
      if (this.queue.length === 0 && this.mayStartBatch()) this.makeBatch()
      if (this.queue.length === 0 || this.inflight.length >= this.options.depth) break
      const pending = this.queue.shift() as Pending
      if (!corked) {
        socket.cork()
        corked = true
      }
      socket.write(this.request(pending))
      this.inflight.push(pending)
      this.stats.requests++
    }
    if (corked) socket.uncork()
  }

  private makeBatch (): void {
    const { batch, channels, protocol } = this.options
    const batchChannels: number[] = []
    const batchSeqs: number[] = []
    for (let i = 0; i < batch; i++) {
      const channel = this.cursor
      this.cursor = (this.cursor + 1) % channels
      batchChannels.push(channel)
      batchSeqs.push(++this.seqs[channel])
      this.sentDeliveries += this.subscribersOn(channel)
    }
    this.stats.batches++
    this.stats.events += batch
    if (protocol === 'hub') {
      this.queue.push({ channels: batchChannels, seqs: batchSeqs })
    } else {
      for (let i = 0; i < batch; i++) this.queue.push({ channels: [batchChannels[i]], seqs: [batchSeqs[i]] })
    }
  }

  private event (channel: number, seq: number, t: number): string {
    const { channelPrefix, eventType, payloadBytes } = this.options
    const head = `{"q":${seq},"t":${t},"x":"`
    const pad = this.pad.slice(0, Math.max(0, payloadBytes - head.length - 2))
    return `{"channelName":"${channelPrefix}${channel}","type":"${eventType}","payload":${head}${pad}"}}`
  }

  private request (pending: Pending): string {
    const t = nowUs()
    let path: string
    let body: string
    if (this.options.protocol === 'hub') {
      path = '/publish'
      body = `{"events":[${pending.channels.map((channel, i) => this.event(channel, pending.seqs[i], t)).join(',')}]}`
    } else {
      path = `/publish?channel=${this.options.channelPrefix}${pending.channels[0]}`
      body = this.event(pending.channels[0], pending.seqs[0], t)
    }
    return `POST ${path} HTTP/1.1\r\nHost: ${this.host}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${body.length}\r\n\r\n${body}`
  }

  private answered (): void {
    const pending = this.inflight.shift()
    const status = this.status
    const body = this.body
    this.body = ''
    if (pending === undefined) return this.fail('reply without a request')
    let ok = status >= 200 && status < 300
    if (ok && this.options.verify && this.options.protocol === 'hub') {
      try {
        ok = JSON.parse(body).published === pending.channels.length
      } catch {
        ok = false
      }
    }
    if (ok) {
      this.stats.acknowledgedRequests++
      this.stats.acknowledgedEvents += pending.channels.length
      for (const channel of pending.channels) {
        this.acknowledged[channel]++
        this.expectedDeliveries += this.subscribersOn(channel)
      }
    } else {
      this.stats.errors++
      this.firstError ??= `status ${status}: ${body.slice(0, 200)}`
    }
    if (this.inflight.length === 0) this.wakeIdle()
    if (this.running) this.pump()
  }

  private fail (reason: string): void {
    if (this.socket === undefined) return
    const lost = this.inflight.length
    this.stats.errors += lost
    if (lost > 0 || this.running) this.firstError ??= reason
    this.inflight.length = 0
    this.running = false
    clearInterval(this.timer)
    this.socket.destroy()
    this.socket = undefined
    this.wakeIdle()
  }

  private wakeIdle (): void {
    for (const wake of this.idleWaiters.splice(0)) wake()
  }
}
