// The document reader's own process: decoding and parsing a file of up to 32 MiB is CPU work that
// must never hold main's event loop (extract.ts starts one per file and ends it once answered).

import { AppError } from '../../src-shared/errors.ts'
import { connectToParent } from '../model-format/parent-port.ts'
import { PIECE_SIZE, type ExtractMessage, type ExtractRequest } from './extract-protocol.ts'
import { readDocument } from './read-document.ts'

const parent = connectToParent<ExtractRequest, ExtractMessage>('The document reader')

const pieces: Uint8Array[] = []

parent.onMessage((message) => {
  if (message.type === 'bytes') {
    pieces.push(message.bytes)
    return
  }
  readDocument(Buffer.concat(pieces), message.name, (done, total) => parent.send({ type: 'progress', done, total })).then(
    ({ text, ...result }) => {
      for (let at = 0; at < text.length; at += PIECE_SIZE) parent.send({ type: 'text', text: text.slice(at, at + PIECE_SIZE) })
      parent.send({ type: 'done', result })
    },
    (err: unknown) => parent.send({ type: 'error', error: AppError.toData(err) }),
  )
})
