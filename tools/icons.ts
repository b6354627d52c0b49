// Renders resources/icon.svg into every icon the installers need: PNG sizes, Windows .ico, macOS .icns.

import { readFile, writeFile, mkdir } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Resvg } from '@resvg/resvg-js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
export const ICON_SOURCE = path.join(ROOT, 'resources', 'icon.svg')
export const ICON_DIR = path.join(ROOT, 'resources', 'icons')

/** Sizes written as `<n>x<n>.png`: electron-builder takes this folder as the Linux icon set. */
export const PNG_SIZES = [16, 24, 32, 48, 64, 128, 256, 512, 1024] as const

/** Windows shows 16-48 in lists and 256 in large views; larger entries are not read. */
const ICO_SIZES = [16, 24, 32, 48, 64, 128, 256] as const

/** ICNS entry types that hold PNG data, with the pixel size each expects (the @2x ones included). */
const ICNS_ENTRIES = [
  ['icp4', 16],
  ['icp5', 32],
  ['icp6', 64],
  ['ic07', 128],
  ['ic08', 256],
  ['ic09', 512],
  ['ic10', 1024],
  ['ic11', 32],
  ['ic12', 64],
  ['ic13', 256],
  ['ic14', 512],
] as const

export function renderPng(svg: string, size: number): Buffer {
  const image = new Resvg(svg, { fitTo: { mode: 'width', value: size } }).render()
  return Buffer.from(image.asPng())
}

/** ICO with PNG-compressed entries (Vista and later); a width byte of 0 means 256. */
export function encodeIco(images: ReadonlyArray<{ size: number; png: Buffer }>): Buffer {
  const header = Buffer.alloc(6)
  header.writeUInt16LE(0, 0)
  header.writeUInt16LE(1, 2)
  header.writeUInt16LE(images.length, 4)
  const entries: Buffer[] = []
  let offset = 6 + 16 * images.length
  for (const { size, png } of images) {
    const entry = Buffer.alloc(16)
    entry.writeUInt8(size >= 256 ? 0 : size, 0)
    entry.writeUInt8(size >= 256 ? 0 : size, 1)
    entry.writeUInt16LE(1, 4)
    entry.writeUInt16LE(32, 6)
    entry.writeUInt32LE(png.length, 8)
    entry.writeUInt32LE(offset, 12)
    entries.push(entry)
    offset += png.length
  }
  return Buffer.concat([header, ...entries, ...images.map((it) => it.png)])
}

/** ICNS: 'icns' + total length, then (type, 8 + data length, data) records, big-endian. */
export function encodeIcns(records: ReadonlyArray<{ type: string; png: Buffer }>): Buffer {
  const parts = records.map(({ type, png }) => {
    const head = Buffer.alloc(8)
    head.write(type, 0, 'ascii')
    head.writeUInt32BE(8 + png.length, 4)
    return Buffer.concat([head, png])
  })
  const header = Buffer.alloc(8)
  header.write('icns', 0, 'ascii')
  header.writeUInt32BE(8 + parts.reduce((n, it) => n + it.length, 0), 4)
  return Buffer.concat([header, ...parts])
}

/** Every generated file, by name under resources/icons/. Deterministic for a given SVG and resvg. */
export function renderIcons(svg: string): Map<string, Buffer> {
  const pngs = new Map<number, Buffer>(PNG_SIZES.map((size) => [size, renderPng(svg, size)]))
  const png = (size: number): Buffer => {
    const bytes = pngs.get(size)
    if (bytes === undefined) throw new Error(`no ${size}px rendering`)
    return bytes
  }
  const files = new Map<string, Buffer>()
  for (const size of PNG_SIZES) files.set(`${size}x${size}.png`, png(size))
  files.set('icon.ico', encodeIco(ICO_SIZES.map((size) => ({ size, png: png(size) }))))
  files.set('icon.icns', encodeIcns(ICNS_ENTRIES.map(([type, size]) => ({ type, png: png(size) }))))
  return files
}

export async function writeIcons(dir = ICON_DIR): Promise<string[]> {
  const files = renderIcons(await readFile(ICON_SOURCE, 'utf8'))
  await mkdir(dir, { recursive: true })
  for (const [name, bytes] of files) await writeFile(path.join(dir, name), bytes)
  return [...files.keys()]
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const names = await writeIcons()
  console.log(`icons: wrote ${names.length} files to ${path.relative(ROOT, ICON_DIR)}/`)
}
