//! The `diffscope` executable: parses the command line and hands over to the library.

fn main() -> std::process::ExitCode {
    diffscope::cli::main()
}
