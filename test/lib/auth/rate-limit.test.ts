import t from 'tap'
import { addressKey } from '../../../lib/base/address.js'
import { RateLimiter } from '../../../lib/auth/rate-limit.js'

/** A clock the test moves by hand. */
function clock (start = 1_000_000): { now: () => number, advance: (ms: number) => void } {
  let time = start
  return { now: () => time, advance: (ms) => { time += ms } }
}

t.test('a burst of perSecond, then one every 1000/perSecond ms', async (t) => {
  const time = clock()
  const limiter = new RateLimiter(4, time.now)
  t.same([1, 2, 3, 4].map(() => limiter.take('10.0.0.1')), [0, 0, 0, 0], 'the burst')
  t.equal(limiter.take('10.0.0.1'), 250, 'the next one in 250 ms')
  time.advance(100)
  t.equal(limiter.take('10.0.0.1'), 150, 'a refused request takes nothing')
  time.advance(150)
  t.equal(limiter.take('10.0.0.1'), 0)
  t.equal(limiter.take('10.0.0.1'), 250)
  t.equal(limiter.take('10.0.0.2'), 0, 'each address has its own bucket')
  time.advance(60_000)
  t.same([1, 2, 3, 4, 5].map(() => limiter.take('10.0.0.1')), [0, 0, 0, 0, 250], 'a long idle time refills no more than the burst')
})

t.test('memory stays bounded: idle buckets are swept, and at most maxKeys are kept', async (t) => {
  const time = clock()
  const limiter = new RateLimiter(2, time.now, 100)
  for (let i = 0; i < 50; i++) limiter.take(`10.0.1.${i}`)
  t.equal(limiter.size, 50)
  time.advance(10_000)
  limiter.take('10.0.2.1')
  t.equal(limiter.size, 1, 'the idle ones are gone')
  for (let i = 0; i < 500; i++) limiter.take(`10.1.${i >> 8}.${i & 255}`)
  t.ok(limiter.size <= 100, `a flood from many addresses keeps ${limiter.size} buckets`)
})

t.test('IPv6 addresses count per /64; IPv4-mapped ones as IPv4', async (t) => {
  t.equal(addressKey('192.0.2.7'), '192.0.2.7')
  t.equal(addressKey('::ffff:192.0.2.7'), '192.0.2.7')
  t.equal(addressKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64')
  t.equal(addressKey('2001:db8:1:2:bbbb:cccc:dddd:eeee'), '2001:db8:1:2::/64')
  t.equal(addressKey('2001:0db8::1'), '2001:db8:0:0::/64')
  t.equal(addressKey('::1'), '0:0:0:0::/64')
  const limiter = new RateLimiter(1, clock().now)
  t.equal(limiter.take('2001:db8:1:2::1'), 0)
  t.equal(limiter.take('2001:db8:1:2::ffff'), 1000, 'another address of the same /64 shares the bucket')
  t.equal(limiter.take('2001:db8:1:3::1'), 0)
})
