//! `cargo xtask`: the project's build, test and demo driver (std only, so it compiles fast
//! on a fresh clone).
//!
//! # Layout
//! - [`setup`]: idempotent installs of the tools the other tasks need.
//! - [`pkg`]: builds the npm package into `pkg/`.
//! - [`pkg_devserver`]: packs the `smh-devserver` npm package (static binary, JS launcher).
//! - [`test`]: every test stage, in order, failing fast, with a summary.
//! - [`engines`]: the `engines` test stage (Firefox ESR, WebKitGTK) and their Debian packages.
//! - [`lint`]: the `lint` stage: rust-version, rustfmt, clippy.
//! - [`demo`]: the demo page on the devserver, until Ctrl-C.
//! - [`bench`]: the benchmark registry and `target/bench/report.md`.
//! - [`bench_baseline`]: `bench --baseline REV`: that commit's package, built by its own xtask.
//! - [`devserver`]: starts `smh-devserver`, reads its READY line, kills it on drop.
//! - [`citations`]: every document and section the repository cites exists (`cargo test -p xtask`).
//! - [`util`]: paths, running commands, stamps, signals.

mod bench;
mod bench_baseline;
mod bench_phone;
mod bench_startup;
mod bench_upload;
mod citations;
mod demo;
mod engines;
mod lint;
mod pkg;
mod pkg_devserver;
mod pkg_miniprogram;
mod setup;
mod size;
mod snippets;
mod test;
mod util;
mod wasm_invokes;
mod wasm_names;
mod wasm_order;

use util::Result;

const USAGE: &str = "\
usage: cargo xtask <task> [options]

tasks:
  setup                 install what is missing (wasm target, wasm-bindgen-cli, chromium,
                        chromedriver, firefox-esr, webkit2gtk-driver, xvfb, jsc, musl-tools, node_modules
                        (incl. binaryen's wasm-opt), target/pyenv); a no-op when all present
  pkg                   build the npm package into pkg/ (web + mini-program builds) and its npm pack tarball,
                        and the smh-devserver package (static musl binary + JS launcher) beside it
  test [--only STAGE]   setup, then every test stage in order, stopping at the first failure;
                        STAGE: lint | native | pkg | miniprogram | consumers | devserver-npm | browser | interop | e2e | engines
  demo [--port N] [--data DIR]
                        setup, pkg, serve the demo page (www/ + pkg/) on smh-devserver at
                        http://127.0.0.1:N/ (default 8780; SMH and COS on N+1, N+2) until Ctrl-C;
                        the library is kept in DIR (default target/demo-data)
  bench [--only SECTION[,SECTION…]] [--baseline GIT-REV]
                        run the benchmarks, write target/bench/report.md (with --only, just those
                        sections of: upload, hash, crc, memory, sweep, size, phone; into target/bench/only/);
                        --baseline: also build that commit's package (by its own `cargo xtask pkg`) and run
                        it beside ours in the same page, ours vs baseline rows (target/bench/baseline/)
";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(task) = args.first() else {
        eprint!("{USAGE}");
        std::process::exit(2);
    };
    let rest = &args[1..];
    let result: Result<()> = match task.as_str() {
        "setup" => no_options(rest).and_then(|()| setup::run()),
        "pkg" => no_options(rest).and_then(|()| pkg::run_all()),
        "test" => test::run(rest),
        "demo" => demo::run(rest),
        "bench" => bench::run(rest),
        "help" | "-h" | "--help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown task `{other}`\n{USAGE}")),
    };
    if let Err(message) = result {
        eprintln!("xtask {task}: error: {message}");
        std::process::exit(1);
    }
}

fn no_options(rest: &[String]) -> Result<()> {
    match rest.first() {
        None => Ok(()),
        Some(arg) => Err(format!("unexpected argument `{arg}`\n{USAGE}")),
    }
}
