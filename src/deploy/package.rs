//! Packaging the functions for AWS with cargo-lambda, when no zips are given: `cargo lambda
//! build --release --arm64|--x86-64 --output-format zip` in the wildrydes workspace, which
//! leaves one `<binary>/bootstrap.zip` per function (the layout `CodeSource::Zips` reads).
//! cargo-lambda cross-compiles for Lambda's Amazon Linux whatever this machine is; the
//! workspace's plain `cargo build` could not.
//!
//! Knows nothing of AWS: it runs one program and says where the zips are.

use std::path::{Path, PathBuf};

use aws_sdk_lambda::types::Architecture;

use crate::workshop;

/// The workspace the functions are built from: `from` or the nearest directory above it
/// that holds the workshop's function crates.
pub fn find_workspace(from: &Path) -> Option<PathBuf> {
    from.ancestors()
        .find(|dir| dir.join("Cargo.toml").is_file() && dir.join("lambdas/face-detection/Cargo.toml").is_file())
        .map(Path::to_path_buf)
}

/// The crates to build: the six functions and the upload trigger.
fn packages() -> impl Iterator<Item = String> {
    workshop::FUNCTIONS.iter().chain([&workshop::UPLOAD_TRIGGER]).map(|spec| format!("wildrydes-{}", spec.binary))
}

/// The arguments after `cargo`.
fn arguments(architecture: &Architecture, lambda_dir: &Path) -> Vec<String> {
    let target = if *architecture == Architecture::Arm64 { "--arm64" } else { "--x86-64" };
    let mut args: Vec<String> = ["lambda", "build", "--release", target, "--output-format", "zip", "--lambda-dir"]
        .into_iter()
        .map(String::from)
        .collect();
    args.push(lambda_dir.display().to_string());
    for package in packages() {
        args.push("--package".into());
        args.push(package);
    }
    args
}

/// Whether `program` is an executable file in one of `path`'s directories.
fn on_path(program: &str, path: Option<&std::ffi::OsStr>) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let Some(path) = path else { return false };
    std::env::split_paths(path).any(|dir| {
        std::fs::metadata(dir.join(program)).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// The sentence for a machine without cargo-lambda.
const NO_CARGO_LAMBDA: &str = "packaging the functions for AWS needs cargo-lambda, which is not on PATH: install it \
     with `pip install cargo-lambda` or `cargo install cargo-lambda`, or give --lambda-zips DIR with a \
     <function>/bootstrap.zip (or <function>.zip) for each function built for Lambda";

/// The command deploy runs, for progress lines.
pub fn describe(architecture: &Architecture) -> String {
    let target = if *architecture == Architecture::Arm64 { "--arm64" } else { "--x86-64" };
    format!("cargo lambda build --release {target} --output-format zip")
}

/// Builds the functions' zips for `architecture` in `workspace` (blocking: minutes the first
/// time); returns the directory that holds them.
pub fn build(workspace: &Path, architecture: &Architecture) -> anyhow::Result<PathBuf> {
    if !on_path("cargo-lambda", std::env::var_os("PATH").as_deref()) {
        anyhow::bail!("{NO_CARGO_LAMBDA}");
    }
    let lambda_dir = workspace.join("target/lambda");
    let output = std::process::Command::new("cargo")
        .args(arguments(architecture, &lambda_dir))
        .current_dir(workspace)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| anyhow::anyhow!("could not run `cargo lambda build`: {e}"))?;
    if !output.status.success() {
        // cargo's own error is at the end of what it wrote.
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(12).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        anyhow::bail!("`cargo lambda build` failed ({}):\n{}", output.status, tail.join("\n"));
    }
    Ok(lambda_dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_builds_each_function_crate_as_a_zip_for_the_architecture_asked() {
        let args = arguments(&Architecture::Arm64, Path::new("/w/target/lambda"));
        assert_eq!(
            args[..8],
            ["lambda", "build", "--release", "--arm64", "--output-format", "zip", "--lambda-dir", "/w/target/lambda"]
        );
        let packages: Vec<&String> = args.iter().skip(8).filter(|a| *a != "--package").collect();
        assert_eq!(packages.len(), 7, "six functions and the upload trigger: {args:?}");
        assert!(packages.iter().any(|p| *p == "wildrydes-face-detection"));
        assert!(arguments(&Architecture::X8664, Path::new("/w")).contains(&"--x86-64".to_string()));
    }

    #[test]
    fn without_cargo_lambda_it_says_how_to_install_it_or_pass_zips() {
        let empty = tempfile::tempdir().unwrap();
        assert!(!on_path("cargo-lambda", Some(empty.path().as_os_str())));
        assert!(NO_CARGO_LAMBDA.contains("pip install cargo-lambda") && NO_CARGO_LAMBDA.contains("--lambda-zips"));
    }

    #[test]
    fn the_workspace_is_found_from_inside_it() {
        let here = Path::new(env!("CARGO_MANIFEST_DIR"));
        assert_eq!(find_workspace(&here.join("src/deploy")).as_deref(), Some(here));
        assert_eq!(find_workspace(Path::new("/")), None);
    }
}
