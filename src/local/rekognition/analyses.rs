//! Recent image analyses, remembered by the SHA-256 of the image bytes. One execution of the
//! rider workflow shows the same photo to DetectFaces, SearchFacesByImage and IndexFaces;
//! the models' answer for the same bytes never changes, so the second and third calls reuse
//! the decoded pixels, the faces found and the embeddings computed. Keyed by content, never
//! by a name: a changed object under the same key is a new analysis.
//!
//! Bounded by the pixels it holds (oldest out first), so a run of large photos cannot grow
//! it without limit. No crate fits a byte-bounded cache of a handful of entries better than
//! this short list.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use image::RgbImage;
use sha2::{Digest, Sha256};

use super::faces::{DetectedFace, FaceAnalyzer, FaceError};
use super::vectors::Vector;

/// At most this many bytes of decoded pixels are remembered (about 20 selfies of 1 MP).
const MAX_PIXEL_BYTES: usize = 64 * 1024 * 1024;

pub type ImageKey = [u8; 32];

pub fn image_key(bytes: &[u8]) -> ImageKey {
    Sha256::digest(bytes).into()
}

/// One image's analysis: its pixels, the faces found (largest first), and the embeddings
/// computed so far.
pub struct Analysis {
    pub image: RgbImage,
    pub faces: Vec<DetectedFace>,
    embeddings: Mutex<HashMap<[u32; 4], Vector>>,
}

impl Analysis {
    pub fn new(image: RgbImage, faces: Vec<DetectedFace>) -> Self {
        Self { image, faces, embeddings: Mutex::new(HashMap::new()) }
    }

    fn pixel_bytes(&self) -> usize {
        self.image.as_raw().len()
    }
}

/// The models with the image's embeddings remembered: what the Rekognition operations embed
/// faces through.
pub struct Embedder<'a> {
    pub analyzer: &'a FaceAnalyzer,
    pub analysis: &'a Analysis,
    /// The SHA-256 of the image bytes (IndexFaces stores it to recognise a repeat).
    pub image_key: ImageKey,
}

impl Embedder<'_> {
    /// The face's embedding; computed once per face of an analysed image. A face is known
    /// by its bounding box, which is identical for every copy of the analysis's faces.
    pub fn embed(&self, image: &RgbImage, face: &DetectedFace) -> Result<Vector, FaceError> {
        let b = &face.bounding_box;
        let key = [b.left.to_bits(), b.top.to_bits(), b.width.to_bits(), b.height.to_bits()];
        let known = self.analysis.embeddings.lock().ok().and_then(|m| m.get(&key).copied());
        if let Some(vector) = known {
            return Ok(vector);
        }
        let vector = self.analyzer.embed(image, face)?;
        if let Ok(mut m) = self.analysis.embeddings.lock() {
            m.insert(key, vector);
        }
        Ok(vector)
    }
}

/// The remembered analyses, newest last.
#[derive(Default)]
pub struct Analyses {
    recent: Mutex<VecDeque<(ImageKey, Arc<Analysis>)>>,
}

impl Analyses {
    pub const fn new() -> Self {
        Self { recent: Mutex::new(VecDeque::new()) }
    }

    pub fn get(&self, key: &ImageKey) -> Option<Arc<Analysis>> {
        let mut recent = self.recent.lock().ok()?;
        let at = recent.iter().position(|(k, _)| k == key)?;
        let entry = recent.remove(at)?;
        let analysis = entry.1.clone();
        recent.push_back(entry);
        Some(analysis)
    }

    pub fn insert(&self, key: ImageKey, analysis: Arc<Analysis>) {
        if analysis.pixel_bytes() > MAX_PIXEL_BYTES {
            return;
        }
        let Ok(mut recent) = self.recent.lock() else { return };
        recent.retain(|(k, _)| k != &key);
        recent.push_back((key, analysis));
        let mut held: usize = recent.iter().map(|(_, a)| a.pixel_bytes()).sum();
        while held > MAX_PIXEL_BYTES {
            match recent.pop_front() {
                Some((_, old)) => held -= old.pixel_bytes(),
                None => break,
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.recent.lock().map(|r| r.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analysis(side: u32) -> Arc<Analysis> {
        Arc::new(Analysis::new(RgbImage::new(side, side), Vec::new()))
    }

    #[test]
    fn the_same_bytes_find_the_same_analysis_and_other_bytes_do_not() {
        let cache = Analyses::new();
        let a = analysis(4);
        cache.insert(image_key(b"photo one"), a.clone());
        assert!(Arc::ptr_eq(&cache.get(&image_key(b"photo one")).unwrap(), &a));
        assert!(cache.get(&image_key(b"photo one, changed")).is_none());
    }

    #[test]
    fn the_oldest_analyses_leave_once_the_pixels_exceed_the_bound() {
        let cache = Analyses::new();
        // 2048×2048 RGB is 12 MiB: five fit in 64 MiB, the sixth pushes the first out.
        for i in 0..6u8 {
            cache.insert(image_key(&[i]), analysis(2048));
        }
        assert_eq!(cache.len(), 5);
        assert!(cache.get(&image_key(&[0])).is_none());
        assert!(cache.get(&image_key(&[5])).is_some());
        // Reading one makes it the newest: it outlives an older one.
        assert!(cache.get(&image_key(&[1])).is_some());
        cache.insert(image_key(&[6]), analysis(2048));
        assert!(cache.get(&image_key(&[1])).is_some());
        assert!(cache.get(&image_key(&[2])).is_none());
    }

    #[test]
    fn an_image_larger_than_the_bound_is_not_remembered() {
        let cache = Analyses::new();
        cache.insert(image_key(b"huge"), analysis(5000));
        assert_eq!(cache.len(), 0);
    }
}
