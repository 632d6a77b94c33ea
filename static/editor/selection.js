// Selection shapes: rectangle, lasso (freehand) and polygon. Each gesture
// collects points in image pixels and ends as one "shape" operation that adds
// to the mask, or subtracts from it when Alt was held.

export const SELECTION_TOOLS = ["rectangle", "lasso", "polygon"];

// A click this close (in screen pixels) to the first corner closes a polygon.
const CLOSE_DISTANCE = 10;

export class SelectionGesture {
  /**
   * @param {"rectangle"|"lasso"|"polygon"} tool
   * @param {[number, number]} point  where it began, in image pixels
   * @param {boolean} erase  subtract from the mask instead of adding
   */
  constructor(tool, point, erase) {
    this.tool = tool;
    this.erase = erase;
    this.points = [point];
    // Where the pointer is: the rectangle's far corner, the polygon's next one.
    this.cursor = point;
  }

  move(point) {
    this.cursor = point;
    if (this.tool === "lasso") this.points.push(point);
  }

  /** A polygon's next corner; true when the click closed the polygon. */
  addCorner(point, scale) {
    const [first] = this.points;
    const near = Math.hypot(point[0] - first[0], point[1] - first[1]) * scale <= CLOSE_DISTANCE;
    if (near && this.points.length >= 3) return true;
    this.points.push(point);
    this.cursor = point;
    return false;
  }

  removeLastCorner() {
    if (this.points.length > 1) this.points.pop();
  }

  /** The outline as drawn while the gesture goes on. */
  outline() {
    if (this.tool === "rectangle") return rectangle(this.points[0], this.cursor);
    if (this.tool === "polygon") return [...this.points, this.cursor];
    return this.points;
  }

  /** The operation it makes, or null when it encloses nothing. */
  finish() {
    const points = this.tool === "rectangle" ? rectangle(this.points[0], this.cursor) : this.points;
    if (points.length < 3 || Math.abs(area(points)) < 1) return null;
    return { type: "shape", erase: this.erase, points };
  }
}

function rectangle([x0, y0], [x1, y1]) {
  return [
    [x0, y0],
    [x1, y0],
    [x1, y1],
    [x0, y1],
  ];
}

function area(points) {
  let sum = 0;
  points.forEach(([x, y], index) => {
    const [nextX, nextY] = points[(index + 1) % points.length];
    sum += x * nextY - nextX * y;
  });
  return sum / 2;
}

/** Draw `points` (screen pixels) as a dashed, closed outline that shows on any picture. */
export function drawOutline(context, points, erase) {
  if (points.length < 2) return;
  context.save();
  context.beginPath();
  context.moveTo(points[0][0], points[0][1]);
  for (const point of points.slice(1)) context.lineTo(point[0], point[1]);
  context.closePath();
  context.fillStyle = erase ? "rgba(124, 183, 255, 0.25)" : "rgba(255, 64, 64, 0.25)";
  context.fill();
  context.lineWidth = 1.5;
  context.strokeStyle = "rgba(0, 0, 0, 0.85)";
  context.stroke();
  context.setLineDash([6, 4]);
  context.strokeStyle = erase ? "#7cb7ff" : "#fff";
  context.stroke();
  context.restore();
}
