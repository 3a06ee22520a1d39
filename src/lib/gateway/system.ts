/** An Error carrying a system error code (EADDRINUSE...), as Node's own socket errors do. */
export function systemError(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), {code})
}
