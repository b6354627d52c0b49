// Bytes to text: UTF-8, UTF-16 with a byte order mark, and the legacy 8-bit files (Windows-1252)
// that old spreadsheets and editors still write. Anything else is binary.

/** Characters looked at for control codes: a binary format shows them within its first KiBs. */
const SAMPLE_CHARS = 64 * 1024
/** Share of control characters above which a file is binary (text has ~none; random bytes ~12%). */
const MAX_CONTROL_SHARE = 0.01

/** Tab, line feed, vertical tab, form feed, carriage return, and the escape of ANSI colours in logs. */
const TEXT_CONTROLS = new Set([0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1b])

/** Windows-1252's 0x80-0x9F; Node's TextDecoder decodes that label as ISO-8859-1, which has C1 controls there. */
const CP1252_HIGH = '€\u0081‚ƒ„…†‡ˆ‰Š‹Œ\u008DŽ\u008F\u0090‘’“”•–—˜™š›œ\u009DžŸ'

/** The text of `bytes` (a BOM dropped), or null when they are not text. */
export function decodeText(bytes: Uint8Array): string | null {
  const text = hasBom(bytes) ? new TextDecoder(bomEncoding(bytes)).decode(bytes) : utf8OrLegacy(bytes)
  return looksLikeText(text) ? text : null
}

/** Every line break as \n. */
export function normaliseNewlines(text: string): string {
  return text.replace(/\r\n?/g, '\n')
}

function hasBom(bytes: Uint8Array): boolean {
  return (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) || (bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)
}

function bomEncoding(bytes: Uint8Array): string {
  if (bytes[0] === 0xff) return 'utf-16le'
  return bytes[0] === 0xfe ? 'utf-16be' : 'utf-8'
}

/**
 * UTF-8 unless its invalid sequences outnumber its valid non-ASCII characters: then the file was
 * written in an 8-bit code page ('café' in Latin-1 is one invalid byte and no valid one). A UTF-8
 * file with a few stray bytes (cut mid-character, say) keeps its text with U+FFFD in their place.
 */
function utf8OrLegacy(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    // Not valid UTF-8: weigh its invalid sequences below.
  }
  const utf8 = new TextDecoder('utf-8').decode(bytes)
  let invalid = 0
  let nonAscii = 0
  for (let i = 0; i < utf8.length; i++) {
    const c = utf8.charCodeAt(i)
    if (c === 0xfffd) invalid++
    else if (c > 0x7f) nonAscii++
  }
  if (nonAscii >= invalid) return utf8
  return new TextDecoder('latin1').decode(bytes).replace(/[\u0080-\u009f]/g, (c) => CP1252_HIGH[c.charCodeAt(0) - 0x80]!)
}

/** No NUL anywhere, and few control characters (beyond tab, line breaks, form feed and ANSI escapes) in the sample. */
function looksLikeText(text: string): boolean {
  if (text.includes('\0')) return false
  const length = Math.min(text.length, SAMPLE_CHARS)
  let controls = 0
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i)
    if ((c < 0x20 && !TEXT_CONTROLS.has(c)) || (c >= 0x7f && c <= 0x9f)) controls++
  }
  return controls <= length * MAX_CONTROL_SHARE
}
