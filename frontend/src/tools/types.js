// @ts-check
/**
 * Shared tool typedefs (no runtime code).
 * @typedef {import("../state.js").Annotation} Annotation
 * @typedef {import("../geometry.js").Geometry} Geometry
 * @typedef {{store: import("../state.js").AnnotationStore, classId: () => number|null,
 *   newRow: (g: Geometry, extra?: Partial<Annotation>) => Annotation, select: (ids: string[], add?: boolean) => void,
 *   selected: Set<string>, tolImg: (screenPx: number) => number, toast: (msg: string, kind?: string) => void,
 *   redraw: () => void, segment: (pt: [number, number]) => Promise<{geometry: Geometry, fallback: boolean}>,
 *   hover: () => [number, number]|null}} ToolCtx
 * @typedef {{scale: number, ox: number, oy: number}} ScreenT
 * @typedef {{name: string, key: string, label: string,
 *   onClick?: (ctx: ToolCtx, pt: [number, number], ev: {shift: boolean, alt?: boolean, double?: boolean}) => void,
 *   onPress?: (ctx: ToolCtx, pt: [number, number]) => boolean, onDrag?: (ctx: ToolCtx, pt: [number, number]) => void,
 *   onRelease?: (ctx: ToolCtx, pt: [number, number]) => void, onKey?: (ctx: ToolCtx, e: KeyboardEvent) => boolean,
 *   preview?: (g: CanvasRenderingContext2D, t: ScreenT, ctx: ToolCtx) => void, cancel?: () => void}} Tool
 */
export {};
