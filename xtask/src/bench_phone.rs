//! `cargo xtask bench --only phone`: the SDK's CRC-64 and SHA-256 kernels in JavaScriptCore
//! without a JIT (`jsc --useJIT=false`, from Debian's `libjavascriptcoregtk-4.0-bin`), which
//! interprets wasm as WeChat does on iOS, beside node's (V8, JIT) figures.
//!
//! Rates are CPU time, not wall clock: the machine is shared, and a phone's single core is what
//! the figure stands for. Each shell runs `bench/phone/kernels.cjs` as its own process; the CPU
//! the process used (this process's children's user + system time, from `/proc/self/stat`) is
//! taken for a run over N MiB and for a run over nothing, and the difference is the kernel's. The
//! best of [`RUNS`] is kept.
//!
//! The longest synchronous call is what blocks a mini-program's logic thread: taps on pause and
//! progress events wait for it. It is given for the slice the SDK hands each kernel today
//! ([`SDK_SLICES`]), as the slice's bytes at the CPU rate measured (wall clock on a loaded
//! machine would say more about the load than about the call).
//!
//! Then a whole mini-program quick upload (`bench/phone/quick.cjs`): the package's mini-program
//! build (`pkg/miniprogram/index.js`, its glue, its wasm) driven through the public API in each
//! shell, with an imitated `wx` that reads the file from memory and answers as SMH does for
//! content it holds (202, then 200 to the whole file's hash). What it measures is the SDK's own
//! work for a hit — reading the file, both hashes, the calls — as CPU time (the process's, less
//! a run that only loads the SDK), and the longest time the logic thread was blocked (a 5 ms
//! timer's longest lateness, wall clock), which is what a tap on pause waits for.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::bench::Options;
use crate::util::{find_tool, root, Result};

/// Runs of each measurement; the fastest is kept.
const RUNS: usize = 3;
/// `USER_HZ`: the unit of the CPU times in `/proc/*/stat` (100 on every Linux architecture the
/// project runs on).
const USER_HZ: f64 = 100.0;

/// How many MiB each shell processes per kernel: enough for a second or more of CPU in each, so
/// the 10 ms resolution of `/proc` CPU times is under 1 %.
struct Load {
    shell: Shell,
    crc64_mib: u32,
    sha256_mib: u32,
}

#[derive(Clone, Copy, PartialEq)]
enum Shell {
    Node,
    JscNoJit,
}

impl Shell {
    fn label(self) -> &'static str {
        match self {
            Shell::Node => "node (V8, JIT)",
            Shell::JscNoJit => "jsc --useJIT=false (iOS WeChat-like)",
        }
    }
}

const LOADS: [Load; 2] = [
    Load { shell: Shell::Node, crc64_mib: 512, sha256_mib: 128 },
    Load { shell: Shell::JscNoJit, crc64_mib: 64, sha256_mib: 8 },
];

/// The bytes one synchronous kernel call takes in the SDK today, per kernel: `HASH_SLICE`
/// (src/platform/mod.rs) for both — where the app's own thread computes them (a mini-program, a
/// page without the upload Worker), a read is hashed and CRC'd in slices of that size with the
/// event loop run in between (`PIECE` in src/platform/miniprogram/file.rs). Keep in step.
const SDK_SLICES: [(&str, u32); 2] = [("crc64", 256), ("sha256", 256)];

/// The kernels run in slices of this many KiB for the rate (the slice does not change the rate).
const RATE_SLICE_KIB: u32 = 1024;

/// MiB of the quick-upload file per shell: a few seconds of CPU without a JIT.
const QUICK_MIB: [(Shell, u32); 2] = [(Shell::Node, 64), (Shell::JscNoJit, 16)];
/// `quickUploadWait` of the bench's client: the hash runs alone, as it does whenever it is
/// predicted to end within the wait (the imitation has no network to send parts over meanwhile).
const HASH_ALONE_MS: &str = "2147483647";

pub fn run(options: &Options, _dir: &Path) -> Result<String> {
    if !options.selection.has("phone") {
        return Ok(String::new());
    }
    let jsc = find_tool("jsc").ok_or("jsc not found: `cargo xtask setup` installs libjavascriptcoregtk-4.0-bin")?;
    crate::bench::package()?;
    let wasm = root().join(crate::pkg::PKG_DIR).join("smh_client_bg.wasm");
    if !wasm.is_file() {
        return Err(format!("{} is missing after `cargo xtask pkg`", wasm.display()));
    }
    let mut md = table(&jsc, &wasm)?;
    md.push_str(&quick_table(&jsc)?);
    Ok(md)
}

/// The mini-program wasm as the package holds it, before brotli (what `WXWebAssembly` loads).
fn miniprogram_wasm() -> Result<std::path::PathBuf> {
    let wasm = crate::util::target_dir().join("pkg-miniprogram").join("smh_upload_bg.wasm");
    if wasm.is_file() {
        Ok(wasm)
    } else {
        Err(format!("{} is missing: run `cargo xtask pkg`", wasm.display()))
    }
}

/// One run of `bench/phone/quick.cjs` over `mib` MiB (0: load the SDK only): its JSON line and
/// the CPU seconds its process used.
fn quick_run(shell: Shell, jsc: &Path, mib: &str) -> Result<(String, f64)> {
    let script = root().join("bench/phone/quick.cjs");
    let pkg = root().join(crate::pkg::PKG_DIR).join("miniprogram");
    let args = [pkg.display().to_string(), miniprogram_wasm()?.display().to_string(), mib.into(), HASH_ALONE_MS.into()];
    let mut command = shell_command(shell, jsc, &script);
    command.args(&args).stdin(Stdio::null()).stderr(Stdio::inherit());
    let before = children_cpu_seconds()?;
    let output = command.output().map_err(|e| format!("run {}: {e}", shell.label()))?;
    let after = children_cpu_seconds()?;
    let line = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let expected = if mib == "0" { r#""loaded":true"# } else { r#""instant":true"# };
    if !output.status.success() || !line.contains(expected) {
        return Err(format!("{} quick upload of {mib} MiB: {line} ({})", shell.label(), output.status));
    }
    Ok((line, after - before))
}

/// A number field of quick.cjs's JSON line.
fn field(line: &str, name: &str) -> Option<f64> {
    let rest = line.split(&format!("\"{name}\":")).nth(1)?;
    rest.split([',', '}']).next()?.parse().ok()
}

/// The quick-upload rows: per shell, MB/s of CPU and the longest block of the logic thread.
fn quick_table(jsc: &Path) -> Result<String> {
    let mut md = String::from(
        "\n### Phone: a mini-program quick upload (hit) without a JIT (`pkg/miniprogram` through its public API)\n\n\
         | shell | file (MiB) | CPU s | MB/s (CPU) | wall s | longest block of the logic thread (ms) |\n\
         | --- | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for (shell, mib) in QUICK_MIB {
        let (_, idle) = quick_run(shell, jsc, "0")?;
        let (line, busy) = quick_run(shell, jsc, &mib.to_string())?;
        let cpu = (busy - idle).max(1.0 / USER_HZ);
        let rate = f64::from(mib) * 1024.0 * 1024.0 / cpu / 1e6;
        let wall = field(&line, "seconds").unwrap_or(f64::NAN);
        let longest = field(&line, "longestBlockMs").unwrap_or(f64::NAN);
        println!(
            "bench phone: quick upload of {mib} MiB in {}: {rate:.1} MB/s, longest block {longest:.0} ms",
            shell.label()
        );
        md.push_str(&format!("| {} | {mib} | {cpu:.2} | {rate:.1} | {wall:.2} | {longest:.0} |\n", shell.label()));
    }
    md.push_str(
        "\nA hit of content SMH holds: the SDK reads the file and hashes its first MiB, then (SMH's 202) the whole \
         file, and SMH's 200 stores it. The imitated `wx` answers at once from memory, so the figures are the SDK's \
         own work: CPU time of the shell's process less a run that only loads the SDK (one run each), and the \
         longest lateness of a 5 ms timer during the upload (wall clock: a loaded machine adds to it). \
         `quickUploadWait` is set so that the hash runs alone; by default a hash predicted to take over 1 s goes on \
         while the parts are sent, so the upload never waits for it longer than that.\n",
    );
    Ok(md)
}

/// `node SCRIPT` or `jsc --useJIT=false SCRIPT --` (the script's arguments follow).
fn shell_command(shell: Shell, jsc: &Path, script: &Path) -> Command {
    match shell {
        Shell::Node => {
            let mut c = Command::new("node");
            c.arg(script);
            c
        }
        Shell::JscNoJit => {
            let mut c = Command::new(jsc);
            c.arg("--useJIT=false").arg(script).arg("--");
            c
        }
    }
}

/// Measures every kernel in both shells; the Markdown table.
fn table(jsc: &Path, wasm: &Path) -> Result<String> {
    let mut md = String::from(
        "### Phone: the SDK's kernels without a JIT (CPU time, one core; `smh_client_bg.wasm` as packaged)\n\n\
         | kernel | node (V8, JIT) MB/s | jsc --useJIT=false MB/s | no JIT / JIT | slice the SDK hands it (KiB) | longest synchronous call without a JIT (ms) |\n\
         | --- | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for (kernel, slice_kib) in SDK_SLICES {
        let mut rates = Vec::new();
        for load in &LOADS {
            let mib = if kernel == "crc64" { load.crc64_mib } else { load.sha256_mib };
            let rate = rate(load.shell, jsc, wasm, kernel, mib)?;
            println!("bench phone: {kernel} in {}: {rate:.1} MB/s", load.shell.label());
            rates.push(rate);
        }
        let (jit, no_jit) = (rates[0], rates[1]);
        let longest_ms = f64::from(slice_kib) * 1024.0 / (no_jit * 1e6) * 1e3;
        md.push_str(&format!(
            "| {kernel} | {jit:.0} | {no_jit:.1} | {:.3}× | {slice_kib} | {longest_ms:.0} |\n",
            no_jit / jit
        ));
    }
    md.push_str(
        "\nTarget: no synchronous call over ~50 ms without a JIT (a phone's core is slower than this one). \
         Rates are bytes / CPU seconds of the shell's process, start-up subtracted, best of 3.\n",
    );
    Ok(md)
}

/// What `cargo xtask test` runs of this bench: both shells over 3 MiB + 5 bytes in odd slices,
/// which must agree on the CRC-64 (the interpreter computes what the JIT does) and equal the
/// CRC-64/XZ check of the same bytes computed here.
pub fn smoke() -> Result<()> {
    let jsc = find_tool("jsc").ok_or("jsc not found: `cargo xtask setup` installs libjavascriptcoregtk-4.0-bin")?;
    let wasm = root().join(crate::pkg::PKG_DIR).join("smh_client_bg.wasm");
    let script = root().join("bench/phone/kernels.cjs");
    let (mib, slice_kib) = ("3.0000048", "333");
    let mut crcs = Vec::new();
    for shell in [Shell::Node, Shell::JscNoJit] {
        let mut command = shell_command(shell, &jsc, &script);
        command.args([wasm.display().to_string(), "crc64".into(), mib.into(), slice_kib.into()]);
        let output = command.output().map_err(|e| format!("run {}: {e}", shell.label()))?;
        let line = String::from_utf8_lossy(&output.stdout).to_string();
        let crc = line
            .split("\"crc64\":\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .ok_or_else(|| format!("{}: no crc64 in {line:?} ({})", shell.label(), output.status))?
            .to_string();
        crcs.push(crc);
    }
    let bytes = kernel_bytes((3.0000048_f64 * 1024.0 * 1024.0).round() as usize, 333 * 1024);
    let expected = crc64_ecma(&bytes).to_string();
    if crcs.iter().any(|c| *c != expected) {
        return Err(format!("phone bench smoke: CRC-64 node {} / jsc {} / expected {expected}", crcs[0], crcs[1]));
    }
    println!("bench phone smoke: node and jsc --useJIT=false agree on the CRC-64 ({expected})");
    let (line, _) = quick_run(Shell::JscNoJit, &jsc, "2")?;
    println!("bench phone smoke: a 2 MiB mini-program quick upload in jsc --useJIT=false: {line}");
    Ok(())
}

/// The bytes kernels.cjs processes: its xorshift buffer of `slice` bytes, repeated.
fn kernel_bytes(total: usize, slice: usize) -> Vec<u8> {
    let mut buffer = Vec::with_capacity(slice);
    let mut x: u32 = 2463534242;
    for _ in 0..slice {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buffer.push((x & 255) as u8);
    }
    buffer.iter().copied().cycle().take(total).collect()
}

/// CRC-64/XZ (ECMA-182 polynomial, reflected, all-ones init and xor-out: COS's
/// `x-cos-hash-crc64ecma`), bit by bit: an independent check of the SDK's table kernel.
fn crc64_ecma(bytes: &[u8]) -> u64 {
    const POLY: u64 = 0xC96C_5795_D787_0F42;
    let mut crc = !0u64;
    for &b in bytes {
        crc ^= u64::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ POLY } else { crc >> 1 };
        }
    }
    !crc
}

/// MB/s of `kernel` over `mib` MiB in `shell`, CPU time, start-up subtracted, best of [`RUNS`].
fn rate(shell: Shell, jsc: &Path, wasm: &Path, kernel: &str, mib: u32) -> Result<f64> {
    let mut best = f64::INFINITY;
    for _ in 0..RUNS {
        let idle = cpu_seconds_of(shell, jsc, wasm, kernel, 0)?;
        let busy = cpu_seconds_of(shell, jsc, wasm, kernel, mib)?;
        best = best.min((busy - idle).max(1.0 / USER_HZ));
    }
    Ok(f64::from(mib) * 1024.0 * 1024.0 / best / 1e6)
}

/// Runs the kernel script once and returns the CPU seconds its process used.
fn cpu_seconds_of(shell: Shell, jsc: &Path, wasm: &Path, kernel: &str, mib: u32) -> Result<f64> {
    let script = root().join("bench/phone/kernels.cjs");
    let args = [wasm.display().to_string(), kernel.to_string(), mib.to_string(), RATE_SLICE_KIB.to_string()];
    let mut command = shell_command(shell, jsc, &script);
    command.args(&args).stdin(Stdio::null()).stderr(Stdio::inherit());
    let before = children_cpu_seconds()?;
    let output = command.output().map_err(|e| format!("run {}: {e}", shell.label()))?;
    let after = children_cpu_seconds()?;
    if !output.status.success() {
        return Err(format!("{} {kernel} {mib} MiB failed ({})", shell.label(), output.status));
    }
    let line = String::from_utf8_lossy(&output.stdout);
    let expected = format!("\"bytes\":{}", u64::from(mib) * 1024 * 1024);
    if !line.contains(&expected) {
        return Err(format!("{} {kernel}: unexpected output {line:?}", shell.label()));
    }
    Ok(after - before)
}

/// User + system CPU seconds of this process's waited-for children (`cutime` + `cstime`).
fn children_cpu_seconds() -> Result<f64> {
    let stat = fs::read_to_string("/proc/self/stat").map_err(|e| format!("read /proc/self/stat: {e}"))?;
    parse_children_ticks(&stat).map(|ticks| ticks as f64 / USER_HZ).ok_or_else(|| "unexpected /proc/self/stat".into())
}

/// `cutime` + `cstime` (fields 16 and 17) of a `/proc/PID/stat` line; the command name (field 2)
/// may hold spaces and parentheses, so fields are counted after its last `)`.
fn parse_children_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state), so field N is fields[N - 3].
    let cutime: u64 = fields.get(16 - 3)?.parse().ok()?;
    let cstime: u64 = fields.get(17 - 3)?.parse().ok()?;
    Some(cutime + cstime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_ticks_are_fields_16_and_17() {
        let stat = "4242 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18";
        // fields: 1=pid 2=comm 3=S 4=1 … 14=11 15=12 16=13 17=14
        assert_eq!(parse_children_ticks(stat), Some(13 + 14));
        assert_eq!(parse_children_ticks("garbage"), None);
    }

    #[test]
    fn crc64_ecma_check_value() {
        // The CRC-64/XZ catalogue check: CRC of "123456789".
        assert_eq!(crc64_ecma(b"123456789"), 0x995D_C9BB_DF19_39FA);
    }

    #[test]
    fn this_process_reads_its_children_cpu() {
        assert!(children_cpu_seconds().unwrap() >= 0.0);
    }
}
