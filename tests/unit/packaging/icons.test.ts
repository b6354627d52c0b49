// Icons: the .ico and .icns containers are well formed, and resources/icons matches resources/icon.svg.

import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { ICON_DIR, ICON_SOURCE, PNG_SIZES, encodeIcns, encodeIco, renderIcons, renderPng } from '../../../tools/icons.ts'

const svg = readFileSync(ICON_SOURCE, 'utf8')

/** Width and height from a PNG's IHDR chunk. */
function pngSize(png: Buffer): [number, number] {
  assert.equal(png.subarray(1, 4).toString('ascii'), 'PNG')
  return [png.readUInt32BE(16), png.readUInt32BE(20)]
}

describe('renderPng', () => {
  it('renders the SVG at the size asked for', () => {
    assert.deepEqual(pngSize(renderPng(svg, 48)), [48, 48])
  })
})

describe('encodeIco', () => {
  it('indexes each PNG at its offset, with 0 standing for 256', () => {
    const images = [16, 256].map((size) => ({ size, png: renderPng(svg, size) }))
    const ico = encodeIco(images)
    assert.equal(ico.readUInt16LE(2), 1)
    assert.equal(ico.readUInt16LE(4), 2)
    for (const [i, { size, png }] of images.entries()) {
      const entry = 6 + 16 * i
      assert.equal(ico.readUInt8(entry), size === 256 ? 0 : size)
      const length = ico.readUInt32LE(entry + 8)
      const offset = ico.readUInt32LE(entry + 12)
      assert.equal(length, png.length)
      assert.deepEqual(ico.subarray(offset, offset + length), png)
    }
  })
})

describe('encodeIcns', () => {
  it('writes the total length and one (type, length, PNG) record per entry', () => {
    const records = [{ type: 'ic07', png: renderPng(svg, 128) }, { type: 'ic10', png: renderPng(svg, 1024) }]
    const icns = encodeIcns(records)
    assert.equal(icns.subarray(0, 4).toString('ascii'), 'icns')
    assert.equal(icns.readUInt32BE(4), icns.length)
    let offset = 8
    for (const { type, png } of records) {
      assert.equal(icns.subarray(offset, offset + 4).toString('ascii'), type)
      const length = icns.readUInt32BE(offset + 4)
      assert.deepEqual(icns.subarray(offset + 8, offset + length), png)
      offset += length
    }
    assert.equal(offset, icns.length)
  })
})

describe('resources/icons', () => {
  it('is what tools/icons.ts renders from resources/icon.svg (rerun it after editing the SVG)', () => {
    const rendered = renderIcons(svg)
    assert.equal(rendered.size, PNG_SIZES.length + 2)
    for (const [name, bytes] of rendered) {
      assert.ok(readFileSync(path.join(ICON_DIR, name)).equals(bytes), `${name} is out of date`)
    }
  })
})
