/**
 * The SSE wire format. Every frame is built here, once, as a Buffer that is then shared by every
 * connection it goes to. Field values never contain a line break: `data` is one line of JSON
 * (JSON.stringify escapes CR and LF) and ids, types and names come from checked alphabets.
 *
 * A frame is stored already wrapped as one HTTP/1.1 chunk (`<hex length>\r\n<frame>\r\n`), the
 * encoding of nearly every stream, so that the hot path hands the shared Buffer straight to the
 * socket. `unchunk` gives the bare frame for the rare stream that is not chunked.
 */

/**
 * Response headers of every stream, refused ones included. `Connection: close`: a stream holds its
 * connection until it ends, and then the hub closes it (a taken-over socket can carry no other
 * request); a client that pooled it for reuse would send its next request into a closed socket.
 */
export const SSE_HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
  connection: 'close'
} as const

/**
 * The same for a stream of HTTP/2, where `Connection` is illegal (a session carries many streams
 * and ends by GOAWAY) and Node warns about it.
 */
export const SSE_HEADERS_H2 = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no'
} as const

/** Text that JSON writes as is inside a string, and again inside a string of that string: no quote, backslash or control character. */
const PLAIN = /^[A-Za-z0-9_\-.:@/]*$/

/** Wraps SSE text (one frame or several) as one HTTP/1.1 chunk: one string, encoded once. */
export function chunk (text: string): Buffer {
  return Buffer.from(chunkText(text))
}

/** SSE text (one frame or several) as the text of one HTTP/1.1 chunk; empty text would be the last chunk. */
export function chunkText (text: string): string {
  return `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`
}

/** The bare SSE frame inside a chunk (a view, no copy). */
export function unchunk (frame: Buffer): Buffer {
  return frame.subarray(frame.indexOf('\r\n') + 2, frame.length - 2)
}

/** A comment line: keeps proxies and load balancers from closing an idle stream. */
export const HEARTBEAT_FRAME = chunk(': heartbeat\n\n')

/** `data` of a live event: `{"channelName","type","payload"}` with the publisher's payload as is. */
export function eventData (channelName: string, type: string, payload: unknown): string {
  return JSON.stringify({ channelName, type, payload })
}

/** A complete event frame: `id:`, `event:` and one `data:` line. */
export function eventFrame (id: string, type: string, data: string): Buffer {
  return chunk(`id: ${id}\nevent: ${type}\ndata: ${data}\n\n`)
}

/**
 * The first frame of a stream, as text (a stream opens with one chunk: this and its snapshots).
 * `id` (omitted on a resumed stream, whose client already holds one) is the position of the
 * stream at connect: a client that reconnects with it misses nothing that was published in
 * between, even if no live event reached it before it dropped.
 */
export function registeredText (clientId: string, resumed: boolean, retry: number, id?: string): string {
  // Once per connect: a clientId of the names' alphabet, as every checked one is, needs no escaping.
  const data = PLAIN.test(clientId)
    ? `{"type":"registered","payload":"{\\"clientId\\":\\"${clientId}\\",\\"resumed\\":${resumed}}"}`
    : JSON.stringify({ type: 'registered', payload: JSON.stringify({ clientId, resumed }) })
  const idLine = id === undefined ? '' : `id: ${id}\n`
  return `retry: ${retry}\n${idLine}event: registered\ndata: ${data}\n\n`
}

/**
 * The `payload` of a `lastEvent` snapshot and of `GET /lastEvent`: the JSON string of
 * `{type, payload}` of the channel's last event, or `"{}"` when nothing was published there.
 */
export function lastEventPayload (last: { type: string, payload: unknown } | undefined): string {
  return last === undefined ? '{}' : JSON.stringify({ type: last.type, payload: last.payload })
}

/** A `lastEvent` snapshot frame, as text. It has no `id:` so that it never moves the client's resume position. */
export function lastEventText (channelName: string, last: { type: string, payload: unknown } | undefined): string {
  // A channel with nothing yet, the common case on connect: its name (checked, so plain) as is.
  const data = last === undefined && PLAIN.test(channelName)
    ? `{"channelName":"${channelName}","type":"lastEvent","payload":"{}"}`
    : JSON.stringify({ channelName, type: 'lastEvent', payload: lastEventPayload(last) })
  return `event: lastEvent\ndata: ${data}\n\n`
}

/** Only a reconnection delay, as text: the whole answer to a subscriber refused for now, and a firehose's first line. */
export function retryText (retry: number): string {
  return `retry: ${retry}\n\n`
}
