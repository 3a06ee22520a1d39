import {expect} from 'chai'

import {hostPort, httpUrl, parseHostPortUrl, tcpUrl, unbracket} from '../../src/lib/host-port.js'

describe('host-port: how hosts and ports are written', () => {
  it('brackets IPv6 addresses before a port, and only them', () => {
    expect(hostPort('127.0.0.1', 5000)).to.equal('127.0.0.1:5000')
    expect(hostPort('localhost', 5000)).to.equal('localhost:5000')
    expect(hostPort('::1', 5000)).to.equal('[::1]:5000')
    expect(hostPort('fe80::1%lo', '5000')).to.equal('[fe80::1%lo]:5000')
    expect(tcpUrl('::1', 5000)).to.equal('tcp://[::1]:5000')
    expect(httpUrl('::1', 80)).to.equal('http://[::1]:80')
  })

  it('writes URLs that new URL() reads back to the same host and port', () => {
    for (const host of ['127.0.0.1', 'localhost', '::1', '::ffff:127.0.0.1', 'tcp-1.osc-fr1.scalingo.com']) {
      const url = tcpUrl(host, 20_001)
      expect(() => new URL(url), url).to.not.throw()
      const parsed = parseHostPortUrl(url)
      expect(parsed.port, url).to.equal(20_001)
      // new URL() writes IPv4-mapped addresses in hex (::ffff:7f00:1): the same address
      expect(parsed.host, url).to.equal(host === '::ffff:127.0.0.1' ? '::ffff:7f00:1' : host)
    }
  })

  it('reads hosts without brackets, and nulls from what is not a URL', () => {
    expect(unbracket('[::1]')).to.equal('::1')
    expect(unbracket('::1')).to.equal('::1')
    expect(unbracket('127.0.0.1')).to.equal('127.0.0.1')
    expect(parseHostPortUrl('tcp://::1:5000')).to.deep.equal({host: null, port: null})
    expect(parseHostPortUrl('tcp://[::1]')).to.deep.equal({host: '::1', port: null})
  })
})
