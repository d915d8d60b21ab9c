import type { Connection } from '../connection.js'
import { badPresenceFlag } from '../../base/errors.js'
import type { ClientRegistry } from '../../registry/registry.js'
import { onlinePresenceFrame } from './frames.js'

/** The timing presence runs with (documented in `HubConfigSchema`). */
export interface PresenceOptions {
  /** ms: at most one `online-presence` update per interval. */
  presenceInterval: number
}

/**
 * The compat `online-presence` list of `presence=1` streams: every connected clientId, sent on
 * connect and again whenever the set changes. Updates are coalesced: the list is read and its
 * frame built at most once per `presenceInterval`, and every follower gets the same Buffer.
 */
export class OnlineList {
  /** `presence=1` connections → the version of the list they were last sent. */
  private readonly followers = new Map<Connection, number>()
  /** Bumped whenever a clientId joins or leaves. */
  private version = 0
  /** The last `online-presence` frame built, and the version it shows. */
  private latest: { version: number, frame: Buffer } | undefined
  private lastUpdateAt = -Infinity
  private updateTimer: NodeJS.Timeout | undefined
  private updating = false
  private closed = false

  constructor (private readonly registry: ClientRegistry, private readonly options: PresenceOptions) {}

  /**
   * Sends a `presence=1` connection the list of connected clientIds, and again whenever it
   * changes. Now when the last list built is current; otherwise with the next update, so that a
   * burst of such connects builds the list once per interval, not once per connect.
   */
  follow (connection: Connection): void {
    if (this.latest !== undefined && this.latest.version === this.version) {
      connection.writeNow(this.latest.frame)
      this.followers.set(connection, this.version)
    } else {
      this.followers.set(connection, -1)
      this.requestUpdate()
    }
  }

  /** Forgets a closed connection. */
  forget (connection: Connection): void {
    this.followers.delete(connection)
  }

  /** The set of clientIds changed: followers are due an update. */
  changed (): void {
    this.version++
    if (this.followers.size > 0) this.requestUpdate()
  }

  /** Stops the update timer; the streams themselves are ended by the hub. */
  close (): void {
    this.closed = true
    clearTimeout(this.updateTimer)
  }

  /**
   * Coalescing: an update goes out at once when the last one is at least `presenceInterval` old,
   * else when it is; changes until then are merged into that one update, which reads the set
   * when it is built. One update in flight at a time: one that finds the set changed meanwhile
   * asks for the next.
   */
  private requestUpdate (): void {
    if (this.updateTimer !== undefined || this.updating || this.closed) return
    const wait = this.lastUpdateAt + this.options.presenceInterval - Date.now()
    if (wait <= 0) this.update()
    else this.updateTimer = setTimeout(this.onUpdateTimer, wait).unref()
  }

  private readonly onUpdateTimer = (): void => {
    this.updateTimer = undefined
    this.update()
  }

  /** Reads the set once, for every follower. */
  private update (): void {
    if (this.followers.size === 0 || this.closed) return
    this.updating = true
    this.lastUpdateAt = Date.now()
    const version = this.version
    this.registry.clientIds().then((clientIds) => {
      this.updating = false
      this.send(version, clientIds)
    }, () => {
      // A store that is down for now: try again one interval later.
      this.updating = false
      this.requestUpdate()
    })
  }

  /** Builds the frame once and writes that one Buffer to every follower that has not seen it. */
  private send (version: number, clientIds: readonly string[]): void {
    if (this.closed) return
    const frame = onlinePresenceFrame(clientIds)
    this.latest = { version, frame }
    for (const [connection, sent] of this.followers) {
      if (sent >= version) continue
      connection.writeNow(frame)
      this.followers.set(connection, version)
    }
    if (this.version !== version) this.requestUpdate()
  }
}

/** The `presence` flag of a subscribe: `1`/`true` on, `0`/`false`/absent off, anything else a 400. */
export function presenceFlag (value: string | undefined): boolean {
  if (value === undefined || value === '0' || value === 'false') return false
  if (value === '1' || value === 'true') return true
  throw badPresenceFlag(value)
}
