//! Pixel plumbing shared by the face models: affine warps with area sampling (so a 3 MP
//! photo shrunk to a 256 px detector input does not alias), luminance, and small statistics.

use image::RgbImage;

use super::faces::timings::{Stage, timed};

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
///
/// Each output pixel is the mean of k×k bilinear taps (k = source pixels per output pixel,
/// rounded up, at most 4), so a shrink averages the area it covers instead of aliasing.
/// An axis-aligned `m` (every detector window, the pose model's letterbox, the quality crop)
/// is a separable filter and is computed as one: rows first, over contiguous source rows,
/// then columns. A rotated `m` (the mesh, iris and identity crops, all small) walks its taps
/// with the same arithmetic inlined. Both give the k×k taps' mean up to float rounding.
pub fn warp(img: &RgbImage, m: &Affine, out_w: usize, out_h: usize) -> Vec<[f32; 3]> {
    let k = (m.scale().ceil() as usize).clamp(1, 4);
    timed(Stage::Warp, || {
        if m.b == 0.0 && m.d == 0.0 {
            warp_separable(img, m, k, out_w, out_h)
        } else {
            warp_rotated(img, m, k, out_w, out_h)
        }
    })
}

/// An image and its half-size copy (each pixel the mean of a 2×2 block, the edge repeated
/// where the size is odd), made on first use. A rotated crop that shrinks the source three
/// times or more samples the half-size copy: 2×2 taps a pixel instead of 4×4, the same area
/// averaged (Face Mesh's crops of a selfie's face shrink it about 3×; they were most of a
/// photo's warp time). Axis-aligned warps are separable and cheap, and stay on the image.
pub struct Sources<'a> {
    pub image: &'a RgbImage,
    half: std::sync::OnceLock<RgbImage>,
}

impl<'a> Sources<'a> {
    pub fn new(image: &'a RgbImage) -> Self {
        Self { image, half: std::sync::OnceLock::new() }
    }

    /// [`warp`] of the image, or of its half-size copy where the crop is rotated and shrinks
    /// the source three times or more.
    pub fn warp(&self, m: &Affine, out_w: usize, out_h: usize) -> Vec<[f32; 3]> {
        let rotated = m.b != 0.0 || m.d != 0.0;
        if !rotated || m.scale() < 2.0 {
            return warp(self.image, m, out_w, out_h);
        }
        let half = self.half.get_or_init(|| timed(Stage::Warp, || halve(self.image)));
        // Half-size pixel j covers source pixels [2j, 2j+2): every coordinate halves.
        let m = Affine { a: m.a / 2.0, b: m.b / 2.0, c: m.c / 2.0, d: m.d / 2.0, e: m.e / 2.0, f: m.f / 2.0 };
        warp(half, &m, out_w, out_h)
    }
}

/// Each pixel the mean of a 2×2 block of `image`; an odd last row or column repeats the edge.
fn halve(image: &RgbImage) -> RgbImage {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let (hw, hh) = (w.div_ceil(2), h.div_ceil(2));
    let raw = image.as_raw();
    let mut out = vec![0u8; hw * hh * 3];
    for y in 0..hh {
        let (r0, r1) = (2 * y * w * 3, (2 * y + 1).min(h - 1) * w * 3);
        for x in 0..hw {
            let (c0, c1) = (2 * x * 3, (2 * x + 1).min(w - 1) * 3);
            for c in 0..3 {
                let sum = u16::from(raw[r0 + c0 + c])
                    + u16::from(raw[r0 + c1 + c])
                    + u16::from(raw[r1 + c0 + c])
                    + u16::from(raw[r1 + c1 + c]);
                out[(y * hw + x) * 3 + c] = ((sum + 2) / 4) as u8;
            }
        }
    }
    RgbImage::from_raw(hw as u32, hh as u32, out).unwrap_or_default()
}

/// The whole image shrunk into a `size` × `size` square from its top-left corner, the rest
/// black: the face detector's whole-image window and the pose model's input are the same
/// pixels, sampled once per photo.
pub struct Letterbox {
    pub pixels: Vec<[f32; 3]>,
    pub size: usize,
    /// The source's long side: the square covers `side` × `side` source pixels.
    pub side: f32,
}

impl Letterbox {
    pub fn of(image: &RgbImage, size: usize) -> Self {
        let side = image.width().max(image.height()) as f32;
        let s = side / size as f32;
        let m = Affine { a: s, b: 0.0, c: 0.0, d: 0.0, e: s, f: 0.0 };
        Self { pixels: warp(image, &m, size, size), size, side }
    }
}

/// Where output index `o` of one axis takes its source: (source index, weight) pairs, the
/// two bilinear neighbours of each of the k taps, each tap weighted 1/k. A tap outside
/// `0..len` contributes nothing (black), as in the 2-D sampler.
fn axis_taps(n: usize, scale: f32, offset: f32, k: usize, len: usize) -> Vec<Vec<(usize, f32)>> {
    let per_tap = 1.0 / k as f32;
    (0..n)
        .map(|o| {
            let mut taps = Vec::with_capacity(2 * k);
            for i in 0..k {
                let t = o as f32 + (i as f32 + 0.5) / k as f32;
                let x = scale * t + offset;
                if let Some((x0, x1, f)) = neighbours(x, len) {
                    taps.push((x0, (1.0 - f) * per_tap));
                    taps.push((x1, f * per_tap));
                }
            }
            taps
        })
        .collect()
}

/// The two source pixels (clamped to the edge) around continuous coordinate `x` and the
/// second one's weight; None outside `[0, len)`. `floor` without a libm call: x ≥ 0 here,
/// so x − 0.5 ≥ −0.5 and truncating x + 0.5 then subtracting 1 floors it.
#[inline(always)]
fn neighbours(x: f32, len: usize) -> Option<(usize, usize, f32)> {
    if !(x >= 0.0 && x < len as f32) {
        return None;
    }
    let s = x - 0.5;
    let below = (s + 1.0) as usize; // floor(s) + 1, never negative
    let f = s - (below as f32 - 1.0);
    Some((below.saturating_sub(1), below.min(len - 1), f))
}

fn warp_separable(img: &RgbImage, m: &Affine, k: usize, out_w: usize, out_h: usize) -> Vec<[f32; 3]> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let raw = img.as_raw();
    let cols = axis_taps(out_w, m.a, m.c, k, w);
    let rows = axis_taps(out_h, m.e, m.f, k, h);
    let mut out = vec![[0.0f32; 3]; out_w * out_h];
    let Some(first) = cols.iter().flatten().map(|t| t.0).min() else { return out };
    let last = cols.iter().flatten().map(|t| t.0).max().unwrap_or(first);
    let span = (last - first + 1) * 3;
    let mut line = vec![0.0f32; span];
    for (v, row_taps) in rows.iter().enumerate() {
        if row_taps.is_empty() {
            continue;
        }
        // The source rows this output row takes, weighted, over the columns any tap reads.
        line.fill(0.0);
        for &(r, wy) in row_taps {
            let src = &raw[(r * w + first) * 3..(r * w + first) * 3 + span];
            for (l, &p) in line.iter_mut().zip(src) {
                *l += wy * f32::from(p);
            }
        }
        let out_row = &mut out[v * out_w..(v + 1) * out_w];
        for (o, col_taps) in out_row.iter_mut().zip(&cols) {
            let mut acc = [0.0f32; 3];
            for &(c, wx) in col_taps {
                let p = &line[(c - first) * 3..(c - first) * 3 + 3];
                acc[0] += wx * p[0];
                acc[1] += wx * p[1];
                acc[2] += wx * p[2];
            }
            *o = acc;
        }
    }
    out
}

fn warp_rotated(img: &RgbImage, m: &Affine, k: usize, out_w: usize, out_h: usize) -> Vec<[f32; 3]> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let raw = img.as_raw();
    let inv = 1.0 / (k * k) as f32;
    let offsets: Vec<f32> = (0..k).map(|i| (i as f32 + 0.5) / k as f32).collect();
    let mut out = vec![[0.0f32; 3]; out_w * out_h];
    for v in 0..out_h {
        for u in 0..out_w {
            let mut acc = [0.0f32; 3];
            for &dv in &offsets {
                for &du in &offsets {
                    let (x, y) = m.apply(u as f32 + du, v as f32 + dv);
                    let (Some((x0, x1, fx)), Some((y0, y1, fy))) = (neighbours(x, w), neighbours(y, h)) else {
                        continue;
                    };
                    let (r0, r1) = (y0 * w, y1 * w);
                    let (p00, p10) = ((r0 + x0) * 3, (r0 + x1) * 3);
                    let (p01, p11) = ((r1 + x0) * 3, (r1 + x1) * 3);
                    for c in 0..3 {
                        let top = f32::from(raw[p00 + c]) * (1.0 - fx) + f32::from(raw[p10 + c]) * fx;
                        let bottom = f32::from(raw[p01 + c]) * (1.0 - fx) + f32::from(raw[p11 + c]) * fx;
                        acc[c] += top * (1.0 - fy) + bottom * fy;
                    }
                }
            }
            out[v * out_w + u] = [acc[0] * inv, acc[1] * inv, acc[2] * inv];
        }
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

    /// The k×k bilinear taps of [`warp`]'s contract, one call per tap: the reference the
    /// fast paths must reproduce.
    fn reference_warp(img: &RgbImage, m: &Affine, out_w: usize, out_h: usize) -> Vec<[f32; 3]> {
        let k = (m.scale().ceil() as usize).clamp(1, 4);
        let (w, h) = (img.width() as i64, img.height() as i64);
        let bilinear = |x: f32, y: f32| {
            if !(x >= 0.0 && y >= 0.0 && x < w as f32 && y < h as f32) {
                return [0.0f32; 3];
            }
            let (sx, sy) = (x - 0.5, y - 0.5);
            let (x0, y0) = (sx.floor(), sy.floor());
            let (fx, fy) = (sx - x0, sy - y0);
            let p = |xx: i64, yy: i64| img.get_pixel(xx.clamp(0, w - 1) as u32, yy.clamp(0, h - 1) as u32).0;
            let (x0, y0) = (x0 as i64, y0 as i64);
            let (p00, p10, p01, p11) = (p(x0, y0), p(x0 + 1, y0), p(x0, y0 + 1), p(x0 + 1, y0 + 1));
            std::array::from_fn(|c| {
                let top = p00[c] as f32 * (1.0 - fx) + p10[c] as f32 * fx;
                let bottom = p01[c] as f32 * (1.0 - fx) + p11[c] as f32 * fx;
                top * (1.0 - fy) + bottom * fy
            })
        };
        let mut out = vec![[0.0f32; 3]; out_w * out_h];
        for v in 0..out_h {
            for u in 0..out_w {
                let mut acc = [0.0f32; 3];
                for j in 0..k {
                    for i in 0..k {
                        let (x, y) =
                            m.apply(u as f32 + (i as f32 + 0.5) / k as f32, v as f32 + (j as f32 + 0.5) / k as f32);
                        let p = bilinear(x, y);
                        (0..3).for_each(|c| acc[c] += p[c]);
                    }
                }
                out[v * out_w + u] = acc.map(|a| a / (k * k) as f32);
            }
        }
        out
    }

    #[test]
    fn fast_warps_match_the_tap_by_tap_reference() {
        // A textured image, so a misplaced tap shows.
        let img = RgbImage::from_fn(97, 61, |x, y| {
            image::Rgb([(x * 7 + y * 3) as u8, (x * x + y * 11) as u8, ((x ^ y) * 5) as u8])
        });
        let cases = [
            // Letterboxes and windows: shrinking by 1..4+, partly outside, enlarging.
            (Affine { a: 97.0 / 32.0, b: 0.0, c: 0.0, d: 0.0, e: 97.0 / 32.0, f: 0.0 }, 32, 32),
            (Affine { a: 1.7, b: 0.0, c: -20.0, d: 0.0, e: 1.7, f: 13.5 }, 40, 30),
            (Affine { a: 5.5, b: 0.0, c: 3.0, d: 0.0, e: 5.5, f: 2.0 }, 16, 12),
            (Affine { a: 0.4, b: 0.0, c: 30.2, d: 0.0, e: 0.4, f: 20.7 }, 24, 24),
            // Rotated and mirrored crops.
            (Affine::window((48.0, 30.0), 50.0, 0.4, 20, false), 20, 20),
            (Affine::window((10.0, 50.0), 90.0, -1.1, 24, true), 24, 24),
            (Affine::window((60.0, 20.0), 12.0, 0.2, 32, true), 32, 32),
        ];
        for (m, w, h) in cases {
            let (fast, slow) = (warp(&img, &m, w, h), reference_warp(&img, &m, w, h));
            let worst =
                fast.iter().zip(&slow).flat_map(|(a, b)| (0..3).map(move |c| (a[c] - b[c]).abs())).fold(0.0, f32::max);
            assert!(worst < 1e-3, "{m:?}: differs by {worst}");
        }
    }

    #[test]
    fn a_shrinking_rotated_crop_from_the_half_size_copy_matches_the_full_image() {
        // Smooth shading with fine texture, as a face crop has.
        let img = RgbImage::from_fn(901, 1137, |x, y| {
            let base = 128.0 + 90.0 * ((x as f32 / 57.0).sin() * (y as f32 / 83.0).cos());
            let texture = ((x * 7 + y * 13) % 11) as f32 - 5.0;
            image::Rgb([(base + texture) as u8, (base * 0.8) as u8, (255.0 - base) as u8])
        });
        let sources = Sources::new(&img);
        for (side, angle) in [(600.0, 0.2f32), (900.0, -0.5), (300.0, 0.1)] {
            let m = Affine::window((450.0, 560.0), side, angle, 192, false);
            let (full, halved) = (warp(&img, &m, 192, 192), sources.warp(&m, 192, 192));
            let diffs: Vec<f32> =
                full.iter().zip(&halved).flat_map(|(a, b)| (0..3).map(move |c| (a[c] - b[c]).abs())).collect();
            let mean = diffs.iter().sum::<f32>() / diffs.len() as f32;
            // The few pixels astride the image's edge differ more: their taps fall outside
            // (black) in different shares.
            let mut sorted = diffs.clone();
            sorted.sort_by(f32::total_cmp);
            let p99 = sorted[sorted.len() * 99 / 100];
            assert!(mean < 1.0 && p99 < 6.0, "side {side}: mean {mean}, 99th percentile {p99}");
        }
        assert!(sources.half.get().is_some(), "the 3× crops used the half-size copy");
    }

    #[test]
    fn point_in_polygon() {
        let square = [(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)];
        assert!(inside(&square, 5.0, 5.0));
        assert!(!inside(&square, 15.0, 5.0));
    }
}
