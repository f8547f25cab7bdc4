/** Tiling images into a grid and rasterising 2-D points, as gray levels (e.g. for PNG sample sheets). */
/**
 * Tiles n images (values in [0, 1], each h × w, row-major) into a grid of `cols` columns with a
 * 1-pixel gap, as gray levels.
 */
export function imageGrid(
  images: ArrayLike<number>,
  n: number,
  h: number,
  w: number,
  cols: number,
): { pixels: Uint8Array; width: number; height: number } {
  const rows = Math.ceil(n / cols);
  const width = cols * (w + 1) + 1;
  const height = rows * (h + 1) + 1;
  const pixels = new Uint8Array(width * height).fill(128);
  for (let k = 0; k < n; k++) {
    const oy = Math.floor(k / cols) * (h + 1) + 1;
    const ox = (k % cols) * (w + 1) + 1;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const v = images[k * h * w + y * w + x];
        pixels[(oy + y) * width + ox + x] = Math.round(255 * Math.min(1, Math.max(0, v)));
      }
    }
  }
  return { pixels, width, height };
}

/** Rasterises 2-D points in [−range, range]² onto a size × size gray image (dark points on white). */
export function scatterImage(
  points: ArrayLike<number>,
  n: number,
  range: number,
  size = 200,
): { pixels: Uint8Array; width: number; height: number } {
  const pixels = new Uint8Array(size * size).fill(255);
  for (let i = 0; i < n; i++) {
    const px = Math.round(((points[2 * i] + range) / (2 * range)) * (size - 1));
    const py = Math.round(((range - points[2 * i + 1]) / (2 * range)) * (size - 1));
    if (px < 0 || py < 0 || px >= size || py >= size) continue;
    const k = py * size + px;
    pixels[k] = Math.max(0, pixels[k] - 96);
  }
  return { pixels, width: size, height: size };
}
