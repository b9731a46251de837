//! The inference engine the face models run on: **ONNX Runtime** when its shared library is
//! installed, **tract** otherwise. Both run the same ONNX files and give the same outputs
//! (within 1e-4 on every model, a test below); ONNX Runtime's kernels are 2.3–2.9 times faster
//! on these models (one thread each: BlazeFace 6.3 ms against 18, MoveNet 31 against 82, Face
//! Mesh 1.9 against 5.5, Iris 2.0 against 5, dlib 5.3 against 11; see README's benchmarks).
//!
//! ONNX Runtime is loaded at run time (`ort`'s `load-dynamic`), never linked or downloaded at
//! build time: `scripts/onnxruntime` installs PyPI's `onnxruntime` wheel, which carries
//! `libonnxruntime.so`, into the source tree's `.venv`. The library is looked for at
//! `$ORT_DYLIB_PATH`, then in a `.venv` beside the executable (or one of its parents) or in
//! the source tree. `WILDRYDES_ENGINE=tract` or `=onnxruntime` chooses instead of looking;
//! an explicit `onnxruntime` that cannot load is an error, not a quiet fallback.
//!
//! This room touches the model files and that library only: inputs are NHWC tensors of the
//! model's fixed shape, outputs every tensor's shape and values, in the model's order.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ort::session::Session as OrtModel;
use ort::session::builder::GraphOptimizationLevel;

use super::faces::FaceError;
use super::faces::timings::{Stage, timed};

/// A model's outputs: each tensor's shape and values.
pub type Outputs = Vec<(Vec<usize>, Vec<f32>)>;

/// An input tensor's values, NHWC, in the element type the model takes.
pub enum Input {
    F32(Vec<f32>),
    I32(Vec<i32>),
}

/// The element type of a model's input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Element {
    F32,
    I32,
}

/// Which engine this process runs the models on, decided once.
pub enum Engine {
    OnnxRuntime { environment: ort::environment::Environment, library: PathBuf },
    Tract { why: String },
}

impl Engine {
    /// One line for logs and benches: the engine, and where its library is or why tract.
    pub fn describe(&self) -> String {
        match self {
            Engine::OnnxRuntime { library, .. } => format!("ONNX Runtime ({})", library.display()),
            Engine::Tract { why } => format!("tract ({why})"),
        }
    }
}

/// The process's engine: chosen by `WILDRYDES_ENGINE`, else ONNX Runtime when its library is
/// found and loads, else tract.
pub fn engine() -> Result<&'static Engine, FaceError> {
    static ENGINE: OnceLock<Result<Engine, String>> = OnceLock::new();
    ENGINE.get_or_init(choose).as_ref().map_err(|message| FaceError::Engine(message.clone()))
}

fn choose() -> Result<Engine, String> {
    let wanted = std::env::var("WILDRYDES_ENGINE").unwrap_or_default();
    match wanted.as_str() {
        "tract" => return Ok(Engine::Tract { why: "WILDRYDES_ENGINE=tract".into() }),
        "" | "onnxruntime" => {}
        other => return Err(format!("WILDRYDES_ENGINE is `{other}`; it takes `onnxruntime` or `tract`")),
    }
    let explicit = wanted == "onnxruntime";
    let Some(library) = onnxruntime_library() else {
        let why = "ONNX Runtime is not installed: scripts/onnxruntime installs it".to_string();
        return if explicit { Err(why) } else { Ok(Engine::Tract { why }) };
    };
    let loaded = ort::init_from(&library)
        .map_err(|e| e.to_string())
        .and_then(|builder| builder.with_name("wildrydes").build().map_err(|e| e.to_string()));
    match loaded {
        Ok(environment) => Ok(Engine::OnnxRuntime { environment, library }),
        Err(e) => {
            let why = format!("ONNX Runtime at {} cannot be loaded: {e}", library.display());
            if explicit { Err(why) } else { Ok(Engine::Tract { why }) }
        }
    }
}

/// `$ORT_DYLIB_PATH`, else the wheel's library in a `.venv` next to the executable or one of
/// its parents (installed or `target/…` layouts), else in the source tree's `.venv`.
fn onnxruntime_library() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("ORT_DYLIB_PATH") {
        return Some(PathBuf::from(path));
    }
    let exe = std::env::current_exe().ok();
    let roots = exe.iter().flat_map(|e| e.ancestors().skip(1).take(5)).chain([Path::new(env!("CARGO_MANIFEST_DIR"))]);
    roots.into_iter().find_map(|root| venv_library(&root.join(".venv")))
}

/// `libonnxruntime.so.*` of the `onnxruntime` wheel installed in the virtualenv `venv`.
fn venv_library(venv: &Path) -> Option<PathBuf> {
    let lib = std::fs::read_dir(venv.join("lib")).ok()?;
    let mut found: Vec<PathBuf> = lib
        .flatten()
        .map(|python| python.path().join("site-packages/onnxruntime/capi"))
        .filter_map(|capi| std::fs::read_dir(capi).ok())
        .flat_map(|entries| entries.flatten().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("libonnxruntime.so.")))
        .collect();
    found.sort();
    found.pop()
}

/// One loaded model on the process's engine.
pub struct Model {
    shape: Vec<usize>,
    element: Element,
    path: PathBuf,
    runner: Runner,
}

enum Runner {
    /// ONNX Runtime runs a loaded model from one thread at a time (`run` takes `&mut`): a
    /// free list of loaded copies, grown when more calls run at once than there are copies.
    OnnxRuntime {
        environment: &'static ort::environment::Environment,
        free: Mutex<Vec<OrtModel>>,
    },
    Tract(tract::Plan),
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model").field("path", &self.path).field("shape", &self.shape).finish_non_exhaustive()
    }
}

impl Model {
    /// Loads the ONNX file at `path`, its input fixed to `shape` of `element`s.
    pub fn load(path: &Path, shape: &[usize], element: Element) -> Result<Self, FaceError> {
        let runner = match engine()? {
            Engine::OnnxRuntime { environment, .. } => {
                Runner::OnnxRuntime { environment, free: Mutex::new(vec![ort_model(environment, path)?]) }
            }
            Engine::Tract { .. } => Runner::Tract(tract::plan(path, shape, element)?),
        };
        Ok(Self { shape: shape.to_vec(), element, path: path.to_path_buf(), runner })
    }

    /// Runs the model on `input`, timed as one call of `stage`.
    pub fn run(&self, stage: Stage, input: Input) -> Result<Outputs, FaceError> {
        let expected: usize = self.shape.iter().product();
        let (len, element) = match &input {
            Input::F32(v) => (v.len(), Element::F32),
            Input::I32(v) => (v.len(), Element::I32),
        };
        if element != self.element || len != expected {
            return Err(FaceError::Inference(format!(
                "{} takes {expected} {:?} values, not {len}",
                self.path.display(),
                self.element
            )));
        }
        match &self.runner {
            Runner::OnnxRuntime { environment, free } => self.run_onnxruntime(environment, free, stage, input),
            Runner::Tract(plan) => tract::run(plan, &self.shape, stage, input),
        }
    }

    fn run_onnxruntime(
        &self,
        environment: &ort::environment::Environment,
        free: &Mutex<Vec<OrtModel>>,
        stage: Stage,
        input: Input,
    ) -> Result<Outputs, FaceError> {
        let fail = |e: ort::Error| FaceError::Inference(format!("{}: {e}", self.path.display()));
        let taken =
            free.lock().map_err(|_| FaceError::Inference("a model's loaded copies were poisoned".into()))?.pop();
        let mut copy = match taken {
            Some(copy) => copy,
            None => ort_model(environment, &self.path)?,
        };
        let shape = self.shape.clone();
        let outputs = timed(stage, || match input {
            Input::F32(values) => {
                ort::value::Tensor::from_array((shape, values)).and_then(|t| copy.run(ort::inputs![t]))
            }
            Input::I32(values) => {
                ort::value::Tensor::from_array((shape, values)).and_then(|t| copy.run(ort::inputs![t]))
            }
        })
        .map_err(fail)
        .and_then(|outputs| {
            outputs
                .iter()
                .map(|(_, value)| {
                    let (shape, data) = value.try_extract_tensor::<f32>().map_err(fail)?;
                    Ok((shape.iter().map(|&d| d.max(0) as usize).collect(), data.to_vec()))
                })
                .collect::<Result<Outputs, FaceError>>()
        });
        if let Ok(mut free) = free.lock() {
            free.push(copy);
        }
        outputs
    }
}

/// One loaded copy of a model: one thread (parallelism comes from photos analysed side by side,
/// one per inference slot), no spinning threads, every graph optimisation.
fn ort_model(environment: &ort::environment::Environment, path: &Path) -> Result<OrtModel, FaceError> {
    let fail = |e: &dyn std::fmt::Display| FaceError::Model { path: path.to_path_buf(), message: e.to_string() };
    let builder = OrtModel::builder(environment).map_err(|e| fail(&e))?;
    let builder = builder.with_optimization_level(GraphOptimizationLevel::All).map_err(|e| fail(&e))?;
    let builder = builder.with_intra_threads(1).map_err(|e| fail(&e))?;
    let builder = builder.with_inter_threads(1).map_err(|e| fail(&e))?;
    let mut builder = builder.with_intra_op_spinning(false).map_err(|e| fail(&e))?;
    builder.commit_from_file(path).map_err(|e| fail(&e))
}

/// The same models on tract, in a room of its own: its prelude names `Tensor` too.
mod tract {
    use std::path::Path;
    use std::sync::Arc;

    use tract_onnx::prelude::*;

    use super::{Element, FaceError, Input, Outputs, Stage, timed};

    pub type Plan = Arc<TypedRunnableModel>;

    /// Parses, fixes the input and optimises one model.
    pub fn plan(path: &Path, shape: &[usize], element: Element) -> Result<Plan, FaceError> {
        let fail = |e: TractError| FaceError::Model { path: path.to_path_buf(), message: format!("{e:#}") };
        let fact: InferenceFact = match element {
            Element::F32 => f32::fact(shape.to_vec()).into(),
            Element::I32 => i32::fact(shape.to_vec()).into(),
        };
        tract_onnx::onnx()
            .model_for_path(path)
            .and_then(|m| m.with_input_fact(0, fact))
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(fail)
    }

    pub fn run(plan: &Plan, shape: &[usize], stage: Stage, input: Input) -> Result<Outputs, FaceError> {
        let fail = |e: TractError| FaceError::Inference(format!("{e:#}"));
        let tensor = match input {
            Input::F32(values) => Tensor::from_shape(shape, &values),
            Input::I32(values) => Tensor::from_shape(shape, &values),
        }
        .map_err(fail)?;
        let outputs = timed(stage, || plan.run(tvec!(tensor.into()))).map_err(fail)?;
        outputs
            .iter()
            .map(|t| {
                let view = t.to_plain_array_view::<f32>().map_err(fail)?;
                Ok((t.shape().to_vec(), view.iter().copied().collect()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every model of `assets/models`, its input shape and element type.
    const MODELS: [(&str, usize, Element); 5] = [
        ("blazeface-back.onnx", 256, Element::F32),
        ("facemesh.onnx", 192, Element::F32),
        ("iris.onnx", 64, Element::F32),
        ("dlib_resnet.onnx", 150, Element::F32),
        ("movenet-multipose.onnx", 256, Element::I32),
    ];

    /// A picture-like input: smooth gradients with a little pseudo-random texture, 0..255.
    fn pixels(side: usize) -> Vec<f32> {
        let mut state = 0x2545_f491_u32;
        (0..side * side * 3)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let (y, x, c) = (i / (side * 3), (i / 3) % side, i % 3);
                let smooth = 128.0 + 100.0 * ((x as f32 / 23.0 + c as f32).sin() * (y as f32 / 31.0).cos());
                (smooth + (state % 32) as f32 - 16.0).clamp(0.0, 255.0)
            })
            .collect()
    }

    fn input(side: usize, element: Element) -> Input {
        match element {
            Element::F32 => Input::F32(pixels(side).into_iter().map(|v| v / 127.5 - 1.0).collect()),
            Element::I32 => Input::I32(pixels(side).into_iter().map(|v| v as i32).collect()),
        }
    }

    #[test]
    fn onnx_runtime_and_tract_give_the_same_outputs_on_every_model() {
        let environment = match engine() {
            Ok(Engine::OnnxRuntime { environment, .. }) => environment,
            other => {
                let why = other.map(Engine::describe).unwrap_or_else(|e| e.to_string());
                assert!(std::env::var_os("CI").is_none(), "CI installs ONNX Runtime (scripts/onnxruntime): {why}");
                eprintln!("skipped: the models run on {why}");
                return;
            }
        };
        let dir = super::super::faces::default_models_dir();
        for (file, side, element) in MODELS {
            let path = dir.join(file);
            let shape = [1, side, side, 3];
            let model = |runner| Model { shape: shape.to_vec(), element, path: path.clone(), runner };
            let free = Mutex::new(vec![ort_model(environment, &path).unwrap()]);
            let on_ort = model(Runner::OnnxRuntime { environment, free });
            let on_tract = model(Runner::Tract(tract::plan(&path, &shape, element).unwrap()));
            let a = on_ort.run(Stage::BlazeFace, input(side, element)).unwrap();
            let b = on_tract.run(Stage::BlazeFace, input(side, element)).unwrap();
            assert_eq!(a.len(), b.len(), "{file}: output count");
            for ((shape_a, a), (shape_b, b)) in a.iter().zip(&b) {
                assert_eq!(shape_a, shape_b, "{file}");
                let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
                let worst = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
                assert!(worst <= 1e-4 * scale, "{file}: outputs differ by {worst} (scale {scale})");
            }
        }
    }

    #[test]
    fn a_virtualenv_without_the_wheel_has_no_library_and_one_with_it_has_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let venv = dir.path().join(".venv");
        assert_eq!(venv_library(&venv), None);
        let capi = venv.join("lib/python3.11/site-packages/onnxruntime/capi");
        std::fs::create_dir_all(&capi).unwrap();
        std::fs::write(capi.join("libonnxruntime_providers_shared.so"), b"").unwrap();
        assert_eq!(venv_library(&venv), None, "only the runtime itself counts");
        std::fs::write(capi.join("libonnxruntime.so.1.30.0"), b"").unwrap();
        assert_eq!(venv_library(&venv), Some(capi.join("libonnxruntime.so.1.30.0")));
    }
}
