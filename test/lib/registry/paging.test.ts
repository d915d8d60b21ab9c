import t from 'tap'
import { decodeCursor, encodeCursor, pageLimit } from '../../../lib/registry/paging.js'

t.test('limit: 1..1000, from a number or a query string, default 1000', async (t) => {
  t.equal(pageLimit(undefined), 1000)
  t.equal(pageLimit(1), 1)
  t.equal(pageLimit('1000'), 1000)
  t.equal(pageLimit('07'), 7)
  const bad: Array<[number | string, string]> = [
    [0, '0'], ['0', '"0"'], [1001, '1001'], ['1001', '"1001"'], [2.5, '2.5'], ['2.5', '"2.5"'],
    ['-1', '"-1"'], ['', '""'], ['ten', '"ten"'], ['1e3', '"1e3"'], [Number.NaN, 'null']
  ]
  for (const [value, shown] of bad) {
    t.throws(() => pageLimit(value), { statusCode: 400, code: 'SSE_HUB_BAD_LIMIT', message: `limit: ${shown} is not an integer from 1 to 1000` }, String(value))
  }
})

t.test('cursors are opaque, round-trip, and reject what no page returned', async (t) => {
  for (const key of ['a', 'user@example.com', 'orders/42', 'x'.repeat(128)]) {
    const cursor = encodeCursor(key)
    t.match(cursor, /^[A-Za-z0-9_-]+$/)
    t.equal(decodeCursor(cursor), key)
  }
  t.equal(decodeCursor(undefined), undefined)
  for (const cursor of ['', 'a b', 'YQ==', encodeCursor('a b'), encodeCursor('x'.repeat(129)), 'Y', '%%%']) {
    t.throws(() => decodeCursor(cursor), { statusCode: 400, code: 'SSE_HUB_BAD_CURSOR', message: /^cursor: .* is not a cursor of a previous page$/ }, cursor)
  }
})
