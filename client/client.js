/* global queueMicrotask */
// The hub's browser client: `connect()` to channels, listen to event types. Without a bundler:
// `import { connect } from 'https://hub.example.com/events/client.js'`. Types: client.d.ts.
import { canStream, openStream, withParam } from './client-stream.js'
import { canShare, share } from './client-share.js'

/** A channel name as the hub accepts it. */
const CHANNEL = /^[\w\-.:@/]{1,128}$/
/** Ids of recent events each tab remembers, to drop the overlap of a replay. */
const RECENT = 1000
/** The status of a client without channels, which holds no connection. @type {Status} */
const IDLE = { state: 'connecting', reason: 'no channels' }

/**
 * @typedef {import('./client-stream.js').TokenOption} TokenOption
 * @typedef {import('./client-stream.js').Status} Status
 * @typedef {import('./client-stream.js').Message} Message
 * @typedef {{ lastId?: string, clientId?: string }} Position
 * @typedef {{ restart: () => void, close: () => void, listen: (type: string) => void, lastId: string | undefined, channels: string[] }} Lead
 */

/** @param {string | string[]} channels */
const list = (channels) => typeof channels === 'string' ? [channels] : [...channels]

/** Whether two channel lists hold the same names. @param {string[]} a @param {string[]} b */
const same = (a, b) => a.length === b.length && a.every((name) => b.includes(name))

/**
 * Opens the hub's stream of `channels()` (asked before each attempt) and posts what it brings.
 * @param {{ base: string, token?: TokenOption, clientId?: string, types: { keys (): Iterable<string> } }} o the hub, and the event types listened to
 * @param {() => string[]} channels
 * @param {(m: Message) => void} post
 * @param {Position} at where the stream resumes, and the clientId it had
 * @returns {Lead}
 */
function lead (o, channels, post, at) {
  let clientId = o.clientId ?? at.clientId
  /** @type {string[]} */
  let current = []
  const stream = openStream({
    lastId: at.lastId,
    token: o.token,
    session: `${o.base}/session`,
    types: ['registered', 'lastEvent', 'message', ...o.types.keys()],
    url () {
      current = channels()
      const url = `${o.base}/subscribe?channels=${encodeURIComponent(current.join(','))}`
      return clientId === undefined ? url : withParam(url, 'clientId', clientId)
    },
    onStatus (s) {
      if (s.state !== 'open') post({ t: 'st', s })
    },
    onEvent (type, data, id) {
      const d = JSON.parse(data)
      if (type === 'registered') {
        const { clientId: cid, resumed } = JSON.parse(d.payload)
        clientId = cid
        post({ t: 'st', s: { state: 'open', resumed, clientId: cid }, chs: current, id })
      } else if (type === 'lastEvent') {
        post({ t: 's', ch: d.channelName, p: d.payload === '{}' ? null : JSON.parse(d.payload) })
      } else {
        post({ t: 'e', id, type, ch: d.channelName, p: d.payload })
      }
    }
  })
  // The channels of the attempt under way, read when they may have changed.
  return Object.defineProperty(stream, 'channels', { get: () => current })
}

/**
 * Keeps a leader's stream in step with `channels()`: opened while there are some, restarted
 * (from the same position) when they change, closed while there are none.
 * @param {() => Lead} start
 * @param {() => string[]} channels
 */
function steer (start, channels) {
  /** @type {Lead | undefined} */
  let stream
  return {
    update () {
      const now = channels()
      if (now.length === 0) this.close()
      else if (stream === undefined) stream = start()
      else if (!same(now, stream.channels)) stream.restart()
    },
    close () {
      stream?.close()
      stream = undefined
    },
    /** @param {string} type */
    listen (type) { stream?.listen(type) }
  }
}

/** Throws on a name the hub would refuse. @param {string[]} names */
function check (names) {
  const bad = names.find((name) => !CHANNEL.test(name))
  if (bad !== undefined) throw new TypeError(`${JSON.stringify(bad)} is not a channel name (1 to 128 of A-Z a-z 0-9 _ - . : @ /)`)
  return names
}

/**
 * Connects to the hub at `url` (its base URL with the prefix) for `channels`. See client.d.ts.
 * @param {{ url: string, channels: string | string[], clientId?: string, token?: TokenOption, share?: boolean }} options
 */
export function connect (options) {
  const base = String(options.url).replace(/\/+$/, '')
  /** @type {Map<string, Set<Function>>} */
  const listeners = new Map()
  /** @type {Set<(status: Status) => void>} */
  const watchers = new Set()
  /** @type {Set<string>} */
  const seen = new Set()
  let channels = check([...new Set(list(options.channels))])
  /** @type {Status} */
  let status = { state: 'connecting' }
  /** @type {Message | undefined} the last status message, checked again when the channels change */
  let stated
  /** @type {Position} where the stream this tab reads stands: what a new leader resumes from */
  const at = {}

  /** @param {Status} next */
  function setStatus (next) {
    if (status.state === 'closed' || JSON.stringify(next) === JSON.stringify(status)) return
    status = next
    for (const fn of watchers) call(fn, next)
  }

  /** @param {Function} fn @param {unknown[]} args */
  function call (fn, ...args) {
    try {
      fn(...args)
    } catch (err) {
      // A listener's error must not stop the stream: it is reported as uncaught, after.
      queueMicrotask(() => { throw err })
    }
  }

  /** @param {string} type @param {unknown} payload @param {object} meta */
  function emit (type, payload, meta) {
    for (const fn of listeners.get(type) ?? []) call(fn, payload, meta)
    if (type !== 'lastEvent') for (const fn of listeners.get('*') ?? []) call(fn, payload, meta)
  }

  /** What the leader (this tab's stream or another tab's) hands over. @param {Message} m */
  function deliver (m) {
    if (m.id) at.lastId = m.id
    if (m.t === 'e') {
      if (m.id) {
        if (seen.has(m.id)) return
        seen.add(m.id)
        if (seen.size > RECENT) seen.delete(/** @type {string} */ (seen.values().next().value))
      }
      if (channels.includes(m.ch)) emit(m.type, m.p, { id: m.id, channel: m.ch, type: m.type })
    } else if (m.t === 's') {
      if (channels.includes(m.ch)) emit('lastEvent', m.p, { id: undefined, channel: m.ch, type: 'lastEvent' })
    } else {
      stated = m
      const s = m.s
      if (s.state === 'open') at.clientId = s.clientId
      // Open for this tab once the stream holds its channels (the leader is adding them).
      setStatus(channels.length === 0 ? IDLE : s.state !== 'open' || channels.every((name) => m.chs?.includes(name)) ? s : { state: 'connecting' })
    }
  }

  const o = { base, token: options.token, clientId: options.clientId, types: listeners }
  /** @type {(channels: () => string[], post: (m: Message) => void) => Lead} */
  const start = (channels, post) => lead(o, channels, post, at)
  const tab = { channels: () => channels, deliver, at }
  /** @type {{ update (): void, close (): void, listen (type: string): void, role: 'alone' | 'leader' | 'follower' }} */
  const link = options.share !== false && canStream && canShare()
    ? share(`sse-hub ${base} ${options.clientId ?? ''}`, tab, (channels, post) => steer(() => start(channels, post), channels))
    : Object.assign(steer(() => start(tab.channels, deliver), tab.channels), { role: /** @type {'alone'} */ ('alone') })
  link.update()
  if (channels.length === 0) setStatus(IDLE)

  /** @param {string | string[]} names @param {boolean} add */
  function change (names, add) {
    const given = check(list(names))
    if (status.state === 'closed') return
    const next = add ? [...new Set([...channels, ...given])] : channels.filter((name) => !given.includes(name))
    if (same(next, channels)) return
    channels = next
    link.update()
    if (stated !== undefined) deliver(stated)
    else if (channels.length === 0) setStatus(IDLE)
  }

  /** @param {string} type @param {Function} fn */
  function off (type, fn) {
    listeners.get(type)?.delete(fn)
  }

  return {
    get status () { return status },
    get channels () { return [...channels] },
    get role () { return link.role },
    /** @param {string} type @param {Function} fn */
    on (type, fn) {
      if (!listeners.has(type)) {
        listeners.set(type, new Set())
        link.listen(type)
      }
      listeners.get(type)?.add(fn)
      return () => off(type, fn)
    },
    off,
    /** @param {(status: Status) => void} fn */
    onStatus (fn) {
      watchers.add(fn)
      return () => { watchers.delete(fn) }
    },
    /** @param {string | string[]} names */
    subscribe (names) { change(names, true) },
    /** @param {string | string[]} names */
    unsubscribe (names) { change(names, false) },
    close () {
      link.close()
      setStatus({ state: 'closed' })
    }
  }
}
