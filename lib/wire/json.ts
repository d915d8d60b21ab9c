/**
 * JSON.parse for what clients send, correct on every Node the hub supports. V8 in Node 24 (and
 * 26) can decode an object key that holds an escape sequence as another key — `"\""` or
 * `"\u0000"` read back as `"\\"` — once an earlier parse anywhere in the process met a similar
 * key (nodejs/node#63785, V8 issue 521080746): a publisher's payload would reach subscribers
 * altered. Texts without such a key, nearly all of them, go to JSON.parse; the others are read
 * here, where JSON.parse only ever sees one string or number token at a time, which that bug does
 * not touch.
 */
export function parseJson (text: string): unknown {
  return hasEscapedKey(text) ? readJson(text) : JSON.parse(text)
}

/** Reads a JSON text without handing JSON.parse any object key; throws a SyntaxError as it does. */
export function readJson (text: string): unknown {
  return new JsonReader(text).document()
}

const QUOTE = 0x22
const BACKSLASH = 0x5c
const COLON = 0x3a

/** Whether some string of the text that holds a `\` is followed by `:`, i.e. is an object key. */
export function hasEscapedKey (text: string): boolean {
  if (!text.includes('\\')) return false
  const length = text.length
  for (let i = 0; i < length; i++) {
    if (text.charCodeAt(i) !== QUOTE) continue
    let escaped = false
    let end = i + 1
    for (; end < length; end++) {
      const code = text.charCodeAt(end)
      if (code === BACKSLASH) {
        escaped = true
        end++
      } else if (code === QUOTE) {
        break
      }
    }
    if (escaped) {
      let next = end + 1
      while (next < length && isSpace(text.charCodeAt(next))) next++
      if (text.charCodeAt(next) === COLON) return true
    }
    i = end
  }
  return false
}

function isSpace (code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d
}

/** Nesting a text with escaped keys may have (JSON.parse itself has no such limit). */
const MAX_DEPTH = 1000
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y

/** A strict JSON reader by recursive descent; objects get their keys as JSON.parse would give them. */
class JsonReader {
  private at = 0

  constructor (private readonly text: string) {}

  document (): unknown {
    const value = this.value(0)
    this.skipSpace()
    if (this.at < this.text.length) this.fail('after the JSON value')
    return value
  }

  private value (depth: number): unknown {
    this.skipSpace()
    const code = this.text.charCodeAt(this.at)
    if (code === QUOTE) return this.string()
    if (code === 0x7b) return this.object(depth + 1)
    if (code === 0x5b) return this.array(depth + 1)
    for (const [word, value] of LITERALS) {
      if (this.text.startsWith(word, this.at)) {
        this.at += word.length
        return value
      }
    }
    NUMBER.lastIndex = this.at
    const number = NUMBER.exec(this.text)
    if (number === null) return this.fail('where a value should be')
    this.at += number[0].length
    return Number(number[0])
  }

  private object (depth: number): Record<string, unknown> {
    if (depth > MAX_DEPTH) this.fail(`nested deeper than ${MAX_DEPTH} levels`)
    this.at++
    const object: Record<string, unknown> = {}
    if (this.next() === 0x7d) {
      this.at++
      return object
    }
    for (;;) {
      if (this.next() !== QUOTE) this.fail('where a key should be')
      const key = this.string()
      if (this.next() !== COLON) this.fail('where ":" should be')
      this.at++
      const value = this.value(depth)
      // As JSON.parse: an own data property, also for "__proto__" (an assignment would set the prototype).
      if (key === '__proto__') Object.defineProperty(object, key, { value, writable: true, enumerable: true, configurable: true })
      else object[key] = value
      const code = this.next()
      this.at++
      if (code === 0x7d) return object
      if (code !== 0x2c) this.fail('where "," or "}" should be', -1)
    }
  }

  private array (depth: number): unknown[] {
    if (depth > MAX_DEPTH) this.fail(`nested deeper than ${MAX_DEPTH} levels`)
    this.at++
    const array: unknown[] = []
    if (this.next() === 0x5d) {
      this.at++
      return array
    }
    for (;;) {
      array.push(this.value(depth))
      const code = this.next()
      this.at++
      if (code === 0x5d) return array
      if (code !== 0x2c) this.fail('where "," or "]" should be', -1)
    }
  }

  /** One string token, decoded by JSON.parse on its own. */
  private string (): string {
    const start = this.at
    let end = start + 1
    for (; end < this.text.length; end++) {
      const code = this.text.charCodeAt(end)
      if (code === BACKSLASH) end++
      else if (code === QUOTE) break
    }
    if (end >= this.text.length) this.fail('in a string that does not end')
    this.at = end + 1
    return JSON.parse(this.text.slice(start, end + 1)) as string
  }

  /** The code of the next character that is not white space (NaN at the end). */
  private next (): number {
    this.skipSpace()
    return this.text.charCodeAt(this.at)
  }

  private skipSpace (): void {
    while (this.at < this.text.length && isSpace(this.text.charCodeAt(this.at))) this.at++
  }

  private fail (where: string, offset = 0): never {
    const at = this.at + offset
    const found = at < this.text.length ? `character ${JSON.stringify(this.text[at])}` : 'end of the text'
    throw new SyntaxError(`Unexpected ${found} at position ${at}, ${where}`)
  }
}

const LITERALS: ReadonlyArray<readonly [string, unknown]> = [['true', true], ['false', false], ['null', null]]
