/**
 * Folds a chain of single-child wrapper widgets into one element description. COGO UI JSON wraps a node's
 * core widget (layout, text, image, vector) in wrappers outermost first: parent slot, symbol, screen,
 * visibility, opacity, rotation, blurs, clip, box. Such a chain is one node and becomes one HTML element with
 * all of their CSS. Wrappers out of that order, repeated, or carrying their own `id` start a nested element.
 */
import type {
  BoxDecoration, CogoBlendMode, CogoClipRRect, CogoExpanded, CogoFlexible, CogoPositioned, CogoSymbolDefinition,
  CogoSymbolInstance, CogoSymbolSet, CogoWidget, Extent
} from "../../domain/figma/CogoUi.ts"
import type { Sides, TokenRefs, Vec2 } from "../../domain/figma/Uui.ts"

export interface Box {
  readonly width?: Extent | undefined
  readonly height?: Extent | undefined
  readonly minWidth?: number | undefined
  readonly maxWidth?: number | undefined
  readonly minHeight?: number | undefined
  readonly maxHeight?: number | undefined
  readonly padding?: Sides | undefined
  readonly alignment?: Vec2 | undefined
  readonly decoration?: BoxDecoration | undefined
  readonly blendMode?: CogoBlendMode | undefined
  readonly theme?: TokenRefs | undefined
}

export interface Chain {
  readonly id?: string | undefined
  readonly slot?: CogoPositioned | CogoExpanded | CogoFlexible | undefined
  readonly symbol?: CogoSymbolDefinition | CogoSymbolSet | CogoSymbolInstance | undefined
  readonly screen: boolean
  readonly hidden: boolean
  readonly opacity?: number | undefined
  readonly angle?: number | undefined
  readonly flipX: boolean
  readonly flipY: boolean
  readonly blur?: number | undefined
  readonly backdrop?: number | undefined
  readonly clip?: CogoClipRRect | undefined
  readonly box: Box
  /** The widget this element renders itself (layout, text, image, vector, Align), or one rendered nested. */
  readonly core?: CogoWidget | undefined
  /** The core is another node (it has its own `id`): rendered as a nested element. */
  readonly nested: boolean
}

const STAGE: Partial<Record<CogoWidget["type"], number>> = {
  Positioned: 0, Expanded: 0, Flexible: 0,
  SymbolDefinition: 1, SymbolSet: 1, SymbolInstance: 1,
  Screen: 2, Visibility: 3, Opacity: 4, Transform: 5, ImageFiltered: 6, BackdropFilter: 7, ClipRRect: 8,
  Container: 9, SizedBox: 9, Padding: 9
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

const boxFields = (widget: CogoWidget): Box | undefined => {
  switch (widget.type) {
    case "SizedBox":
      return { width: widget.width, height: widget.height }
    case "Padding":
      return { padding: widget.padding }
    case "Container":
      return {
        width: widget.width, height: widget.height, padding: widget.padding, alignment: widget.alignment,
        decoration: widget.decoration, blendMode: widget.blendMode, theme: widget.theme,
        minWidth: widget.constraints?.minWidth, maxWidth: widget.constraints?.maxWidth,
        minHeight: widget.constraints?.minHeight, maxHeight: widget.constraints?.maxHeight
      }
    default:
      return undefined
  }
}

/** Box widgets merge while they set disjoint fields and no padding sits outside the next one's size. */
const mergeBox = (into: Mutable<Box>, add: Box): boolean => {
  if (into.padding !== undefined) return false
  for (const [key, value] of Object.entries(add)) {
    if (value !== undefined && into[key as keyof Box] !== undefined) return false
  }
  for (const [key, value] of Object.entries(add)) {
    if (value !== undefined) Object.assign(into, { [key]: value })
  }
  return true
}

const childOf = (widget: CogoWidget): CogoWidget | undefined => ("child" in widget ? widget.child : undefined)

export const foldChain = (root: CogoWidget): Chain => {
  const chain: Mutable<Omit<Chain, "box" | "nested">> = { screen: false, hidden: false, flipX: false, flipY: false }
  const box: Mutable<Box> = {}
  if (root.id !== undefined) chain.id = root.id
  let stage = -1
  let widget: CogoWidget | undefined = root
  while (widget !== undefined) {
    const at = STAGE[widget.type]
    if (at === undefined || (widget !== root && widget.id !== undefined)) break
    if (at < stage || (at === stage && at !== 9)) break
    const boxPart = boxFields(widget)
    if (boxPart !== undefined && !mergeBox(box, boxPart)) break
    switch (widget.type) {
      case "Positioned":
      case "Expanded":
      case "Flexible":
        chain.slot = widget
        break
      case "SymbolDefinition":
      case "SymbolSet":
      case "SymbolInstance":
        chain.symbol = widget
        break
      case "Screen":
        chain.screen = true
        break
      case "Visibility":
        chain.hidden = !widget.visible
        break
      case "Opacity":
        chain.opacity = widget.opacity
        break
      case "Transform":
        chain.angle = widget.angle
        chain.flipX = widget.flipX === true
        chain.flipY = widget.flipY === true
        break
      case "ImageFiltered":
        chain.blur = widget.blur
        break
      case "BackdropFilter":
        chain.backdrop = widget.blur
        break
      case "ClipRRect":
        chain.clip = widget
        break
    }
    stage = at
    widget = childOf(widget)
  }
  return { ...chain, box, core: widget, nested: widget !== undefined && widget !== root && widget.id !== undefined }
}
