/* global TextDecoderStream */
// SSE read from a fetch body. The page reads its streams with fetch rather than EventSource: an
// EventSource dispatches only the event types it was told of (the firehose carries any type the
// publishers use), cannot send the token as a header, and gives up for good on a 401.

/**
 * Parses an SSE body as the spec says: fields per line, a blank line dispatches, comments start
 * with `:`. Calls `onEvent(type, data, id)` per event and `onRetry(ms)` per `retry:` line;
 * resolves when the body ends, rejects when it breaks.
 */
export async function readEvents (body, onEvent, onRetry) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ''
  let event = {}
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
        if (event.data !== undefined) onEvent(event.type ?? 'message', event.data, event.id)
        event = {}
        continue
      }
      if (line.startsWith(':')) continue
      const colon = line.indexOf(':')
      const field = colon < 0 ? line : line.slice(0, colon)
      const content = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
      if (field === 'data') event.data = event.data === undefined ? content : `${event.data}\n${content}`
      else if (field === 'event') event.type = content
      else if (field === 'id') event.id = content
      else if (field === 'retry' && /^\d+$/.test(content)) onRetry(Number(content))
    }
  }
}
