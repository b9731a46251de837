//! The functions (the workflow's six and the upload trigger): where their code comes from (the
//! workspace's own binaries, zipped as a `bootstrap` the way `provided.al2023` wants them, or
//! zips `cargo lambda` built for AWS, given or built by `package`), their environment, and
//! create-or-update through the Lambda API.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Architecture, Environment, FunctionCode, Runtime};
use base64::Engine;
use sha2::Digest;

use super::Outcome;
use crate::cloud::{Clients, error_code, error_message};
use crate::workshop::{FunctionSpec, WorkshopNames};

/// Where the functions' code comes from.
#[derive(Debug, Clone)]
pub enum CodeSource {
    /// A directory holding the workspace's binaries (`face-detection`, `thumbnail`…), as
    /// `cargo build --workspace --bins` leaves them: each is zipped as `bootstrap`.
    Binaries(PathBuf),
    /// A directory of zips made for AWS: `<binary>/bootstrap.zip` (the layout of
    /// `cargo lambda build --output-format zip`) or `<binary>.zip`.
    Zips(PathBuf),
    /// Zips to be built with cargo-lambda in the wildrydes workspace this runs in
    /// ([`CodeSource::prepared`] builds them).
    CargoLambda,
}

#[derive(Debug, Clone)]
pub struct FunctionSettings {
    pub code: CodeSource,
    /// What the code is built for: this machine's architecture locally, the zips' on AWS.
    pub architecture: Architecture,
    /// The notification's sender and recipients (comma-separated); `None` leaves the
    /// notification formatting only, as the workshop's placeholder does.
    pub notification: Option<(String, String)>,
    /// On AWS, a function is `Pending` after a change and must settle before the next one.
    pub wait_for_aws: bool,
}

const TIMEOUT_SECONDS: i32 = 60;
const MEMORY_MB: i32 = 512;

impl CodeSource {
    /// The source with its zips built, when they are still to be built; the first time this
    /// takes minutes (a release cross-build of every function).
    pub(super) async fn prepared(
        &self,
        architecture: &Architecture,
        progress: super::ProgressSink<'_>,
    ) -> anyhow::Result<CodeSource> {
        let CodeSource::CargoLambda = self else { return Ok(self.clone()) };
        let here = std::env::current_dir().context("reading the current directory")?;
        let workspace = super::package::find_workspace(&here).ok_or_else(|| {
            anyhow::anyhow!(
                "packaging the functions needs the wildrydes source, and {} is not in it: run deploy in its \
                 checkout, or give --lambda-zips DIR with zips built for Lambda",
                here.display()
            )
        })?;
        let resource = format!("function packages ({})", super::package::describe(architecture));
        progress(super::Progress::Working(resource.clone()));
        let architecture = architecture.clone();
        let dir = tokio::task::spawn_blocking(move || super::package::build(&workspace, &architecture))
            .await?
            .with_context(|| resource.clone())?;
        progress(super::Progress::Done { resource, outcome: Outcome::Built });
        Ok(CodeSource::Zips(dir))
    }

    /// The deployment package of one function.
    fn package(&self, binary: &str) -> anyhow::Result<Vec<u8>> {
        match self {
            CodeSource::Binaries(dir) => {
                let path = dir.join(binary);
                let bytes = std::fs::read(&path).map_err(|e| missing_binary(&path, e))?;
                crate::local::lambda::code::zip_bootstrap(&bytes)
                    .with_context(|| format!("zipping {} as bootstrap", path.display()))
            }
            CodeSource::Zips(dir) => {
                let candidates = [dir.join(binary).join("bootstrap.zip"), dir.join(format!("{binary}.zip"))];
                for path in &candidates {
                    if path.is_file() {
                        return std::fs::read(path).with_context(|| format!("reading {}", path.display()));
                    }
                }
                anyhow::bail!(
                    "no deployment package for {binary}: looked for {} and {}. Build them with \
                     `cargo lambda build --release --output-format zip` (they land in target/lambda/).",
                    candidates[0].display(),
                    candidates[1].display()
                )
            }
            CodeSource::CargoLambda => anyhow::bail!("the functions are not packaged yet"),
        }
    }
}

fn missing_binary(path: &Path, e: std::io::Error) -> anyhow::Error {
    anyhow::anyhow!(
        "the function binary {} is not there ({e}). Build the functions first: \
         `cargo build --release --workspace --bins` (or without --release for a debug build), \
         or point --lambda-dir at the directory that holds them.",
        path.display()
    )
}

/// The environment each workflow function reads (see each crate's documentation). The
/// upload trigger's `STATE_MACHINE_ARN` is known only once the state machines exist:
/// deploy adds it.
pub fn environment(spec: &FunctionSpec, names: &WorkshopNames, settings: &FunctionSettings) -> HashMap<String, String> {
    let mut env = HashMap::new();
    let mut set = |k: &str, v: &str| {
        env.insert(k.to_string(), v.to_string());
    };
    match spec.binary {
        "face-search" | "index-face" => set("REKOGNITION_COLLECTION_ID", &names.collection),
        "thumbnail" => {
            set("THUMBNAIL_BUCKET", &names.thumbnail_bucket);
            set("MAX_WIDTH", "300");
            set("MAX_HEIGHT", "300");
        }
        "persist-metadata" => set("RIDER_PHOTOS_DDB_TABLE", &names.riders_table),
        "notification" => {
            if let Some((from, to)) = &settings.notification {
                set("NOTIFICATION_FROM", from);
                set("NOTIFICATION_TO", to);
            }
        }
        _ => {}
    }
    env
}

/// AWS's CodeSha256: the base64 of the SHA-256 of the zip.
fn code_sha256(zip: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(zip))
}

/// Creates the function with the environment `env` and the execution role `role_arn`, or
/// brings its code and configuration up to date.
pub async fn ensure_function(
    clients: &Clients,
    spec: &FunctionSpec,
    env: HashMap<String, String>,
    settings: &FunctionSettings,
    role_arn: &str,
) -> anyhow::Result<(String, Outcome)> {
    let name = spec.function_name();
    let code = settings.code.clone();
    let binary = spec.binary;
    // Zipping a debug binary (≈140 MB) takes seconds: keep it off the async workers.
    let zip = tokio::task::spawn_blocking(move || code.package(binary)).await??;
    let sha = code_sha256(&zip);

    let existing = match clients.lambda.get_function().function_name(&name).send().await {
        Ok(found) => found.configuration,
        Err(e) if error_code(&e) == Some("ResourceNotFoundException") => None,
        Err(e) => anyhow::bail!("{}", error_message(&e)),
    };
    let Some(current) = existing else {
        let zip = Blob::new(zip);
        let created = while_role_propagates(settings, || {
            clients
                .lambda
                .create_function()
                .function_name(&name)
                .runtime(Runtime::Providedal2023)
                .handler("bootstrap")
                .architectures(settings.architecture.clone())
                .role(role_arn)
                .code(FunctionCode::builder().zip_file(zip.clone()).build())
                .environment(Environment::builder().set_variables(Some(env.clone())).build())
                .timeout(TIMEOUT_SECONDS)
                .memory_size(MEMORY_MB)
                .description(format!("Wild Rydes workshop: {}", spec.binary))
                .send()
        })
        .await
        .map_err(|e| anyhow::anyhow!("{}", error_message(&e)))?;
        wait_until_settled(clients, &name, settings).await?;
        return Ok((created.function_arn().unwrap_or_default().to_string(), Outcome::Created));
    };

    let arn = current.function_arn().unwrap_or_default().to_string();
    let mut outcome = Outcome::Unchanged;
    if current.code_sha256() != Some(sha.as_str()) || current.architectures() != [settings.architecture.clone()] {
        clients
            .lambda
            .update_function_code()
            .function_name(&name)
            .architectures(settings.architecture.clone())
            .zip_file(Blob::new(zip))
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("updating the code: {}", error_message(&e)))?;
        wait_until_settled(clients, &name, settings).await?;
        outcome = Outcome::Updated;
    }
    let current_env = current.environment().and_then(|e| e.variables()).cloned().unwrap_or_default();
    let configuration_differs = current_env != env
        || current.timeout() != Some(TIMEOUT_SECONDS)
        || current.memory_size() != Some(MEMORY_MB)
        || current.role() != Some(role_arn);
    if configuration_differs {
        while_role_propagates(settings, || {
            clients
                .lambda
                .update_function_configuration()
                .function_name(&name)
                .role(role_arn)
                .environment(Environment::builder().set_variables(Some(env.clone())).build())
                .timeout(TIMEOUT_SECONDS)
                .memory_size(MEMORY_MB)
                .send()
        })
        .await
        .map_err(|e| anyhow::anyhow!("updating the configuration: {}", error_message(&e)))?;
        wait_until_settled(clients, &name, settings).await?;
        outcome = Outcome::Updated;
    }
    Ok((arn, outcome))
}

/// On AWS a role made or changed seconds ago may not be assumable yet: wait for it there.
/// Locally any role of the right shape is accepted at once.
async fn while_role_propagates<T, E, F, Fut>(
    settings: &FunctionSettings,
    mut call: F,
) -> Result<T, aws_sdk_lambda::error::SdkError<E, aws_sdk_lambda::config::http::HttpResponse>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<
            Output = Result<T, aws_sdk_lambda::error::SdkError<E, aws_sdk_lambda::config::http::HttpResponse>>,
        >,
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    if settings.wait_for_aws { super::roles::while_role_propagates(call).await } else { call().await }
}

/// On AWS a created or changed function is `Pending`/`InProgress` for a while, and the
/// next change to it fails until it settles.
async fn wait_until_settled(clients: &Clients, name: &str, settings: &FunctionSettings) -> anyhow::Result<()> {
    if !settings.wait_for_aws {
        return Ok(());
    }
    use aws_sdk_lambda::client::Waiters;
    clients
        .lambda
        .wait_until_function_updated_v2()
        .function_name(name)
        .wait(std::time::Duration::from_secs(300))
        .await
        .map_err(|e| anyhow::anyhow!("the function {name} did not become ready: {e}"))?;
    Ok(())
}

/// Locally the functions run on this machine, so they are built for its architecture.
pub fn host_architecture() -> Architecture {
    if std::env::consts::ARCH == "aarch64" { Architecture::Arm64 } else { Architecture::X8664 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workshop::FUNCTIONS;

    fn settings(notification: bool) -> FunctionSettings {
        FunctionSettings {
            code: CodeSource::Binaries(PathBuf::from("/nonexistent")),
            architecture: host_architecture(),
            notification: notification.then(|| ("from@x.example".into(), "to@x.example".into())),
            wait_for_aws: false,
        }
    }

    #[test]
    fn each_function_gets_the_variables_its_crate_reads() {
        let names = WorkshopNames::local();
        let env_of = |binary: &str, notify: bool| {
            let spec = FUNCTIONS.iter().find(|f| f.binary == binary).unwrap();
            environment(spec, &names, &settings(notify))
        };
        assert_eq!(env_of("face-search", false)["REKOGNITION_COLLECTION_ID"], "rider-photos");
        assert_eq!(env_of("index-face", false)["REKOGNITION_COLLECTION_ID"], "rider-photos");
        assert_eq!(env_of("thumbnail", false)["THUMBNAIL_BUCKET"], names.thumbnail_bucket);
        assert_eq!(env_of("persist-metadata", false)["RIDER_PHOTOS_DDB_TABLE"], names.riders_table);
        assert_eq!(env_of("notification", true)["NOTIFICATION_TO"], "to@x.example");
        assert!(env_of("notification", false).is_empty(), "without addresses the notification only formats");
    }

    #[test]
    fn a_missing_binary_says_how_to_build_it() {
        let err = settings(false).code.package("face-detection").unwrap_err().to_string();
        assert!(err.contains("/nonexistent/face-detection"), "{err}");
        assert!(err.contains("cargo build --release --workspace --bins"), "{err}");
        let zips = CodeSource::Zips(PathBuf::from("/nonexistent")).package("thumbnail").unwrap_err().to_string();
        assert!(zips.contains("cargo lambda build"), "{zips}");
    }

    #[test]
    fn the_package_of_a_binary_is_a_deterministic_bootstrap_zip() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("thumbnail"), b"\x7fELF pretend binary").unwrap();
        let source = CodeSource::Binaries(dir.path().to_path_buf());
        let (a, b) = (source.package("thumbnail").unwrap(), source.package("thumbnail").unwrap());
        assert_eq!(code_sha256(&a), code_sha256(&b), "the same binary must give the same CodeSha256");
        let unpacked = tempfile::tempdir().unwrap();
        crate::local::lambda::code::unpack(&a, unpacked.path()).unwrap();
        assert_eq!(std::fs::read(unpacked.path().join("bootstrap")).unwrap(), b"\x7fELF pretend binary");
    }
}
