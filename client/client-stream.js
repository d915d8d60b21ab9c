/* global fetch, AbortController, TextDecoderStream, ReadableStream, Response, EventSource, setTimeout, clearTimeout */
// One SSE stream of the hub that keeps itself open: read with fetch (the token goes as a header,
// the position as Last-Event-ID, never in the URL), EventSource where a fetch body cannot stream.
// The hub's client and the dashboard's live reads both use it.

/** The longest wait between two attempts, in ms. */
const MAX_DELAY = 30000

/** Whether this browser reads a fetch body as a stream (else EventSource). */
export const canStream = typeof ReadableStream === 'function' && typeof TextDecoderStream === 'function' &&
  typeof Response === 'function' && 'body' in Response.prototype

/**
 * @typedef {{ state: 'connecting', reason?: string } | { state: 'open' } | { state: 'refused', reason: string, statusCode: number }} StreamStatus
 * @typedef {string | null | undefined} TokenValue
 * @typedef {TokenValue | (() => TokenValue | Promise<TokenValue>)} TokenOption
 * @typedef {{ state: 'connecting', reason?: string } | { state: 'open', resumed: boolean, clientId: string } | { state: 'refused', reason: string, statusCode: number } | { state: 'closed' }} Status
 * What a hub stream's leader hands to the tabs: an event, a `lastEvent` snapshot, or a status with
 * the channels of the stream (a tab is open once they hold its own).
 * @typedef {{ t: 'e', id: string | undefined, type: string, ch: string, p: unknown } | { t: 's', id?: undefined, ch: string, p: unknown } | { t: 'st', s: Status, chs?: string[], id?: string }} Message
 * @typedef {object} StreamOptions
 * @property {() => string} url the URL of each attempt, asked before it (the channels may have changed)
 * @property {TokenOption} [token] a Bearer token, or a function asked before each attempt
 * @property {string} [lastId] where to resume from
 * @property {string} [session] `POST <prefix>/session`: how the EventSource fallback sets its token cookie
 * @property {Iterable<string>} [types] the event types the EventSource fallback listens to
 * @property {(type: string, data: string, id: string | undefined) => void} onEvent each event, with the stream's last id
 * @property {(status: StreamStatus) => void} onStatus
 */

/** `url` with one more query parameter. @param {string} url @param {string} name @param {string} value */
export function withParam (url, name, value) {
  return `${url}${url.includes('?') ? '&' : '?'}${name}=${encodeURIComponent(value)}`
}

/** The hub's error message of a refused request (its JSON body), or its status. @param {Response} res */
async function messageOf (res) {
  try {
    return (await res.json()).message ?? `HTTP ${res.status}`
  } catch {
    return `HTTP ${res.status}`
  }
}

/**
 * Opens a stream and keeps it open until `close()`: after an end or a failure it comes back with
 * exponential backoff and jitter from the hub's `retry:`; a refusal for now (`X-SSE-Hub-Refused`)
 * waits the `retry:` it came with; a 401 asks `token` once more at once, a second one, a 400 or a
 * 403 is final (`refused`).
 * @param {StreamOptions} o
 */
export function openStream (o) {
  let retry = 2000
  let failures = 0
  let denied = false
  let closed = false
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer
  /** @type {AbortController | undefined} */
  let abort
  /** @type {EventSource | undefined} */
  let source
  const types = new Set(o.types)

  const stream = {
    /** @type {string | undefined} the id of the last event read, sent as Last-Event-ID */
    lastId: o.lastId,
    /** Starts over at once from the same position (a new URL), also after a refusal. */
    restart () {
      stop()
      denied = false
      if (!closed) attempt()
    },
    close () {
      closed = true
      stop()
    },
    /** One more event type for the EventSource fallback. @param {string} type */
    listen (type) {
      if (types.has(type)) return
      types.add(type)
      source?.addEventListener(type, onMessage)
    }
  }

  function stop () {
    clearTimeout(timer)
    abort?.abort()
    source?.close()
    source = undefined
  }

  /** @param {number} ms @param {string} [reason] */
  function later (ms, reason) {
    if (closed) return
    o.onStatus({ state: 'connecting', reason })
    timer = setTimeout(attempt, ms)
  }

  /** @param {string} [reason] */
  function backoff (reason) {
    later(Math.min(MAX_DELAY, retry * 2 ** failures++) * (0.5 + Math.random() / 2), reason)
  }

  async function attempt () {
    const ctl = abort = new AbortController()
    const { signal } = ctl
    try {
      const token = typeof o.token === 'function' ? await o.token() : o.token
      if (signal.aborted) return
      if (!canStream) return await fallback(token, signal)
      /** @type {Record<string, string>} */
      const headers = { accept: 'text/event-stream' }
      if (token) headers.authorization = `Bearer ${token}`
      if (stream.lastId) headers['last-event-id'] = stream.lastId
      const res = await fetch(o.url(), { headers, cache: 'no-store', signal })
      const { status } = res
      if (status === 401 && !denied) {
        denied = true
        return attempt()
      }
      if (status === 400 || status === 401 || status === 403) {
        return o.onStatus({ state: 'refused', reason: await messageOf(res), statusCode: status })
      }
      if (!res.ok || res.body === null) throw new Error(`HTTP ${status}`)
      const refused = res.headers.get('x-sse-hub-refused')
      if (refused === null) {
        failures = 0
        denied = false
        o.onStatus({ state: 'open' })
      }
      /** @type {number | undefined} */
      let wait
      await read(res.body, (ms) => {
        wait = ms
        if (refused === null) retry = ms
      })
      if (signal.aborted) return
      if (refused !== null && wait !== undefined) later(wait, refused)
      else backoff(refused ?? 'ended')
    } catch (err) {
      if (!signal.aborted) backoff(String(/** @type {Error} */ (err)?.message ?? err))
    }
  }

  /**
   * Reads an SSE body as the spec says (CR, LF or CRLF lines, a blank line dispatches, `:`
   * comments); the last id moves only when its event is complete.
   * @param {ReadableStream<BufferSource>} body
   * @param {(ms: number) => void} onRetry
   */
  async function read (body, onRetry) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader()
    let buffer = ''
    let type = ''
    let id = stream.lastId
    /** @type {string | undefined} */
    let data
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return
      const text = buffer + value
      // A CR at the end may be the first half of a CRLF: it waits for the next chunk.
      const cut = text.endsWith('\r') ? text.length - 1 : text.length
      const lines = text.slice(0, cut).split(/\r\n|\r|\n/)
      buffer = lines.pop() + text.slice(cut)
      for (const line of lines) {
        if (line === '') {
          stream.lastId = id
          if (data !== undefined) o.onEvent(type || 'message', data, id)
          data = undefined
          type = ''
          continue
        }
        const colon = line.indexOf(':')
        if (colon === 0) continue
        const field = colon < 0 ? line : line.slice(0, colon)
        let value = colon < 0 ? '' : line.slice(colon + 1)
        if (value[0] === ' ') value = value.slice(1)
        if (field === 'data') data = data === undefined ? value : `${data}\n${value}`
        else if (field === 'event') type = value
        else if (field === 'id' && !value.includes('\0')) id = value
        else if (field === 'retry' && /^\d+$/.test(value)) onRetry(Number(value))
      }
    }
  }

  /** @param {MessageEvent} e */
  function onMessage (e) {
    stream.lastId = e.lastEventId
    o.onEvent(e.type, e.data, e.lastEventId)
  }

  /**
   * Where fetch cannot stream. EventSource sends no header: the token goes as the hub's cookie
   * (`POST /session`), or as `?token=` where the hub has no session or may not set the cookie.
   * @param {TokenValue} token
   * @param {AbortSignal} signal
   */
  async function fallback (token, signal) {
    let url = o.url()
    let withCredentials = false
    if (token) {
      if (o.session !== undefined) {
        try {
          const res = await fetch(o.session, { method: 'POST', headers: { authorization: `Bearer ${token}` }, credentials: 'include', signal })
          withCredentials = res.ok
        } catch {}
      }
      if (signal.aborted) return
      if (!withCredentials) url = withParam(url, 'token', token)
    }
    if (stream.lastId) url = withParam(url, 'lastEventId', stream.lastId)
    const es = source = new EventSource(url, { withCredentials })
    for (const type of types) es.addEventListener(type, onMessage)
    es.onopen = () => {
      failures = 0
      o.onStatus({ state: 'open' })
    }
    es.onerror = () => {
      // CLOSED: it gave up (a status other than 200); otherwise it comes back by itself.
      if (es.readyState !== 2) return o.onStatus({ state: 'connecting' })
      source = undefined
      backoff('error')
    }
  }

  attempt()
  return stream
}
