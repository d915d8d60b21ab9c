import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import { brokerDown } from '../base/errors.js'
import type { Logger } from '../base/logger.js'
import { COMMAND_TIMEOUT, whenReady } from '../redis/connection.js'
import { redisKeys } from '../redis/keys.js'
import { pause, StreamReader } from '../redis/stream-reader.js'
import type { SharedSubscriberIndex } from '../broker/broker.js'
import { PresenceReads, presenceRead, type PresenceScripts, splitList } from './redis-presence-reads.js'
import { ADD_SCRIPT, CHANNEL_PAGE_SCRIPT, CLIENT_PAGE_SCRIPT, REAP_SCRIPT, REMOVE_SCRIPT, RENEW_SCRIPT, SNAPSHOT_SCRIPT } from './redis-scripts.js'
import type {
  ChannelUse, ChannelUsePage, ClientInfo, ClientPage, ClientRegistry, PresenceChange, PresenceSnapshot, RegisteredConnection
} from './registry.js'

export interface RedisRegistryOptions {
  /** A connection for commands; the registry never closes it. */
  redis: Redis
  /** Every key starts with it, so several hubs can share one Redis. */
  prefix: string
  /** ms within which the clients of a node that stopped renewing its lease leave. */
  presenceTtl: number
  logger?: Logger
  /** Changes kept for nodes that read them late. @default 10000 */
  changeBacklog?: number
}

type Scripts = PresenceScripts & Record<'presenceAdd' | 'presenceRemove' | 'presenceReap' | 'presenceRenew' | 'presenceSnapshot', (...args: string[]) => Promise<unknown>>

/** ms a blocking read of the change stream waits before it looks again. */
const READ_BLOCK = 1000
/** Changes one read takes at most. */
const READ_COUNT = 1000
/** Connections a reap removes per script call, so that Redis is never blocked for long. */
const REAP_STEP = 500

/**
 * The cluster-wide registry: every node's connections in one Redis, read by any node. Each
 * connection opening or closing is one script, which also appends the change it made to a stream
 * that every node reads in order, so every node reports the same changes in the same order.
 *
 * Each node holds a lease that it renews every third of `presenceTtl` and that lasts two thirds
 * of it; a node that finds another's lease ended removes that node's connections, so the clients
 * of a node that died leave within `presenceTtl`. A node whose write failed (Redis away) or whose
 * lease ended (it was paused) puts its connections right when Redis answers again: it compares
 * what Redis holds for it with what it has, and removes and adds the difference.
 */
export class RedisClientRegistry implements ClientRegistry {
  readonly nodeId = randomBytes(6).toString('hex')
  readonly subscriberIndex: SharedSubscriberIndex
  private readonly listeners: Array<(change: PresenceChange) => void> = []
  private readonly resetListeners: Array<() => void> = []
  /** This node's open connections and their ids in Redis. */
  private readonly local = new Map<RegisteredConnection, string>()
  private nextConnId = 0
  /** True while Redis may not hold exactly this node's connections: `repair` puts it right. */
  private stale = false
  private repairing: Promise<void> | undefined
  /** Writes sent and not answered. */
  private readonly inFlight = new Set<Promise<unknown>>()
  private readonly scripts: Scripts
  private readonly reads: PresenceReads
  private readonly reader: StreamReader
  private readonly prefix: string
  /** Number of the last change reported. */
  private lastSeq = 0
  private readonly catchingUp: Array<{ seq: number, resolve: () => void }> = []
  private reading: Promise<void> | undefined
  private renewTimer: NodeJS.Timeout | undefined
  /** Whether the lease was taken once: after that, an ended lease means the node was away. */
  private renewed = false
  private closed = false

  constructor (private readonly options: RedisRegistryOptions) {
    const { redis, prefix } = options
    this.prefix = prefix
    this.subscriberIndex = { redisHash: redisKeys(prefix).subscribers }
    const scripts = { presenceAdd: ADD_SCRIPT, presenceRemove: REMOVE_SCRIPT, presenceReap: REAP_SCRIPT, presenceRenew: RENEW_SCRIPT, presenceSnapshot: SNAPSHOT_SCRIPT, presenceClients: CLIENT_PAGE_SCRIPT, presenceChannels: CHANNEL_PAGE_SCRIPT }
    for (const [name, lua] of Object.entries(scripts)) redis.defineCommand(name, { numberOfKeys: 0, lua })
    this.scripts = redis as unknown as Scripts
    this.reads = new PresenceReads(redis, prefix, this.scripts)
    this.reader = new StreamReader(redis, this.key('changes'), READ_COUNT, READ_BLOCK)
  }

  onChange (listener: (change: PresenceChange) => void): void {
    this.listeners.push(listener)
  }

  onReset (listener: () => void): void {
    this.resetListeners.push(listener)
  }

  /** Takes the lease and starts reading changes from the current one on. */
  async ready (): Promise<void> {
    await Promise.all([whenReady(this.options.redis), this.reader.ready()])
    this.lastSeq = Number(await this.options.redis.get(this.key('seq')) ?? 0)
    await this.renew()
    this.reading = this.readLoop()
  }

  add (connection: RegisteredConnection): void {
    if (this.closed || this.local.has(connection)) return
    const connId = (this.nextConnId++).toString(36)
    this.local.set(connection, connId)
    if (!this.stale) this.write(this.addArgs(connection, connId), 'presenceAdd')
  }

  remove (connection: RegisteredConnection): void {
    const connId = this.local.get(connection)
    if (connId === undefined || this.closed) return
    this.local.delete(connection)
    if (!this.stale) this.write([this.prefix, this.backlog(), this.nodeId, connId], 'presenceRemove')
  }

  /**
   * Resolves once every write sent so far was answered (any repair done) and every change in Redis was reported here: for tests.
   * @internal
   */
  async settled (): Promise<void> {
    while (this.inFlight.size > 0 || this.repairing !== undefined) {
      await Promise.allSettled([...this.inFlight, this.repairing])
    }
    await this.caughtUp(Number(await this.options.redis.get(this.key('seq')) ?? 0))
  }

  get (clientId: string): Promise<ClientInfo | undefined> {
    return this.reads.get(clientId)
  }

  clients (query: { channel?: string, limit: number, cursor?: string }): Promise<ClientPage> {
    return this.reads.clients(query)
  }

  clientIds (): Promise<string[]> {
    return this.reads.clientIds()
  }

  /** Answers once every change the snapshot shows was reported here, so that none comes after it. */
  async snapshot (channels?: readonly string[]): Promise<PresenceSnapshot> {
    const reply = await presenceRead(async () => await this.scripts.presenceSnapshot(this.prefix, ...channels ?? []) as string[])
    const seq = Number(reply[0])
    const clients = []
    for (let i = 1; i + 1 < reply.length; i += 2) clients.push({ clientId: reply[i], channels: splitList(reply[i + 1]) })
    await this.caughtUp(seq)
    return { clients, seq }
  }

  channel (name: string): Promise<ChannelUse> {
    return this.reads.channel(name)
  }

  channels (query: { limit: number, cursor?: string }): Promise<ChannelUsePage> {
    return this.reads.channels(query)
  }

  /** Stops renewing and reading, and takes this node's connections out (when Redis answers). */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearTimeout(this.renewTimer)
    for (const waiting of this.catchingUp) waiting.resolve()
    // Writes fail within the command timeout when Redis is away; a repair stops at its next step.
    await Promise.allSettled([...this.inFlight])
    try {
      while (Number(await this.scripts.presenceReap(this.prefix, this.backlog(), this.nodeId, String(REAP_STEP), '1')) > 0);
    } catch (err) {
      this.options.logger?.warn(`presence: this node's clients could not be taken out of Redis (${(err as Error).message}); other nodes remove them when its lease ends`)
    }
    this.reader.close()
    await this.reading
  }

  private addArgs (connection: RegisteredConnection, connId: string): string[] {
    return [this.prefix, this.backlog(), this.nodeId, connId, connection.clientId, String(connection.connectedAt), ...connection.channelNames]
  }

  /** Sends one write; a failure leaves Redis unsure of this node's connections until `repair`. */
  private write (args: string[], script: 'presenceAdd' | 'presenceRemove'): void {
    const sent: Promise<unknown> = this.scripts[script](...args)
      .catch(() => { this.markStale() })
      .finally(() => this.inFlight.delete(sent))
    this.inFlight.add(sent)
  }

  private markStale (): void {
    if (this.closed) return
    this.stale = true
    this.repairing ??= this.repair().finally(() => { this.repairing = undefined })
  }

  /**
   * Makes Redis hold exactly this node's connections: once Redis answers, reads the ids it holds
   * for this node, removes those that closed, adds those missing. Connections that open or close
   * meanwhile make it go round again.
   */
  private async repair (): Promise<void> {
    while (this.stale && !this.closed) {
      if (this.options.redis.status !== 'ready') {
        await pause(250)
        continue
      }
      try {
        await Promise.allSettled([...this.inFlight])
        this.stale = false
        const held = new Set(await this.options.redis.hkeys(this.key(`node:${this.nodeId}`)))
        const open = new Map([...this.local].map(([connection, connId]) => [connId, connection]))
        const writes: Array<Promise<unknown>> = []
        for (const connId of held) {
          if (!open.has(connId)) writes.push(this.scripts.presenceRemove(this.prefix, this.backlog(), this.nodeId, connId))
        }
        for (const [connId, connection] of open) {
          if (!held.has(connId)) writes.push(this.scripts.presenceAdd(...this.addArgs(connection, connId)))
        }
        await Promise.all(writes)
      } catch {
        this.stale = true
        await pause(250)
      }
    }
  }

  /** Renews the lease (repairing when it had ended), removes the connections of nodes whose lease ended, and plans the next renewal. */
  private async renew (): Promise<void> {
    const lease = Math.round(this.options.presenceTtl * 2 / 3)
    const [lost, ...dead] = await this.scripts.presenceRenew(this.prefix, this.nodeId, String(lease)) as [number, ...string[]]
    if (lost === 1 && this.renewed) {
      // Paused past its lease, or Redis lost its data: its clients may have been removed.
      this.options.logger?.warn(`presence: this node's lease in Redis had ended; its ${this.local.size} clients are put back`)
      this.markStale()
      for (const listener of this.resetListeners) listener()
    }
    this.renewed = true
    for (const node of dead) {
      let rest
      while ((rest = Number(await this.scripts.presenceReap(this.prefix, this.backlog(), node, String(REAP_STEP), '0'))) > 0);
      if (rest === 0) this.options.logger?.info(`presence: node ${node} stopped renewing its lease; its clients left`)
    }
    this.scheduleRenewal()
  }

  private scheduleRenewal (): void {
    if (this.closed) return
    this.renewTimer = setTimeout(() => {
      this.renew().catch(() => { this.scheduleRenewal() })
    }, Math.round(this.options.presenceTtl / 3)).unref()
  }

  /** Reports every change of the stream in order, from the one after `lastSeq`. */
  private async readLoop (): Promise<void> {
    await this.reader.follow({
      after: () => `${this.lastSeq}-0`,
      onEntries: (entries) => {
        for (const [entryId, fields] of entries) {
          const seq = Number(entryId.split('-')[0])
          if (seq !== this.lastSeq + 1) this.lostChanges(seq - 1)
          this.lastSeq = seq
          this.report(changeOf(seq, fields))
        }
        this.wakeCaughtUp()
      },
      onNothing: async () => {
        // Nothing new for a while: Redis may have lost its data, and numbers changes from 1 again.
        const seq = Number(await this.options.redis.get(this.key('seq')).catch(() => this.lastSeq) ?? 0)
        if (seq < this.lastSeq) this.lostChanges(seq)
      }
    })
  }

  /** Changes were trimmed before this node read them, or Redis lost them: what was built from them is stale. */
  private lostChanges (seq: number): void {
    this.lastSeq = seq
    this.options.logger?.warn('presence: changes did not reach this node (it fell behind, or Redis lost its data); presence streams are restarted')
    for (const listener of this.resetListeners) listener()
    this.wakeCaughtUp()
  }

  private report (change: PresenceChange): void {
    for (const listener of this.listeners) listener(change)
  }

  private caughtUp (seq: number): Promise<void> {
    if (seq <= this.lastSeq || this.closed) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(brokerDown('presence', 'the changes of Redis did not reach this node in time'))
      }, COMMAND_TIMEOUT)
      this.catchingUp.push({ seq, resolve: () => { clearTimeout(timer); resolve() } })
    })
  }

  private wakeCaughtUp (): void {
    for (let i = this.catchingUp.length - 1; i >= 0; i--) {
      if (this.catchingUp[i].seq > this.lastSeq) continue
      this.catchingUp[i].resolve()
      this.catchingUp.splice(i, 1)
    }
  }

  private key (name: string): string {
    return `${this.prefix}presence:${name}`
  }

  private backlog (): string {
    return String(this.options.changeBacklog ?? 10_000)
  }
}

/** A change as the stream holds it (its fields: redis-scripts.ts). */
export function changeOf (seq: number, list: string[]): PresenceChange {
  const fields: Record<string, string> = {}
  for (let i = 0; i + 1 < list.length; i += 2) fields[list[i]] = list[i + 1]
  return {
    join: fields.j === '1',
    clientId: fields.c,
    whole: fields.w === '1',
    changed: splitList(fields.x),
    channels: splitList(fields.n),
    occupancy: splitList(fields.o ?? ''),
    at: Number(fields.t),
    seq
  }
}
