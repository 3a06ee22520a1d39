/**
 * Calls `onClosed` once when the reader of `stream` goes away (EPIPE: `| head -1` has read what it
 * wanted), and turns every later write into a no-op: a closed pipe is not an error worth a stack
 * trace, and there is no point producing output nobody reads. Returns a function that unsubscribes.
 */
export function whenOutputCloses(stream: NodeJS.WriteStream, onClosed: () => void): () => void {
  let closed = false
  const onError = (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE' || closed) return
    closed = true
    stream.write = ((_chunk: unknown, encodingOrCallback?: unknown, callback?: unknown) => {
      const done = typeof encodingOrCallback === 'function' ? encodingOrCallback : callback
      if (typeof done === 'function') queueMicrotask(() => done())
      return true
    }) as typeof stream.write
    onClosed()
  }

  stream.on('error', onError)
  return () => stream.off('error', onError)
}
