import t from 'tap'
import { lastEventText, registeredText } from '../../../lib/wire/sse.js'

// The opening frames are written without JSON.stringify for names of the checked alphabet: the
// bytes must be what JSON.stringify gives, for those names and for any other string. Messages
// name the index: a U+2028 in one would break the TAP stream.
const names = ['a', 'client-1', 'x.y:z@host/path_9', '0f8fad5b-d9cb-469f-a165-70867728950e', 'A'.repeat(128),
  'with "quote"', 'back\\slash', 'line\nbreak', 'tab\t', 'ünïcode', '\u2028', '']

t.test('registered carries the clientId as JSON.stringify writes it', async (t) => {
  for (const [i, clientId] of names.entries()) {
    for (const resumed of [false, true]) {
      const data = JSON.stringify({ type: 'registered', payload: JSON.stringify({ clientId, resumed }) })
      t.equal(registeredText(clientId, resumed, 3000, '5'), `retry: 3000\nid: 5\nevent: registered\ndata: ${data}\n\n`, `names[${i}]`)
      t.same(JSON.parse(JSON.parse(data).payload), { clientId, resumed })
    }
  }
})

t.test('lastEvent carries the channel and the last event as JSON.stringify writes them', async (t) => {
  for (const [i, channelName] of names.entries()) {
    for (const last of [undefined, { type: 'm', payload: { a: 1 } }]) {
      const payload = last === undefined ? '{}' : JSON.stringify(last)
      const data = JSON.stringify({ channelName, type: 'lastEvent', payload })
      t.equal(lastEventText(channelName, last), `event: lastEvent\ndata: ${data}\n\n`, `names[${i}]`)
    }
  }
})
