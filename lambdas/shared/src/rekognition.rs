//! Rekognition SDK types as the JSON AWS returns (PascalCase field names, absent fields
//! left out). The SDK's types are not serde-serialisable, and the state machine's data —
//! `detectedFaceDetails`, `parallelResult[0]` — must look as it does on AWS, so the
//! conversion lives here, once.

use aws_sdk_rekognition::types::{BoundingBox, Emotion, Face, FaceDetail, Landmark};
use serde_json::{Map, Number, Value};

/// An `f32` as the shortest decimal that reads back as the same `f32` (`99.99987`, not the
/// `99.99987030029297` an `f64` widening would print); non-finite values become `null`.
pub fn float(value: f32) -> Value {
    if !value.is_finite() {
        return Value::Null;
    }
    let mut text = value.to_string();
    if !text.contains(['.', 'e', 'E']) {
        text.push_str(".0");
    }
    text.parse::<Number>().map(Value::Number).unwrap_or_else(|_| Value::from(f64::from(value)))
}

/// Builds a JSON object, leaving out the fields that are absent.
#[derive(Default)]
struct Object(Map<String, Value>);

impl Object {
    fn put(mut self, key: &str, value: impl Into<Option<Value>>) -> Self {
        if let Some(value) = value.into() {
            self.0.insert(key.to_owned(), value);
        }
        self
    }

    fn float(self, key: &str, value: Option<f32>) -> Self {
        self.put(key, value.map(float))
    }

    fn string(self, key: &str, value: Option<&str>) -> Self {
        self.put(key, value.map(|s| Value::String(s.to_owned())))
    }

    fn done(self) -> Value {
        Value::Object(self.0)
    }
}

/// `{"Width", "Height", "Left", "Top"}`.
pub fn bounding_box_json(bb: &BoundingBox) -> Value {
    Object::default()
        .float("Width", bb.width)
        .float("Height", bb.height)
        .float("Left", bb.left)
        .float("Top", bb.top)
        .done()
}

/// A boolean attribute with its confidence (`Smile`, `Sunglasses`, `EyesOpen`…).
fn flag(value: bool, confidence: Option<f32>) -> Value {
    Object::default().put("Value", Value::Bool(value)).float("Confidence", confidence).done()
}

fn emotion_json(emotion: &Emotion) -> Value {
    Object::default()
        .string("Type", emotion.r#type.as_ref().map(|t| t.as_str()))
        .float("Confidence", emotion.confidence)
        .done()
}

fn landmark_json(landmark: &Landmark) -> Value {
    Object::default()
        .string("Type", landmark.r#type.as_ref().map(|t| t.as_str()))
        .float("X", landmark.x)
        .float("Y", landmark.y)
        .done()
}

/// A `FaceDetail` as DetectFaces returns it, in AWS's field order. `Landmarks` is left
/// out unless asked for: the workshop's FaceDetection function drops it to keep the
/// execution's data small.
pub fn face_detail_json(detail: &FaceDetail, include_landmarks: bool) -> Value {
    let landmarks = detail
        .landmarks
        .as_ref()
        .filter(|_| include_landmarks)
        .map(|marks| Value::Array(marks.iter().map(landmark_json).collect()));
    Object::default()
        .put("BoundingBox", detail.bounding_box.as_ref().map(bounding_box_json))
        .put(
            "AgeRange",
            detail.age_range.as_ref().map(|r| {
                Object::default().put("Low", r.low.map(Value::from)).put("High", r.high.map(Value::from)).done()
            }),
        )
        .put("Smile", detail.smile.as_ref().map(|a| flag(a.value, a.confidence)))
        .put("Eyeglasses", detail.eyeglasses.as_ref().map(|a| flag(a.value, a.confidence)))
        .put("Sunglasses", detail.sunglasses.as_ref().map(|a| flag(a.value, a.confidence)))
        .put(
            "Gender",
            detail.gender.as_ref().map(|g| {
                Object::default()
                    .string("Value", g.value.as_ref().map(|v| v.as_str()))
                    .float("Confidence", g.confidence)
                    .done()
            }),
        )
        .put("Beard", detail.beard.as_ref().map(|a| flag(a.value, a.confidence)))
        .put("Mustache", detail.mustache.as_ref().map(|a| flag(a.value, a.confidence)))
        .put("EyesOpen", detail.eyes_open.as_ref().map(|a| flag(a.value, a.confidence)))
        .put("MouthOpen", detail.mouth_open.as_ref().map(|a| flag(a.value, a.confidence)))
        .put("Emotions", detail.emotions.as_ref().map(|e| Value::Array(e.iter().map(emotion_json).collect())))
        .put("Landmarks", landmarks)
        .put(
            "Pose",
            detail
                .pose
                .as_ref()
                .map(|p| Object::default().float("Roll", p.roll).float("Yaw", p.yaw).float("Pitch", p.pitch).done()),
        )
        .put(
            "Quality",
            detail
                .quality
                .as_ref()
                .map(|q| Object::default().float("Brightness", q.brightness).float("Sharpness", q.sharpness).done()),
        )
        .float("Confidence", detail.confidence)
        .put("FaceOccluded", detail.face_occluded.as_ref().map(|a| flag(a.value, a.confidence)))
        .put(
            "EyeDirection",
            detail.eye_direction.as_ref().map(|d| {
                Object::default().float("Yaw", d.yaw).float("Pitch", d.pitch).float("Confidence", d.confidence).done()
            }),
        )
        .done()
}

/// A `Face` of a collection as IndexFaces and SearchFacesByImage return it.
pub fn face_json(face: &Face) -> Value {
    Object::default()
        .string("FaceId", face.face_id.as_deref())
        .put("BoundingBox", face.bounding_box.as_ref().map(bounding_box_json))
        .string("ImageId", face.image_id.as_deref())
        .string("ExternalImageId", face.external_image_id.as_deref())
        .float("Confidence", face.confidence)
        .string("IndexFacesModelVersion", face.index_faces_model_version.as_deref())
        .string("UserId", face.user_id.as_deref())
        .done()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_rekognition::types::{
        AgeRange, EmotionName, Gender, GenderType, LandmarkType, Pose, Smile, Sunglasses,
    };
    use serde_json::json;

    fn bbox() -> BoundingBox {
        BoundingBox::builder().width(0.25).height(0.5).left(0.125).top(0.1).build()
    }

    #[test]
    fn floats_print_as_their_shortest_f32_decimal() {
        assert_eq!(float(0.1).to_string(), "0.1");
        assert_eq!(float(99.99987).to_string(), "99.99987");
        assert_eq!(float(5.0).to_string(), "5.0");
        assert_eq!(float(f32::NAN), Value::Null);
    }

    #[test]
    fn face_detail_has_aws_field_names_and_order() {
        let detail = FaceDetail::builder()
            .bounding_box(bbox())
            .age_range(AgeRange::builder().low(22).high(30).build())
            .smile(Smile::builder().value(true).confidence(98.5).build())
            .sunglasses(Sunglasses::builder().value(false).confidence(99.0).build())
            .gender(Gender::builder().value(GenderType::Female).confidence(97.25).build())
            .emotions(Emotion::builder().r#type(EmotionName::Happy).confidence(90.5).build())
            .landmarks(Landmark::builder().r#type(LandmarkType::EyeLeft).x(0.3).y(0.4).build())
            .pose(Pose::builder().roll(1.5).yaw(-2.0).pitch(0.5).build())
            .confidence(99.99)
            .build();
        let value = face_detail_json(&detail, false);
        assert_eq!(
            value,
            json!({
                "BoundingBox": {"Width": 0.25, "Height": 0.5, "Left": 0.125, "Top": 0.1},
                "AgeRange": {"Low": 22, "High": 30},
                "Smile": {"Value": true, "Confidence": 98.5},
                "Sunglasses": {"Value": false, "Confidence": 99.0},
                "Gender": {"Value": "Female", "Confidence": 97.25},
                "Emotions": [{"Type": "HAPPY", "Confidence": 90.5}],
                "Pose": {"Roll": 1.5, "Yaw": -2.0, "Pitch": 0.5},
                "Confidence": 99.99
            })
        );
        let keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["BoundingBox", "AgeRange", "Smile", "Sunglasses", "Gender", "Emotions", "Pose", "Confidence"]
        );
    }

    #[test]
    fn landmarks_are_kept_only_when_asked() {
        let detail = FaceDetail::builder()
            .landmarks(Landmark::builder().r#type(LandmarkType::Nose).x(0.5).y(0.6).build())
            .build();
        assert_eq!(face_detail_json(&detail, true)["Landmarks"], json!([{"Type": "nose", "X": 0.5, "Y": 0.6}]));
        assert!(face_detail_json(&detail, false).get("Landmarks").is_none());
    }

    #[test]
    fn face_has_aws_field_names() {
        let face = Face::builder()
            .face_id("11111111-2222-3333-4444-555555555555")
            .bounding_box(bbox())
            .image_id("66666666-7777-8888-9999-000000000000")
            .external_image_id("user_a")
            .confidence(99.9)
            .build();
        assert_eq!(
            face_json(&face),
            json!({
                "FaceId": "11111111-2222-3333-4444-555555555555",
                "BoundingBox": {"Width": 0.25, "Height": 0.5, "Left": 0.125, "Top": 0.1},
                "ImageId": "66666666-7777-8888-9999-000000000000",
                "ExternalImageId": "user_a",
                "Confidence": 99.9
            })
        );
    }
}
