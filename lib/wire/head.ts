import { type IncomingMessage, type OutgoingHttpHeaders, validateHeaderName, validateHeaderValue } from 'node:http'

/**
 * The response head of a stream whose socket is taken over from Node's HTTP server
 * (lib/wire/take-over.ts): the bytes `res.writeHead(200, headers)` would send for a chunked
 * HTTP/1.1 response, written by the stream itself. The header lines of a set of headers are
 * checked once (by Node's own `validateHeaderName` and `validateHeaderValue`) and remembered, so a
 * connect does not check again the headers every stream has; and the whole head is kept while
 * the headers and the second stay the same, as they do for most streams of a hub.
 */

/** Header lines checked already; bounded, as an app's hooks could make them differ per request. */
const checkedLines = new Set<string>()
const MAX_CHECKED = 64

/** `Date` changes once a second: its value is made once per second. */
let dateSecond = -1
let dateValue = ''

/** The last head made (its `Date` is `dateValue`'s second) and its headers' names and values, in order. */
let lastHead = ''
let lastEntries: unknown[] = []

/**
 * Whether Node would send a stream's response to this request chunked, with no header of the
 * hub's that changes its framing: an HTTP/1.1 GET (a HEAD gets no body) and no `Content-Length`
 * or `Transfer-Encoding` among the headers. Otherwise the response writes its head itself.
 */
export function chunkedHeadFits (req: IncomingMessage, headers: OutgoingHttpHeaders): boolean {
  return req.httpVersionMajor === 1 && req.httpVersionMinor >= 1 && req.method !== 'HEAD' &&
    headers['content-length'] === undefined && headers['transfer-encoding'] === undefined
}

/**
 * The head of a `200` chunked response with `headers` (lower-case names, as Fastify keeps
 * them), then `Date` and `Transfer-Encoding: chunked`, as Node writes them. Throws Node's own
 * error for a header Node would refuse.
 */
export function chunkedHead (headers: OutgoingHttpHeaders): string {
  const second = Math.floor(Date.now() / 1000)
  if (second === dateSecond && sameAsLast(headers)) return lastHead
  let lines = ''
  const entries: unknown[] = []
  for (const name in headers) {
    const value = headers[name]
    if (value === undefined) continue
    entries.push(name, value)
    if (Array.isArray(value)) {
      for (const item of value) lines += `${name}: ${item}\r\n`
    } else {
      lines += `${name}: ${value}\r\n`
    }
  }
  if (!checkedLines.has(lines)) {
    check(headers)
    if (checkedLines.size < MAX_CHECKED) checkedLines.add(lines)
  }
  lastHead = `HTTP/1.1 200 OK\r\n${lines}Date: ${httpDate(second)}\r\nTransfer-Encoding: chunked\r\n\r\n`
  lastEntries = entries
  return lastHead
}

/** Whether `headers` has the names and values of the last head's, in the same order (a list: the same array). */
function sameAsLast (headers: OutgoingHttpHeaders): boolean {
  let i = 0
  for (const name in headers) {
    const value = headers[name]
    if (value === undefined) continue
    if (lastEntries[i] !== name || lastEntries[i + 1] !== value) return false
    i += 2
  }
  return i === lastEntries.length
}

/** Throws Node's own error for a header Node would refuse. */
function check (headers: OutgoingHttpHeaders): void {
  for (const name in headers) {
    const value = headers[name]
    if (value === undefined) continue
    validateHeaderName(name)
    for (const item of Array.isArray(value) ? value : [value]) validateHeaderValue(name, String(item))
  }
}

/** The `Date` header's value for a second since the epoch (RFC 9110's IMF-fixdate, as `toUTCString` writes it). */
function httpDate (second: number): string {
  if (second !== dateSecond) {
    dateSecond = second
    dateValue = new Date(second * 1000).toUTCString()
  }
  return dateValue
}
