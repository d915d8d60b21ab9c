import { constants, type Http2ServerResponse, type ServerHttp2Stream } from 'node:http2'
import type { OutgoingHttpHeaders } from 'node:http'
import type { SseSink } from './sse-sink.js'
import { unchunk } from './sse.js'

/**
 * The bare SSE frame of each shared chunk (HTTP/2 has no chunked encoding): made once per frame
 * and shared by every HTTP/2 stream it goes to, gone with the frame.
 */
const bareFrames = new WeakMap<Buffer, Buffer>()

function bare (frame: Buffer): Buffer {
  let body = bareFrames.get(frame)
  if (body === undefined) {
    body = unchunk(frame)
    bareFrames.set(frame, body)
  }
  return body
}

/** Sends the response head of an HTTP/2 stream and returns its sink. */
export function openHttp2Sink (res: Http2ServerResponse, headers: OutgoingHttpHeaders): SseSink {
  // The compatibility API sends the head with writeHead.
  res.writeHead(200, headers)
  // A stream is exempt from the request timeout a server may set on its HTTP/2 requests.
  res.stream.setTimeout(0)
  return new Http2StreamSink(res.stream)
}

/**
 * One HTTP/2 stream of a session that may carry many. Frames go to the stream, whose
 * `writableLength` holds what the peer's flow-control window does not take yet: a stream whose
 * reader stopped falls behind alone, and `destroy` resets that stream only (RST_STREAM), never
 * the session or its socket.
 */
class Http2StreamSink implements SseSink {
  constructor (private readonly stream: ServerHttp2Stream) {}

  open (text: string, frames: readonly Buffer[]): void {
    this.cork()
    this.stream.write(text)
    for (const frame of frames) this.write(frame)
    this.uncork()
  }

  write (frame: Buffer): void {
    this.stream.write(bare(frame))
  }

  // Corked, the frames of one flush leave as one write of the stream (its writev).
  cork (): void {
    this.stream.cork()
  }

  uncork (): void {
    this.stream.uncork()
  }

  end (): void {
    if (!this.stream.destroyed) this.stream.end()
  }

  destroy (): void {
    // CANCEL: what an RST_STREAM says when the sender no longer wants the stream.
    this.stream.close(constants.NGHTTP2_CANCEL)
  }

  get writableLength (): number {
    return this.stream.writableLength
  }

  onClose (listener: () => void): void {
    this.stream.on('close', listener)
  }
}
