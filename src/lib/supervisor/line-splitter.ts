import {StringDecoder} from 'node:string_decoder'

/** Lines longer than this are cut into pieces, so a process writing without newlines cannot grow memory. */
export const MAX_LINE_LENGTH = 64 * 1024

/**
 * Turns a byte stream into whole lines: multi-byte characters split across chunks are joined,
 * invalid UTF-8 becomes U+FFFD, `\r\n` and `\n` both end a line, and a trailing partial line is
 * given out by end().
 */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8')
  private pending = ''

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly maxLength = MAX_LINE_LENGTH,
  ) {}

  write(chunk: Buffer): void {
    this.push(this.decoder.write(chunk))
  }

  end(): void {
    this.push(this.decoder.end())
    if (this.pending !== '') this.emit(this.pending)
    this.pending = ''
  }

  private push(text: string): void {
    if (text === '') return
    let start = 0
    let newline = text.indexOf('\n')
    while (newline !== -1) {
      this.emit(this.pending + text.slice(start, newline))
      this.pending = ''
      start = newline + 1
      newline = text.indexOf('\n', start)
    }

    this.pending += text.slice(start)
    while (this.pending.length >= this.maxLength) {
      // never cut between the two halves of a surrogate pair
      let cut = this.maxLength
      const code = this.pending.charCodeAt(cut - 1)
      if (code >= 0xd800 && code <= 0xdbff) cut--
      this.onLine(this.pending.slice(0, cut))
      this.pending = this.pending.slice(cut)
    }
  }

  private emit(line: string): void {
    const text = line.endsWith('\r') ? line.slice(0, -1) : line
    if (text.length <= this.maxLength) {
      this.onLine(text)
      return
    }

    for (let start = 0; start < text.length;) {
      let end = Math.min(start + this.maxLength, text.length)
      const code = text.charCodeAt(end - 1)
      if (end < text.length && code >= 0xd800 && code <= 0xdbff) end--
      this.onLine(text.slice(start, end))
      start = end
    }
  }
}
