// A PDF's text layer, page by page, through pdf.js (unpdf's build of it, which needs no worker
// file, no canvas and no DOM). Hearth does not do OCR: a scan has no text to give.

import { AppError } from '../../src-shared/errors.ts'

export interface PdfText {
  text: string
  pages: number
}

/** Reports pages read: (0, total) once the file opens, then once per page. */
export type PageProgress = (done: number, total: number) => void

export async function readPdf(bytes: Uint8Array, name: string, onProgress: PageProgress): Promise<PdfText> {
  const { getDocumentProxy } = await import('unpdf')
  // A copy, as a plain Uint8Array: pdf.js refuses a Buffer, and detaches the buffer it is given.
  // Verbosity 0: errors only, not its repair warnings on our stdout.
  const data = new Uint8Array(bytes)
  const pdf = await getDocumentProxy(data, { verbosity: 0, disableFontFace: true }).catch((err: unknown) => {
    throw unreadable(name, err)
  })
  try {
    const pages: string[] = []
    onProgress(0, pdf.numPages)
    for (let n = 1; n <= pdf.numPages; n++) {
      const page = await pdf.getPage(n)
      const { items } = await page.getTextContent()
      pages.push(items.map((item) => ('str' in item ? item.str + (item.hasEOL ? '\n' : '') : '')).join('').trim())
      page.cleanup()
      onProgress(n, pdf.numPages)
    }
    const text = pages.filter((page) => page !== '').join('\n\n')
    if (text === '') throw new AppError('DOCUMENT_INVALID', `${name} has no text layer (a scan?); Hearth does not do OCR.`)
    return { text, pages: pdf.numPages }
  } catch (err) {
    throw err instanceof AppError ? err : unreadable(name, err)
  } finally {
    await pdf.destroy()
  }
}

function unreadable(name: string, err: unknown): AppError {
  // pdf.js names its exceptions; a PasswordException is a file encrypted with a user password.
  if ((err as Error | null)?.name === 'PasswordException') {
    return new AppError('DOCUMENT_INVALID', `${name} is password-protected; Hearth cannot read it without the password.`)
  }
  return new AppError('DOCUMENT_INVALID', `${name} could not be read as a PDF: ${(err as Error | null)?.message ?? String(err)}`)
}
