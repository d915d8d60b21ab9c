import fc from 'fast-check'
import t from 'tap'
import { hasEscapedKey, parseJson, readJson } from '../../../lib/wire/json.js'

/** Keys that need escapes, and the plain ones around them. */
const key = fc.oneof(fc.constantFrom('"', '\\', '\u0000', '\n', '\r', '/', '\u2028', 'a"b', '__proto__', 'constructor', 'h', ''), fc.string({ maxLength: 4 }))
const json = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, fc.constant(null), fc.boolean(), fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Object.is(n, -0)), fc.string(), tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 4 }),
  object: fc.dictionary(key, tie('value'), { maxKeys: 4, noNullPrototype: true })
})).value

t.test('the reader gives back what JSON.stringify was given, escaped keys included', async (t) => {
  // Compared as text: JSON.stringify writes keys faithfully, and values may share objects.
  fc.assert(fc.property(json, (value) => {
    const text = JSON.stringify(value)
    return JSON.stringify(readJson(text)) === text && JSON.stringify(parseJson(text)) === text
  }), { numRuns: 2000 })
  t.pass('2000 random values')
})

t.test('after another parse met a "\\\\" key, a "\\"" key still reads back as itself', async (t) => {
  // The sequence that makes V8's JSON.parse in Node 24 read the second key as "\\" (nodejs/node#63785).
  JSON.parse('{"h":[],"\\\\":0}')
  t.same(Object.keys(parseJson('{"h":1,"\\"":2}') as object), ['h', '"'])
  for (let i = 0; i < 200; i++) {
    JSON.parse('{"\\\\":0}')
    t.same(Object.keys(parseJson(`{"n":${i},"\\u0000":1,"\\n":2}`) as object), ['n', '\u0000', '\n'])
  }
})

t.test('escaped keys are told apart from escaped values', async (t) => {
  t.equal(hasEscapedKey('{"a":"x\\"y"}'), false)
  t.equal(hasEscapedKey('{"events":[{"payload":"{ \\"location\\": 1}"}]}'), false, 'a JSON string inside a value')
  t.equal(hasEscapedKey('{"a\\"b":1}'), true)
  t.equal(hasEscapedKey('{"x":{"\\u0000" : 1}}'), true, 'white space before the colon')
  t.equal(hasEscapedKey('{"plain":1}'), false)
})

t.test('"__proto__" is an own key, as JSON.parse makes it; nothing is polluted', async (t) => {
  const value = readJson('{"__proto__":{"polluted":true},"a\\"":1}') as Record<string, unknown>
  t.same(Object.keys(value), ['__proto__', 'a"'])
  t.equal(Object.getPrototypeOf(value), Object.prototype)
  t.equal(({} as Record<string, unknown>).polluted, undefined)
})

t.test('what JSON.parse refuses, the reader refuses', async (t) => {
  const bad = ['', ' ', '{', '{"a\\"":}', '{"a\\"" 1}', '{"a\\"":1,}', '[1,]', '[1 2]', '{"a\\"":1}x', '"\\x"', '{"a\\"":tru}', '01', '1.', '-', '{"\\"":"\u0001"}', '['.repeat(1001) + ']'.repeat(1001)]
  for (const text of bad) t.throws(() => readJson(text), SyntaxError, JSON.stringify(text).slice(0, 40))
  fc.assert(fc.property(fc.string({ maxLength: 12 }), (text) => {
    let expected: unknown
    try { expected = JSON.parse(text) } catch { expected = SyntaxError }
    if (expected === SyntaxError) t.throws(() => readJson(text), SyntaxError)
    else t.strictSame(readJson(text), expected)
  }), { numRuns: 500 })
})
