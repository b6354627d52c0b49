// The README's chart: for each model, prefill and decode tokens/s per engine as grouped bars,
// with the roofline of each group drawn as a dashed line. Plain SVG, no fonts beyond sans-serif.

import type { BenchReport, EngineFigures, ModelReport } from './report.ts'

const COLORS = { hearth: '#d9480f', transformers: '#1c7ed6', 'llama.cpp': '#5c940d', roofline: '#495057' }
const LABELS = { hearth: 'Hearth', transformers: 'transformers.js', 'llama.cpp': 'llama.cpp' }
type Series = keyof typeof LABELS

const PANEL_W = 380
const PANEL_H = 200
const PAD = { top: 34, right: 12, bottom: 34, left: 46 }

interface Group {
  label: string
  values: Record<Series, number | null>
  roofline: number
}

function escape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/** A round axis maximum at or above `max`: 1, 2 or 5 times a power of ten. */
export function niceMax(max: number): number {
  if (!(max > 0)) return 1
  const p = 10 ** Math.floor(Math.log10(max))
  for (const m of [1, 2, 5, 10]) if (m * p >= max) return m * p
  return 10 * p
}

function panel(x0: number, y0: number, title: string, groups: Group[]): string {
  const w = PANEL_W - PAD.left - PAD.right
  const h = PANEL_H - PAD.top - PAD.bottom
  const all = groups.flatMap((g) => [g.roofline, ...Object.values(g.values).filter((v): v is number => v != null)])
  const top = niceMax(Math.max(...all.filter(Number.isFinite)))
  const y = (v: number) => y0 + PAD.top + h - (Math.min(v, top) / top) * h
  const out: string[] = [
    `<text x="${x0 + PAD.left}" y="${y0 + 18}" font-size="13" font-weight="600">${escape(title)}</text>`,
  ]
  for (let t = 0; t <= 4; t++) {
    const v = (top * t) / 4
    out.push(
      `<line x1="${x0 + PAD.left}" x2="${x0 + PAD.left + w}" y1="${y(v)}" y2="${y(v)}" stroke="#dee2e6"/>`,
      `<text x="${x0 + PAD.left - 6}" y="${y(v) + 4}" font-size="10" text-anchor="end">${Number(v.toPrecision(3))}</text>`,
    )
  }
  const series = Object.keys(LABELS) as Series[]
  const gw = w / groups.length
  const bw = (gw * 0.7) / series.length
  groups.forEach((g, i) => {
    const gx = x0 + PAD.left + i * gw + gw * 0.15
    series.forEach((s, k) => {
      const v = g.values[s]
      if (v == null) return
      out.push(
        `<rect x="${(gx + k * bw).toFixed(1)}" y="${y(v).toFixed(1)}" width="${(bw - 2).toFixed(1)}" ` +
          `height="${(y0 + PAD.top + h - y(v)).toFixed(1)}" fill="${COLORS[s]}"><title>${LABELS[s]}: ${v.toFixed(1)}</title></rect>`,
      )
    })
    if (Number.isFinite(g.roofline)) {
      out.push(
        `<line x1="${(gx - 3).toFixed(1)}" x2="${(gx + gw * 0.7 + 1).toFixed(1)}" y1="${y(g.roofline).toFixed(1)}" ` +
          `y2="${y(g.roofline).toFixed(1)}" stroke="${COLORS.roofline}" stroke-dasharray="4 3" stroke-width="1.5"/>`,
      )
    }
    out.push(
      `<text x="${(gx + gw * 0.35).toFixed(1)}" y="${y0 + PAD.top + h + 16}" font-size="11" text-anchor="middle">${escape(g.label)}</text>`,
    )
  })
  return out.join('\n')
}

function figureAt<K extends 'prefill' | 'decode'>(e: EngineFigures, kind: K, at: number): number | null {
  const list = e[kind] as { tokens?: number; context?: number; tokensPerSecond: number | null }[]
  return list.find((f) => (f.tokens ?? f.context) === at)?.tokensPerSecond ?? null
}

function modelGroups(m: ModelReport): { prefill: Group[]; decode: Group[] } {
  return {
    prefill: m.prefill.map((f) => ({
      label: `${f.tokens} tokens`,
      values: {
        hearth: f.tokensPerSecond,
        transformers: figureAt(m.peer.transformers, 'prefill', f.tokens),
        'llama.cpp': figureAt(m.peer['llama.cpp'], 'prefill', f.tokens),
      },
      roofline: m.roofline.prefillTokensPerSecond,
    })),
    decode: m.decode.map((f) => ({
      label: `@${f.context}`,
      values: {
        hearth: f.tokensPerSecond,
        transformers: figureAt(m.peer.transformers, 'decode', f.context),
        'llama.cpp': figureAt(m.peer['llama.cpp'], 'decode', f.context),
      },
      roofline: f.roofline,
    })),
  }
}

export function renderSvg(report: BenchReport): string {
  const legendH = 28
  const width = PANEL_W * 2
  const height = legendH + report.models.length * (PANEL_H + 18)
  const parts: string[] = []
  let lx = 10
  for (const s of [...(Object.keys(LABELS) as Series[]), 'roofline' as const]) {
    const label = s === 'roofline' ? 'roofline (bound)' : LABELS[s]
    parts.push(
      s === 'roofline'
        ? `<line x1="${lx}" x2="${lx + 14}" y1="14" y2="14" stroke="${COLORS.roofline}" stroke-dasharray="4 3" stroke-width="1.5"/>`
        : `<rect x="${lx}" y="8" width="14" height="12" fill="${COLORS[s]}"/>`,
      `<text x="${lx + 19}" y="18" font-size="12">${escape(label)}</text>`,
    )
    lx += 26 + label.length * 6.5
  }
  report.models.forEach((m, i) => {
    const y0 = legendH + i * (PANEL_H + 18)
    const g = modelGroups(m)
    parts.push(
      panel(0, y0, `${m.name}: prefill tok/s`, g.prefill),
      panel(PANEL_W, y0, `${m.name}: decode tok/s at context`, g.decode),
    )
  })
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
    `font-family="sans-serif" fill="#212529">\n<rect width="100%" height="100%" fill="#ffffff"/>\n${parts.join('\n')}\n</svg>\n`
  )
}
