// The GGUF conversion's own process: reading, dequantizing and writing gigabytes is CPU work that
// must never hold main's event loop (run-conversion.ts starts it and reads its messages).

import { AppError } from '../../../src-shared/errors.ts'
import { connectToParent } from '../../model-format/parent-port.ts'
import { convertGguf } from './convert.ts'
import type { ConversionMessage, ConversionRequest } from './run-conversion.ts'

const parent = connectToParent<ConversionRequest, ConversionMessage>('The GGUF converter')

parent.onMessage((request) => {
  convertGguf(request.file, request.outDir, {
    precision: request.precision,
    sourceName: request.sourceName,
    onProgress: (done, total) => parent.send({ type: 'progress', done, total }),
  }).then(
    (info) => parent.send({ type: 'done', info }),
    (err: unknown) => parent.send({ type: 'error', error: AppError.toData(err) }),
  )
})
