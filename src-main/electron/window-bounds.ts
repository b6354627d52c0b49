// Where the window reopens: the saved bounds when they still land on a screen, else the default.

import type { WindowBounds } from '../../src-shared/types.ts'

export interface Rect {
  x: number
  y: number
  width: number
  height: number
}

export const DEFAULT_SIZE = { width: 1200, height: 800 }
export const MIN_SIZE = { width: 640, height: 480 }
/** How much of the title bar must be on a screen for the user to grab the window. */
const GRAB_WIDTH = 100
const GRAB_HEIGHT = 40

/**
 * Saved bounds, clamped to the minimum size, when their top strip is on one of the displays'
 * work areas (a monitor may have been unplugged since); otherwise null: centre at the default size.
 */
export function restoreBounds(saved: WindowBounds | null, workAreas: readonly Rect[]): WindowBounds | null {
  if (saved === null) return null
  const width = Math.max(MIN_SIZE.width, Math.round(saved.width))
  const height = Math.max(MIN_SIZE.height, Math.round(saved.height))
  const grab: Rect = { x: saved.x, y: saved.y, width: Math.min(width, GRAB_WIDTH), height: GRAB_HEIGHT }
  const visible = workAreas.some((area) => overlap(grab, area) >= grab.width * grab.height * 0.5)
  return visible ? { x: Math.round(saved.x), y: Math.round(saved.y), width, height, maximized: saved.maximized } : null
}

function overlap(a: Rect, b: Rect): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x)
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y)
  return w > 0 && h > 0 ? w * h : 0
}
