/* global document */
// What the dashboard shows. Values from the hub are only ever set as textContent or title,
// never as HTML, so a payload such as `<img onerror=...>` is text.

const MAX_EVENTS = 200
const MAX_ROWS = 500
const PAYLOAD_CHARS = 200
const COUNTERS = ['connections', 'clients', 'channels', 'published', 'delivered', 'replayed', 'slowDisconnects']

export const $ = (id) => document.getElementById(id)
const number = (n) => n.toLocaleString('en-US')
const clock = (ms) => new Date(ms).toLocaleTimeString('en-GB', { hour12: false })
let eventCount = 0

function ago (ms) {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000))
  if (s < 60) return `${s} s ago`
  if (s < 3600) return `${Math.floor(s / 60)} min ago`
  return clock(ms)
}

function cell (row, text, className) {
  const td = row.insertCell()
  td.textContent = text
  if (className) td.className = className
  return td
}

function emptyRow (body, columns, text) {
  const td = body.insertRow().insertCell()
  td.colSpan = columns
  td.className = 'empty'
  td.textContent = text
}

/** The status pill, from a session's state (null: no session, a token is needed). */
export function showStatus (session) {
  let [state, text] = ['live', 'live']
  if (session === null) [state, text] = ['token', 'token needed']
  else if (session.poll === 'down') [state, text] = ['disconnected', 'hub unreachable, retrying']
  else if (session.poll === 'connecting') [state, text] = ['connecting', 'connecting']
  else if (session.presence !== 'live' || session.firehose !== 'live') [state, text] = ['reconnecting', 'reconnecting streams']
  else if (session.health === 'draining') [state, text] = ['draining', 'live, draining']
  else if (session.health === 'broker-down') [state, text] = ['draining', 'live, Redis unreachable']
  $('status').dataset.state = state
  $('status-text').textContent = text
  // What is on screen was read before the hub went away: shown dimmed.
  document.body.classList.toggle('stale', state === 'disconnected')
}

/** The counters of `GET /stats`; with the previous reading, the rates of published and delivered. */
export function showStats (stats, previous, at) {
  for (const name of COUNTERS) $(`c-${name}`).textContent = number(stats[name])
  const refused = Object.values(stats.refused).reduce((a, b) => a + b, 0)
  $('c-refused').textContent = number(refused)
  $('c-refused').parentElement.classList.toggle('attention', refused > 0)
  $('c-slowDisconnects').parentElement.classList.toggle('attention', stats.slowDisconnects > 0)
  $('r-refused').textContent = refused === 0
    ? 'streams turned away'
    : Object.entries(stats.refused).filter(([, n]) => n > 0).map(([why, n]) => `${why} ${number(n)}`).join(', ')
  for (const [name, unit] of [['published', 'events'], ['delivered', 'frames']]) {
    const rate = previous === null ? null : (stats[name] - previous.stats[name]) / ((at - previous.at) / 1000)
    $(`r-${name}`).textContent = rate === null ? unit : `${number(Math.max(0, Math.round(rate)))} / s`
  }
}

/** A page of `GET /channels`. */
export function showChannels (page) {
  const body = $('channels')
  body.replaceChildren()
  $('channels-count').textContent = page.total > page.channels.length ? `${page.channels.length} of ${number(page.total)}` : number(page.total)
  if (page.channels.length === 0) emptyRow(body, 3, 'No channel has a subscriber')
  for (const channel of page.channels) {
    const row = body.insertRow()
    cell(row, channel.name, 'mono')
    cell(row, number(channel.subscribers), 'num')
    cell(row, channel.lastEventAt === null ? '–' : ago(Date.parse(channel.lastEventAt)), 'muted')
  }
}

/** The connected clients: clientId → { channels, since (ms, or null while unknown) }, in clientId order. */
export function showClients (clients) {
  const body = $('clients')
  body.replaceChildren()
  $('clients-count').textContent = number(clients.size)
  if (clients.size === 0) emptyRow(body, 3, 'No client connected')
  const ids = [...clients.keys()].sort()
  for (const clientId of ids.slice(0, MAX_ROWS)) {
    const { channels, since } = clients.get(clientId)
    const row = body.insertRow()
    cell(row, clientId, 'mono')
    cell(row, channels.join(', '), 'mono')
    cell(row, since === null ? '–' : clock(since), 'muted')
  }
  if (ids.length > MAX_ROWS) emptyRow(body, 3, `and ${number(ids.length - MAX_ROWS)} more`)
}

/** Puts an event of the firehose on top of the log, which keeps the last MAX_EVENTS. */
export function showEvent (type, data, id) {
  let event
  try { event = JSON.parse(data) } catch { return }
  const body = $('events')
  if (eventCount === 0) body.replaceChildren()
  eventCount++
  const payload = JSON.stringify(event.payload) ?? ''
  const row = document.createElement('tr')
  row.className = 'fresh'
  cell(row, clock(Date.now()), 'muted')
  cell(row, event.channelName, 'mono').title = event.channelName
  cell(row, type, 'mono').title = type
  cell(row, id ?? '', 'mono muted').title = id ?? ''
  cell(row, payload.length > PAYLOAD_CHARS ? `${payload.slice(0, PAYLOAD_CHARS)}…` : payload, 'mono').title = payload.slice(0, 2000)
  body.prepend(row)
  while (body.rows.length > MAX_EVENTS) body.deleteRow(-1)
  $('events-count').textContent = eventCount > MAX_EVENTS ? `last ${MAX_EVENTS} of ${number(eventCount)}` : number(eventCount)
}

/** The empty log and client list of a page that has not heard from the hub yet. */
export function showEmpty () {
  emptyRow($('events'), 5, 'Waiting for events…')
  showClients(new Map())
}
