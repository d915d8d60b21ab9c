// The types of the hub's browser client (client.js). No DOM types are needed to use them.

/** A token, or nothing (the hub's cookie, or a hub without subscribeAuth). */
export type TokenValue = string | null | undefined

export interface ConnectOptions {
  /** The hub's base URL with its prefix, e.g. `https://hub.example.com/events`. */
  url: string
  /** The channels to receive (1 to 128 of `A-Z a-z 0-9 _ - . : @ /` each). May be empty until `subscribe`. */
  channels: string | readonly string[]
  /**
   * The presence identity of the connection. Tabs share a connection only with tabs that ask for
   * the same clientId (or none). Without one, the hub makes one on the first connect and the
   * client keeps it across reconnects. With `subscribeAuth` the token's `sub` is used instead.
   */
  clientId?: string
  /**
   * A JWT sent as `Authorization: Bearer`, or a function (possibly async) asked before each
   * connect and reconnect, so that a fresh token replaces one that expired. When tabs share a
   * connection, the leading tab's token is used.
   */
  token?: TokenValue | (() => TokenValue | Promise<TokenValue>)
  /**
   * Share one connection among the tabs of this origin in this browser (default true). Needs Web
   * Locks, BroadcastChannel, a secure context (https, or http on localhost) and fetch streaming;
   * without them each tab has its own connection.
   * @default true
   */
  share?: boolean
}

/** Where the client stands. */
export type HubStatus =
  /** Connecting or waiting to reconnect; `reason` says why it is not open (`draining`, `max-connections`, `HTTP 502`, `ended`..., or `no channels`: then it holds no connection). */
  | { state: 'connecting', reason?: string }
  /** Receiving; `resumed` when the hub replayed what was missed since the last event (else snapshots came). */
  | { state: 'open', resumed: boolean, clientId: string }
  /** Refused for good: a 400 (a bad request), 403 (the token does not allow a channel) or a 401 twice in a row. */
  | { state: 'refused', reason: string, statusCode: number }
  /** After `close()`. */
  | { state: 'closed' }

/** What comes with each event. */
export interface EventMeta<Type extends string = string> {
  /** The event's id (opaque, increasing). */
  id: string
  channel: string
  type: Type
}

/** A channel's last event, as a `lastEvent` snapshot gives it; `null` when nothing was published there. */
export type LastEvent<Events> = { [K in keyof Events]: { type: K, payload: Events[K] } }[keyof Events] | null

export interface HubClient<Events extends object = Record<string, unknown>> {
  /** The current status; `onStatus` tells each change. */
  readonly status: HubStatus
  /** This tab's channels. */
  readonly channels: string[]
  /** `alone` (a connection of its own), `leader` (this tab holds the shared connection) or `follower`. */
  readonly role: 'alone' | 'leader' | 'follower'
  /**
   * Calls `fn(payload, { id, channel, type })` for each event of `type` on this tab's channels,
   * `payload` being the JSON value that was published. Returns a function that removes it.
   */
  on<Type extends keyof Events & string> (type: Type, fn: (payload: Events[Type], meta: EventMeta<Type>) => void): () => void
  /** Every event, whatever its type (not with the EventSource fallback, which hears only the types listened to). */
  on (type: '*', fn: (payload: Events[keyof Events], meta: EventMeta<keyof Events & string>) => void): () => void
  /** A channel's last event, sent once per channel when a connection starts without resuming. */
  on (type: 'lastEvent', fn: (last: LastEvent<Events>, meta: { id: undefined, channel: string, type: 'lastEvent' }) => void): () => void
  off (type: string, fn: (...args: any[]) => void): void
  /** Calls `fn` on each status change. Returns a function that removes it. */
  onStatus (fn: (status: HubStatus) => void): () => void
  /**
   * Adds channels. The hub cannot change an open stream's channels: the connection starts over
   * with the new set from its last event id, so nothing is lost on the others.
   */
  subscribe (channels: string | readonly string[]): void
  /** Removes channels (the connection starts over without them). */
  unsubscribe (channels: string | readonly string[]): void
  /** Ends the connection (another tab takes it over if it was shared). */
  close (): void
}

/**
 * Connects to the hub. `Events` maps each event type to its payload's type.
 * @throws TypeError for a channel name the hub would refuse
 */
export function connect<Events extends object = Record<string, unknown>> (options: ConnectOptions): HubClient<Events>
