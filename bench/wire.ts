/**
 * Incremental parsers for what the load generator reads off raw sockets: HTTP/1.1 responses
 * (chunked, Content-Length or close-delimited bodies, several in a row for pipelining) and the
 * SSE stream inside a body. Both work on Buffers and hand out byte ranges, so the hot path
 * allocates nothing unless a line or a head is split across reads.
 */

const CR = 13
const LF = 10
const COLON = 58
const SPACE = 32
/** A head or an SSE line longer than this is a protocol error, not something to buffer. */
const MAX_PENDING = 1 << 20

export interface ResponseHandler {
  /** `headers` names are lower case. */
  onHead (status: number, headers: Map<string, string>): void
  /** A piece of the decoded body: `buf[start, end)`; valid only during the call. */
  onBody (buf: Buffer, start: number, end: number): void
  /** The body is complete (chunked or Content-Length); never called for a close-delimited body. */
  onEnd (): void
}

const enum State { Head, ChunkSize, ChunkExt, ChunkData, ChunkDataEnd, Trailers, Length, Close }

function hexValue (c: number): number {
  if (c >= 48 && c <= 57) return c - 48
  if (c >= 97 && c <= 102) return c - 87
  if (c >= 65 && c <= 70) return c - 55
  return -1
}

/** Reads consecutive HTTP/1.1 responses from one connection. */
export class ResponseReader {
  private state = State.Head
  private pending: Buffer | null = null
  private remaining = 0
  private lineLength = 0

  constructor (private readonly handler: ResponseHandler) {}

  /** Reads `chunk[0, length)` (default: all of it). */
  feed (chunk: Buffer, length = chunk.length): void {
    let buf = chunk
    let end = length
    let pos = 0
    while (pos < end) {
      switch (this.state) {
        case State.Head: {
          if (this.pending !== null) {
            buf = Buffer.concat([this.pending, buf.subarray(pos, end)])
            end = buf.length
            pos = 0
            this.pending = null
          }
          const headEnd = buf.indexOf('\r\n\r\n', pos, 'latin1')
          if (headEnd < 0 || headEnd + 4 > end) {
            if (end - pos > MAX_PENDING) throw new Error('response head too long')
            this.pending = Buffer.from(buf.subarray(pos, end))
            return
          }
          this.head(buf.toString('latin1', pos, headEnd))
          pos = headEnd + 4
          break
        }
        case State.ChunkSize:
        case State.ChunkExt: {
          const c = buf[pos++]
          if (c === LF) {
            if (this.remaining === 0) {
              this.state = State.Trailers
              this.lineLength = 0
            } else {
              this.state = State.ChunkData
            }
          } else if (this.state === State.ChunkSize && c !== CR) {
            const v = hexValue(c)
            if (v >= 0) this.remaining = this.remaining * 16 + v
            else if (c === 59 || c === SPACE) this.state = State.ChunkExt
            else throw new Error(`bad chunk size byte ${c}`)
          }
          break
        }
        case State.ChunkData: {
          const n = Math.min(this.remaining, end - pos)
          this.handler.onBody(buf, pos, pos + n)
          pos += n
          this.remaining -= n
          if (this.remaining === 0) this.state = State.ChunkDataEnd
          break
        }
        case State.ChunkDataEnd: {
          if (buf[pos++] === LF) {
            this.state = State.ChunkSize
            this.remaining = 0
          }
          break
        }
        case State.Trailers: {
          const c = buf[pos++]
          if (c === LF) {
            if (this.lineLength === 0) this.complete()
            this.lineLength = 0
          } else if (c !== CR) {
            this.lineLength++
          }
          break
        }
        case State.Length: {
          const n = Math.min(this.remaining, end - pos)
          this.handler.onBody(buf, pos, pos + n)
          pos += n
          this.remaining -= n
          if (this.remaining === 0) this.complete()
          break
        }
        case State.Close: {
          this.handler.onBody(buf, pos, end)
          pos = end
          break
        }
      }
    }
  }

  private head (text: string): void {
    const lines = text.split('\r\n')
    const match = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0])
    if (match === null) throw new Error(`bad status line ${JSON.stringify(lines[0].slice(0, 80))}`)
    const status = Number(match[1])
    const headers = new Map<string, string>()
    for (let i = 1; i < lines.length; i++) {
      const colon = lines[i].indexOf(':')
      if (colon > 0) headers.set(lines[i].slice(0, colon).trim().toLowerCase(), lines[i].slice(colon + 1).trim())
    }
    this.handler.onHead(status, headers)
    if (status === 204 || status === 304 || (status >= 100 && status < 200)) {
      if (status >= 200) this.complete()
      return
    }
    if (/chunked/i.test(headers.get('transfer-encoding') ?? '')) {
      this.state = State.ChunkSize
      this.remaining = 0
    } else if (headers.has('content-length')) {
      this.remaining = Number(headers.get('content-length'))
      if (this.remaining > 0) this.state = State.Length
      else this.complete()
    } else {
      this.state = State.Close
    }
  }

  private complete (): void {
    this.state = State.Head
    this.handler.onEnd()
  }
}

/** SSE field names, as numbers so that the handler need not compare strings. */
export const enum Field { Other, Data, Event, Id, Retry }

export interface SseHandler {
  /** One `name: value` line; the value is `buf[start, end)`, valid only during the call. */
  onField (field: Field, buf: Buffer, start: number, end: number): void
  /** A blank line: the end of an event block (or of a block of comments). */
  onDispatch (): void
  /** A line starting with `:`. */
  onComment (): void
}

function fieldOf (buf: Buffer, start: number, end: number): Field {
  const length = end - start
  const c = buf[start]
  if (length === 4 && c === 100 && buf[start + 1] === 97 && buf[start + 2] === 116 && buf[start + 3] === 97) return Field.Data
  if (length === 5 && c === 101 && buf[start + 1] === 118 && buf[start + 2] === 101 && buf[start + 3] === 110 && buf[start + 4] === 116) return Field.Event
  if (length === 2 && c === 105 && buf[start + 1] === 100) return Field.Id
  if (length === 5 && c === 114 && buf[start + 1] === 101 && buf[start + 2] === 116 && buf[start + 3] === 114 && buf[start + 4] === 121) return Field.Retry
  return Field.Other
}

/**
 * Splits an SSE body into lines (LF or CRLF; a lone CR, which the spec also allows, is not
 * produced by the servers under test and is not supported) and reports each line.
 */
export class SseParser {
  private rest: Buffer | null = null

  constructor (private readonly handler: SseHandler) {}

  feed (chunk: Buffer, start: number, end: number): void {
    let buf = chunk
    if (this.rest !== null) {
      buf = Buffer.concat([this.rest, chunk.subarray(start, end)])
      start = 0
      end = buf.length
      this.rest = null
    }
    let pos = start
    while (pos < end) {
      const nl = buf.indexOf(LF, pos)
      if (nl < 0 || nl >= end) break
      const lineEnd = nl > pos && buf[nl - 1] === CR ? nl - 1 : nl
      this.line(buf, pos, lineEnd)
      pos = nl + 1
    }
    if (pos < end) {
      if (end - pos > MAX_PENDING) throw new Error('SSE line too long')
      this.rest = Buffer.from(buf.subarray(pos, end))
    }
  }

  private line (buf: Buffer, start: number, end: number): void {
    if (start === end) return this.handler.onDispatch()
    if (buf[start] === COLON) return this.handler.onComment()
    let colon = buf.indexOf(COLON, start)
    if (colon < 0 || colon > end) colon = end
    let valueStart = colon + 1
    if (valueStart < end && buf[valueStart] === SPACE) valueStart++
    if (valueStart > end) valueStart = end
    this.handler.onField(fieldOf(buf, start, colon), buf, valueStart, end)
  }
}
