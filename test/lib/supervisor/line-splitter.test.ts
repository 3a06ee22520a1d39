import {expect} from 'chai'

import {LineSplitter} from '../../../src/lib/supervisor/line-splitter.js'

function split(chunks: Array<Buffer | string>, maxLength?: number): string[] {
  const lines: string[] = []
  const splitter = new LineSplitter((line) => lines.push(line), maxLength)
  for (const chunk of chunks) splitter.write(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk))
  splitter.end()
  return lines
}

describe('LineSplitter', () => {
  it('joins lines split across chunks and flushes a trailing partial line', () => {
    expect(split(['he', 'llo\nwor', 'ld\n', 'tail'])).to.deep.equal(['hello', 'world', 'tail'])
    expect(split(['a\n\nb\n'])).to.deep.equal(['a', '', 'b'])
    expect(split([])).to.deep.equal([])
  })

  it('strips the \\r of CRLF line endings', () => {
    expect(split(['a\r\nb\r', '\nc'])).to.deep.equal(['a', 'b', 'c'])
  })

  it('joins a multi-byte character split across chunks', () => {
    const bytes = Buffer.from('é€😀\n')
    expect(split([bytes.subarray(0, 1), bytes.subarray(1, 4), bytes.subarray(4, 8), bytes.subarray(8)])).to.deep.equal([
      'é€😀',
    ])
  })

  it('replaces invalid UTF-8 instead of throwing', () => {
    expect(split([Buffer.from([0x61, 0xff, 0x62, 0x0a, 0xe2, 0x82])])).to.deep.equal(['a\uFFFDb', '\uFFFD'])
  })

  it('cuts lines longer than the maximum, without splitting a surrogate pair', () => {
    expect(split(['abcdefghij\n'], 4)).to.deep.equal(['abcd', 'efgh', 'ij'])
    expect(split(['abc', 'defgh', 'ij'], 4)).to.deep.equal(['abcd', 'efgh', 'ij'])
    expect(split(['abc😀d\n'], 4)).to.deep.equal(['abc', '😀d'])
  })
})
