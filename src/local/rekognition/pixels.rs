//! Pixel plumbing shared by the face models: affine warps with area sampling (so a 3 MP
//! photo shrunk to a 256 px detector input does not alias), luminance, and small statistics.

use image::RgbImage;

/// Maps a destination pixel centre `(u, v)` to continuous source coordinates:
/// `x = a·u + b·v + c`, `y = d·u + e·v + f` (pixel `i` covers `[i, i+1)`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affine {
    pub a: f32,
    pub b: f32,
    pub c: f32,
    pub d: f32,
    pub e: f32,
    pub f: f32,
}

impl Affine {
    /// A square window of the source, `side` source pixels wide, rotated by `angle`
    /// (radians, the window's x axis in source coordinates) around `center`, sampled into
    /// `out` × `out` pixels; `flip` mirrors the window horizontally.
    pub fn window(center: (f32, f32), side: f32, angle: f32, out: usize, flip: bool) -> Self {
        let s = side / out as f32;
        let (sin, cos) = angle.sin_cos();
        let sx = if flip { -s } else { s };
        let half = out as f32 / 2.0;
        // x = cx + cos·sx·(u−half) − sin·s·(v−half)
        let a = cos * sx;
        let b = -sin * s;
        let d = sin * sx;
        let e = cos * s;
        Self { a, b, c: center.0 - a * half - b * half, d, e, f: center.1 - d * half - e * half }
    }

    pub fn apply(&self, u: f32, v: f32) -> (f32, f32) {
        (self.a * u + self.b * v + self.c, self.d * u + self.e * v + self.f)
    }

    /// Source pixels per destination pixel.
    pub fn scale(&self) -> f32 {
        (self.a * self.e - self.b * self.d).abs().sqrt()
    }
}

/// Samples `out_w` × `out_h` RGB pixels (0..255) through `m`; outside the source is black.
pub fn warp(img: &RgbImage, m: &Affine, out_w: usize, out_h: usize) -> Vec<[f32; 3]> {
    // Average k×k bilinear taps per output pixel when shrinking, so detail is not aliased.
    let k = (m.scale().ceil() as usize).clamp(1, 4);
    let inv = 1.0 / (k * k) as f32;
    let mut out = vec![[0.0f32; 3]; out_w * out_h];
    for v in 0..out_h {
        for u in 0..out_w {
            let mut acc = [0.0f32; 3];
            for j in 0..k {
                for i in 0..k {
                    let uu = u as f32 + (i as f32 + 0.5) / k as f32;
                    let vv = v as f32 + (j as f32 + 0.5) / k as f32;
                    let (x, y) = m.apply(uu, vv);
                    let p = bilinear(img, x, y);
                    acc[0] += p[0];
                    acc[1] += p[1];
                    acc[2] += p[2];
                }
            }
            out[v * out_w + u] = [acc[0] * inv, acc[1] * inv, acc[2] * inv];
        }
    }
    out
}

fn bilinear(img: &RgbImage, x: f32, y: f32) -> [f32; 3] {
    let (w, h) = (img.width() as i64, img.height() as i64);
    if !(x >= 0.0 && y >= 0.0 && x < w as f32 && y < h as f32) {
        return [0.0; 3];
    }
    let sx = x - 0.5;
    let sy = y - 0.5;
    let x0 = sx.floor();
    let y0 = sy.floor();
    let fx = sx - x0;
    let fy = sy - y0;
    let clamp = |v: i64, hi: i64| v.clamp(0, hi - 1) as u32;
    let (x0, y0) = (x0 as i64, y0 as i64);
    let p = |xx: i64, yy: i64| img.get_pixel(clamp(xx, w), clamp(yy, h)).0;
    let (p00, p10, p01, p11) = (p(x0, y0), p(x0 + 1, y0), p(x0, y0 + 1), p(x0 + 1, y0 + 1));
    let mut out = [0.0; 3];
    for c in 0..3 {
        let top = p00[c] as f32 * (1.0 - fx) + p10[c] as f32 * fx;
        let bottom = p01[c] as f32 * (1.0 - fx) + p11[c] as f32 * fx;
        out[c] = top * (1.0 - fy) + bottom * fy;
    }
    out
}

/// Rec. 601 luma, 0..255.
pub fn luma(p: [f32; 3]) -> f32 {
    0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]
}

pub fn mean(values: &[f32]) -> f32 {
    if values.is_empty() { 0.0 } else { values.iter().sum::<f32>() / values.len() as f32 }
}

/// Variance of the 4-neighbour Laplacian of a grey patch: the usual focus measure.
pub fn laplacian_variance(grey: &[f32], w: usize, h: usize) -> f32 {
    let mut vals = Vec::with_capacity(w * h);
    for y in 1..h.saturating_sub(1) {
        for x in 1..w.saturating_sub(1) {
            let c = grey[y * w + x];
            let l = grey[y * w + x - 1] + grey[y * w + x + 1] + grey[(y - 1) * w + x] + grey[(y + 1) * w + x] - 4.0 * c;
            vals.push(l);
        }
    }
    let m = mean(&vals);
    mean(&vals.iter().map(|v| (v - m) * (v - m)).collect::<Vec<_>>())
}

/// Even-odd point-in-polygon test.
pub fn inside(poly: &[(f32, f32)], x: f32, y: f32) -> bool {
    let mut c = false;
    let n = poly.len();
    for i in 0..n {
        let (xi, yi) = poly[i];
        let (xj, yj) = poly[(i + n - 1) % n];
        if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
            c = !c;
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_maps_its_centre_to_the_given_centre_and_flips_horizontally() {
        let m = Affine::window((100.0, 50.0), 64.0, 0.0, 32, false);
        let (x, y) = m.apply(16.0, 16.0);
        assert!((x - 100.0).abs() < 1e-4 && (y - 50.0).abs() < 1e-4);
        let (x0, _) = m.apply(0.0, 16.0);
        assert!((x0 - 68.0).abs() < 1e-4);
        let flipped = Affine::window((100.0, 50.0), 64.0, 0.0, 32, true);
        assert!((flipped.apply(0.0, 16.0).0 - 132.0).abs() < 1e-4);
    }

    #[test]
    fn warp_of_a_flat_image_is_flat_and_outside_is_black() {
        let img = RgbImage::from_pixel(40, 40, image::Rgb([90, 120, 30]));
        let m = Affine::window((20.0, 20.0), 80.0, 0.3, 16, false);
        let out = warp(&img, &m, 16, 16);
        let centre = out[8 * 16 + 8];
        assert!((centre[0] - 90.0).abs() < 0.5 && (centre[1] - 120.0).abs() < 0.5);
        assert_eq!(out[0], [0.0; 3]);
    }

    #[test]
    fn point_in_polygon() {
        let square = [(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)];
        assert!(inside(&square, 5.0, 5.0));
        assert!(!inside(&square, 15.0, 5.0));
    }
}
