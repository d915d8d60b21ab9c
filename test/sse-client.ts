import { request, type IncomingHttpHeaders, type IncomingMessage } from 'node:http'

/** One parsed SSE message, as an EventSource would dispatch it (plus comments and retry). */
export interface SseMessage {
  id?: string
  event: string
  data: string
}

export interface OpenOptions {
  headers?: Record<string, string>
  /** ms to wait for the response head (default 5000). */
  timeout?: number
}

/**
 * A subscriber over a real socket that parses the stream the way the SSE spec describes:
 * fields per line, a blank line dispatches, comments start with `:`.
 */
export class SseClient {
  readonly messages: SseMessage[] = []
  readonly comments: string[] = []
  retry?: number
  /** The last `id:` seen, as EventSource keeps it for reconnects. */
  lastEventId?: string
  ended = false
  private buffer = ''
  private current: Partial<SseMessage> & { data?: string } = {}
  private readonly waiters = new Set<() => void>()

  private constructor (readonly response: IncomingMessage) {
    response.setEncoding('utf8')
    response.on('data', (chunk: string) => this.parse(chunk))
    response.on('end', () => this.finish())
    response.on('close', () => this.finish())
    response.on('error', () => this.finish())
  }

  get status (): number {
    return this.response.statusCode ?? 0
  }

  get headers (): IncomingHttpHeaders {
    return this.response.headers
  }

  /** Opens a stream; resolves once the response head arrived, whatever its status. */
  static open (url: string, options: OpenOptions = {}): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      const req = request(url, { headers: { accept: 'text/event-stream', ...options.headers } }, (res) => {
        clearTimeout(timer)
        resolve(new SseClient(res))
      })
      const timer = setTimeout(() => {
        req.destroy()
        reject(new Error(`no response from ${url}`))
      }, options.timeout ?? 5000)
      req.on('error', (err) => {
        clearTimeout(timer)
        reject(err)
      })
      req.end()
    })
  }

  /** Messages of one event type. */
  ofType (event: string): SseMessage[] {
    return this.messages.filter((message) => message.event === event)
  }

  /** Resolves when `predicate` holds, checked after every chunk; rejects after `timeout` ms. */
  waitFor (predicate: (client: SseClient) => boolean, timeout = 5000, what = 'condition'): Promise<void> {
    if (predicate(this)) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!predicate(this)) return
        this.waiters.delete(check)
        clearTimeout(timer)
        resolve()
      }
      const timer = setTimeout(() => {
        this.waiters.delete(check)
        reject(new Error(`timed out after ${timeout} ms waiting for ${what}; got ${JSON.stringify(this.messages.map((m) => m.event))}`))
      }, timeout)
      this.waiters.add(check)
    })
  }

  /** Resolves once `count` messages arrived in all. */
  waitForCount (count: number, timeout = 5000): Promise<void> {
    return this.waitFor((client) => client.messages.length >= count, timeout, `${count} messages`)
  }

  /** Resolves when the server ended the stream. */
  waitForEnd (timeout = 5000): Promise<void> {
    return this.waitFor((client) => client.ended, timeout, 'the end of the stream')
  }

  close (): void {
    this.response.destroy()
  }

  private parse (chunk: string): void {
    this.buffer += chunk
    let newline
    while ((newline = this.buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.buffer.slice(0, newline)
      this.buffer = this.buffer.slice(newline + (this.buffer.startsWith('\r\n', newline) ? 2 : 1))
      this.line(line)
    }
    this.notify()
  }

  private line (line: string): void {
    if (line === '') {
      if (this.current.data !== undefined) {
        this.messages.push({ id: this.current.id, event: this.current.event ?? 'message', data: this.current.data })
      }
      this.current = {}
      return
    }
    if (line.startsWith(':')) {
      this.comments.push(line.slice(1).trim())
      return
    }
    const colon = line.indexOf(':')
    const field = colon < 0 ? line : line.slice(0, colon)
    let value = colon < 0 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'data') this.current.data = this.current.data === undefined ? value : `${this.current.data}\n${value}`
    else if (field === 'event') this.current.event = value
    else if (field === 'id') {
      this.current.id = value
      this.lastEventId = value
    } else if (field === 'retry' && /^\d+$/.test(value)) this.retry = Number(value)
  }

  private finish (): void {
    this.ended = true
    this.notify()
  }

  private notify (): void {
    for (const waiter of [...this.waiters]) waiter()
  }
}
