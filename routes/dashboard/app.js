/* global document, location, sessionStorage, fetch, AbortController, setTimeout, clearTimeout */
// The dashboard page's script: the token, the reads that keep the page live, the publish form.
// Every URL is relative to the page, so it works under the hub's prefix. Its live reads are
// streams of the hub's browser client (served beside the page's folder, at `<prefix>/client-stream.js`).
import { openStream } from '../client-stream.js'
import { $, showChannels, showClients, showEmpty, showEvent, showStats, showStatus } from './view.js'

const POLL_MS = 1500
/** sessionStorage only: the token lives as long as the tab, one per hub path, never in the URL. */
const TOKEN_KEY = `sse-hub-token:${location.pathname}`
const needsToken = document.documentElement.dataset.auth !== 'none'
let token = needsToken ? sessionStorage.getItem(TOKEN_KEY) : null
/** The reads under way with the current token: their state, and how to stop them all. Null while a token is needed. */
let session = null
/** clientId → { channels, since (ms, or null while unknown) }, rebuilt from each presence snapshot. */
const clients = new Map()

class Unauthorized extends Error {}

const sleep = (ms, signal) => new Promise((resolve) => {
  const timer = setTimeout(resolve, ms)
  signal.addEventListener('abort', () => { clearTimeout(timer); resolve() }, { once: true })
})

function headers (extra) {
  return token === null ? { ...extra } : { ...extra, authorization: `Bearer ${token}` }
}

/** The hub's error message (its JSON error body), or the status line. */
async function errorOf (res) {
  try {
    const body = await res.json()
    if (typeof body.message === 'string') return `${res.status}: ${body.message}`
  } catch {}
  return `${res.status} ${res.statusText}`
}

async function getJson (url, signal) {
  const res = await fetch(url, { headers: headers(), cache: 'no-store', signal })
  if (res.status === 401 || res.status === 403) throw new Unauthorized(await errorOf(res))
  if (!res.ok) throw new Error(await errorOf(res))
  return res.json()
}

function onPresence (type, data) {
  const change = JSON.parse(data)
  if (type === 'snapshot') {
    // A new stream (the page's first, or after the hub restarted): the list starts over from it.
    clients.clear()
    for (const client of change.clients) clients.set(client.clientId, { channels: client.channels, since: null })
    loadSince(session)
  } else if (type === 'join') {
    clients.set(change.clientId, { channels: change.channels, since: Date.now() })
  } else if (type === 'leave') {
    clients.delete(change.clientId)
  }
  showClients(clients)
}

/** A snapshot has no connection times: `/clients` has them. */
async function loadSince (s) {
  try {
    const page = await getJson('clients?limit=1000', s?.abort.signal)
    for (const client of page.clients) {
      const entry = clients.get(client.clientId)
      if (entry !== undefined && entry.since === null) entry.since = Date.parse(client.connectedAt)
    }
    showClients(clients)
  } catch {}
}

/**
 * Keeps a stream of session `s` open, with the token as a header: the client's stream reconnects
 * with backoff from the hub's `retry` and waits out refusals; a 401 or 403 asks for a token.
 */
function follow (s, name, url, onEvent) {
  const stream = openStream({
    url: () => url,
    token: () => token,
    onEvent,
    onStatus (status) {
      if (session !== s) return
      if (status.state === 'refused') return askToken(`${status.statusCode}: ${status.reason}`)
      s[name] = status.state === 'open' ? 'live' : 'reconnecting'
      showStatus(session)
    }
  })
  s.abort.signal.addEventListener('abort', () => stream.close(), { once: true })
}

/** Reads the counters and the channels for session `s` every POLL_MS, whatever the hub answers. */
async function poll (s) {
  const { signal } = s.abort
  let previous = null
  while (!signal.aborted) {
    try {
      const [stats, channels] = await Promise.all([getJson('stats', signal), getJson('channels?limit=200', signal)])
      if (signal.aborted) return
      const at = Date.now()
      showStats(stats, previous, at)
      showChannels(channels)
      previous = { stats, at }
      s.poll = 'live'
      s.health = stats.status
    } catch (err) {
      if (signal.aborted) return
      if (err instanceof Unauthorized) return askToken(err.message)
      s.poll = 'down'
      previous = null
    }
    showStatus(session)
    await sleep(POLL_MS, signal)
  }
}

function start () {
  session?.abort.abort()
  session = { abort: new AbortController(), poll: 'connecting', presence: 'connecting', firehose: 'connecting', health: 'ok' }
  $('forget').hidden = !needsToken
  showStatus(session)
  poll(session)
  follow(session, 'presence', 'presence', onPresence)
  follow(session, 'firehose', 'firehose', showEvent)
}

/** Stops every read and shows the token form; `reason` (the hub's 401 or 403) also drops the refused token. */
function askToken (reason) {
  session?.abort.abort()
  session = null
  if (reason !== undefined) {
    sessionStorage.removeItem(TOKEN_KEY)
    token = null
  }
  $('forget').hidden = true
  showStatus(session)
  $('token-reason').textContent = reason ?? 'Presence reads and publishing need the hub\'s publish token or a JWT with hub.presence.'
  $('token-reason').className = reason === undefined ? '' : 'error'
  $('token-overlay').hidden = false
  $('token').focus()
}

$('token-form').addEventListener('submit', (e) => {
  e.preventDefault()
  const value = $('token').value.trim()
  if (value === '') return
  token = value
  sessionStorage.setItem(TOKEN_KEY, token)
  $('token').value = ''
  $('token-overlay').hidden = true
  start()
})

$('forget').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY)
  token = null
  askToken()
})

$('publish').addEventListener('submit', async (e) => {
  e.preventDefault()
  const result = $('p-result')
  const show = (text, ok) => {
    result.textContent = text
    result.className = `result ${ok ? 'ok' : 'error'}`
  }
  let payload
  try {
    payload = JSON.parse($('p-payload').value)
  } catch (err) {
    return show(`The payload is not JSON: ${err.message}`, false)
  }
  const events = [{ channelName: $('p-channel').value.trim(), type: $('p-type').value.trim(), payload }]
  try {
    const res = await fetch('publish', { method: 'POST', headers: headers({ 'content-type': 'application/json' }), body: JSON.stringify({ events }) })
    if (res.status === 401) return askToken(await errorOf(res))
    if (!res.ok) return show(await errorOf(res), false)
    show(`Published, id ${(await res.json()).ids.join(', ')}`, true)
  } catch (err) {
    show(`The hub did not answer: ${err.message}`, false)
  }
})

$('where').textContent = location.host + location.pathname
showEmpty()
if (needsToken && token === null) askToken()
else start()
