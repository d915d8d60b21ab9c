import { Agent as HttpAgent, type ClientRequest, type IncomingMessage, request as httpRequest, type RequestOptions } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'

/** The app's answer as read: its status and its body as text. */
export interface AppResponse {
  status: number
  text: string
}

export interface AppClientOptions {
  /** The app's endpoint, http or https, from the configuration. */
  url: string
  /** ms a call may take, from sending the question to the answer's last byte. */
  timeout: number
  /** Bytes of an answer read at most; past them the call stops reading and fails. */
  maxBytes: number
  /** Connections to the app open at most; further calls wait for one. @default 64 */
  maxSockets?: number
}

/** How long an idle connection to the app stays open at most (less when the app's `Keep-Alive` header says less). */
const IDLE_TIMEOUT = 60_000

/**
 * POSTs JSON to the app's endpoint over connections of its own, kept open between calls. A call
 * fails (rejects with an error naming why) when it takes longer than `timeout` in all, when the
 * answer is larger than `maxBytes`, or when the connection fails; the error names no address.
 * Redirects are not followed: a 3xx is an answer like any other. HTTPS checks the app's
 * certificate against Node's default CAs (and `NODE_EXTRA_CA_CERTS`).
 */
export class AppClient {
  private readonly agent: HttpAgent
  private readonly request: typeof httpRequest
  /** Where every call goes: host, port and path of the URL, read once. */
  private readonly target: RequestOptions
  /** Why every call fails, for a URL that cannot be asked. */
  private readonly unusable: string | undefined
  private closed = false

  constructor (private readonly options: AppClientOptions) {
    const url = new URL(options.url)
    const https = url.protocol === 'https:'
    const maxSockets = options.maxSockets ?? 64
    const agentOptions = { keepAlive: true, maxSockets, maxFreeSockets: maxSockets, timeout: IDLE_TIMEOUT }
    this.agent = https ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions)
    this.request = https ? httpsRequest : httpRequest
    this.target = {
      method: 'POST',
      agent: this.agent,
      // An IPv6 address without its brackets, as the socket wants it.
      hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: url.port === '' ? undefined : Number(url.port),
      path: url.pathname + url.search
    }
    // A URL with a user name or password is never sent: credentials go in forwarded headers.
    this.unusable = url.username !== '' || url.password !== '' ? 'authUrl carries credentials' : undefined
  }

  /** The app's answer to `body` (JSON); rejects with an error naming why there is none. */
  post (body: string): Promise<AppResponse> {
    if (this.unusable !== undefined) return Promise.reject(new Error(this.unusable))
    if (this.closed) return Promise.reject(new Error('the hub is closing'))
    return new Promise((resolve, reject) => {
      const options: RequestOptions = {
        ...this.target,
        headers: { 'content-type': 'application/json', accept: 'application/json', 'content-length': Buffer.byteLength(body) }
      }
      let current: ClientRequest | undefined
      let done = false
      const finish = (error: Error | undefined, response?: AppResponse): void => {
        if (done) return
        done = true
        clearTimeout(timer)
        if (error === undefined) resolve(response as AppResponse)
        else {
          current?.destroy()
          reject(error)
        }
      }
      // One timer for the whole call: connecting, sending, waiting and reading the answer.
      const timer = setTimeout(() => finish(new Error(`no answer within ${this.options.timeout} ms`)), this.options.timeout).unref()
      const send = (mayRetry: boolean): void => {
        let answered = false
        const request = current = this.request(options, (response) => {
          answered = true
          this.read(response, finish)
        })
        request.on('error', (err: NodeJS.ErrnoException) => {
          // A kept connection the app closed as the question went out: asked again once, on a new one.
          if (mayRetry && request.reusedSocket && err.code === 'ECONNRESET' && !answered && !done) send(false)
          else finish(new Error(`the request to the app failed (${err.code ?? err.message})`))
        })
        request.end(body)
      }
      send(true)
    })
  }

  /** Reads an answer up to `maxBytes`, then hands it to `finish`, or the reason it could not. */
  private read (response: IncomingMessage, finish: (error: Error | undefined, response?: AppResponse) => void): void {
    const { maxBytes } = this.options
    const tooLarge = (): void => finish(new Error(`an answer larger than ${maxBytes} bytes`))
    if (Number(response.headers['content-length']) > maxBytes) return tooLarge()
    const chunks: Buffer[] = []
    let size = 0
    response.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > maxBytes) tooLarge()
      else chunks.push(chunk)
    })
    response.on('end', () => {
      if (size > maxBytes) return
      const text = chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks, size).toString('utf8')
      finish(undefined, { status: response.statusCode as number, text })
    })
    response.on('error', (err: NodeJS.ErrnoException) => finish(new Error(`the app's answer broke off (${err.code ?? err.message})`)))
    response.on('close', () => {
      if (!response.complete) finish(new Error('the app\'s answer broke off'))
    })
  }

  /** Closes the connections to the app; calls made afterwards fail at once. */
  close (): void {
    this.closed = true
    this.agent.destroy()
  }
}
