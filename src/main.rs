//! The `wildrydes` program: everything it does is in the library's `cli`.

fn main() -> std::process::ExitCode {
    wildrydes::cli::main()
}
