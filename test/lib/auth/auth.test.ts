import t from 'tap'
import { bearerToken, ChannelPatterns, cookieValue, isChannelPattern } from '../../../lib/auth/auth.js'
import { redactUrl } from '../../../lib/base/redact.js'

t.test('channel patterns: a name, a prefix ending in *, or *', async (t) => {
  for (const pattern of ['orders', 'orders*', 'orders:*', '*', 'a/b@c.d-e_f:g*', 'x'.repeat(128), `${'x'.repeat(127)}*`]) {
    t.ok(isChannelPattern(pattern), pattern.slice(0, 20))
  }
  for (const pattern of ['', 'or*ders', '**', '*orders', 'a b*', 'x'.repeat(129), `${'x'.repeat(128)}*`, 5, null]) {
    t.notOk(isChannelPattern(pattern), JSON.stringify(pattern))
  }
  const patterns = new ChannelPatterns(['orders*', 'news'])
  t.ok(patterns.covers('orders'))
  t.ok(patterns.covers('orders:eu/1'))
  t.ok(patterns.covers('news'))
  t.notOk(patterns.covers('news:eu'), 'an exact name is not a prefix')
  t.notOk(patterns.covers('order'))
  t.equal(patterns.firstUncovered(['orders', 'news', 'sport', 'weather']), 'sport')
  t.equal(patterns.firstUncovered(['orders', 'news']), undefined)
  t.ok(new ChannelPatterns(['*']).all)
  t.equal(new ChannelPatterns([]).firstUncovered(['a']), 'a', 'no patterns cover nothing')
})

t.test('where tokens are read from', async (t) => {
  t.equal(bearerToken('Bearer abc.def.ghi'), 'abc.def.ghi')
  t.equal(bearerToken('bearer  abc '), 'abc')
  t.equal(bearerToken('Basic abc'), undefined)
  t.equal(bearerToken('Bearer a b'), undefined)
  t.equal(bearerToken('Bearer'), undefined)
  t.equal(bearerToken(undefined), undefined)
  t.equal(cookieValue('a=1; sse_hub_token=xyz; b=2', 'sse_hub_token'), 'xyz')
  t.equal(cookieValue('sse_hub_token="quoted"', 'sse_hub_token'), 'quoted')
  t.equal(cookieValue('sse_hub_token=a%2Eb', 'sse_hub_token'), 'a.b')
  t.equal(cookieValue('sse_hub_token=%E0%A4%A', 'sse_hub_token'), '%E0%A4%A', 'a bad escape is kept as is')
  t.equal(cookieValue('x_sse_hub_token=no; other', 'sse_hub_token'), undefined)
  t.equal(cookieValue(undefined, 'sse_hub_token'), undefined)
})

t.test('tokens are redacted from logged URLs', async (t) => {
  t.equal(redactUrl('/subscribe?channels=a&token=eyJ.x.y&clientId=b'), '/subscribe?channels=a&token=[redacted]&clientId=b')
  t.equal(redactUrl('/subscribe?token=one&token=two'), '/subscribe?token=[redacted]&token=[redacted]')
  t.equal(redactUrl('/x?%74oken=secret'), '/x?%74oken=[redacted]', 'an encoded key too')
  t.equal(redactUrl('/x?notoken=1&tokens=2'), '/x?notoken=1&tokens=2')
  t.equal(redactUrl('/health'), '/health')
  t.equal(redactUrl('/clients?token=Op3rator"Secret&limit=1'), '/clients?token=[redacted]&limit=1', 'a raw " is part of the value')
  t.equal(redactUrl('/clients?token=a#b;c d'), '/clients?token=[redacted]', 'as are #, ; and a space: the value runs to the next &')
})
