//! `cargo xtask fuzz`: every fuzz target in `fuzz/` for a bounded time, with the executions each managed.
//!
//! The targets (listed in `fuzz/README.md`) are built once by cargo-fuzz on the nightly toolchain, which libFuzzer's
//! instrumentation and AddressSanitizer need, into `target/fuzz`: a target directory of their own, since the
//! sanitizer flags would otherwise throw away the workspace's normal builds. Each target then runs for the time
//! given, from a scratch corpus in `target/fuzz/corpus/<target>` that the committed seeds (`fuzz/seeds/<target>`) and
//! regression inputs (`fuzz/regressions/<target>`) are copied into, so libFuzzer never writes into the repository,
//! and what it found is still there for the next run.
//!
//! A target that crashes fails the command, after the others have run: the message names the input libFuzzer saved
//! (in `target/fuzz/artifacts/<target>`) and the command that runs it again; the whole output is in
//! `target/fuzz/logs/<target>.log`.
//!
//! `cargo xtask test` ends with a short pass ([`smoke`]), which keeps the targets building and passing on their
//! seeds; fuzzing for real is this command, with minutes per target.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::process::{self, probe, say};
use crate::{Error, prereqs, workspace};

/// The fuzz targets, in the order they run: the `[[bin]]`s of `fuzz/Cargo.toml`, each with seeds in `fuzz/seeds`.
pub(crate) const TARGETS: [&str; 6] =
    ["decode_v1_json", "decode_v2_json", "decode_binary", "sse_reader", "session", "tokens"];

/// Seconds per target when `--seconds` is not given: long enough to get past the seeds' neighbourhood.
pub(crate) const DEFAULT_SECONDS: u64 = 60;

/// Seconds per target in `cargo xtask test`: the build is most of the step's time, and CI runs on 2 cores.
const SMOKE_SECONDS: u64 = 10;

/// An input that runs longer than this is reported as a hang. Far above any real input's time (microseconds to
/// milliseconds), so that a slow, busy CI machine does not report one.
const INPUT_TIMEOUT_SECONDS: u64 = 30;

/// What `cargo xtask fuzz` runs.
pub(crate) struct Options {
    /// Seconds per target.
    pub seconds: u64,
    /// Run only these targets; all of them when empty.
    pub only: Vec<String>,
}

/// Installs what fuzzing needs when it is missing, then fuzzes each target asked for.
pub(crate) fn run(options: &Options) -> Result<(), Error> {
    prereqs::ensure_for_fuzzing()?;
    let wanted = |target: &&str| options.only.is_empty() || options.only.iter().any(|only| only == target);
    let targets: Vec<&str> = TARGETS.into_iter().filter(wanted).collect();
    fuzz(&workspace::root(), &targets, options.seconds)
}

/// The short pass at the end of `cargo xtask test`: every target for [`SMOKE_SECONDS`]. With `install` off, a
/// machine without the nightly toolchain or cargo-fuzz skips it rather than failing.
pub(crate) fn smoke(root: &Path, install: bool) -> Result<(), Error> {
    if install {
        prereqs::ensure_for_fuzzing()?;
    } else if !prereqs::fuzzing_tools_present() {
        say("the fuzz pass is skipped: no nightly toolchain or no cargo-fuzz, and --no-install");
        return Ok(());
    }
    fuzz(root, &TARGETS, SMOKE_SECONDS)
}

/// Builds every target, runs each of `targets` for `seconds`, and reports one line per target.
fn fuzz(root: &Path, targets: &[&str], seconds: u64) -> Result<(), Error> {
    let start = Instant::now();
    let dir = workspace::target_dir(root, std::env::var_os("CARGO_TARGET_DIR")).join("fuzz");
    let host = host_triple()?;
    build(root, &dir, &host)?;
    let mut reports = Vec::new();
    let mut failures = Vec::new();
    for target in targets {
        match fuzz_target(root, &dir, &host, target, seconds)? {
            Ok(report) => {
                say(&report);
                reports.push(report);
            }
            Err(failure) => {
                say(&failure);
                failures.push(format!("{target} failed"));
            }
        }
    }
    say(format!("fuzzing done ({:.0} s), executions per target:", start.elapsed().as_secs_f64()));
    for report in &reports {
        say(format!("  {report}"));
    }
    if failures.is_empty() { Ok(()) } else { Err(Error::new(format!("{} (see above)", failures.join(", ")))) }
}

/// Builds every fuzz target with debug assertions (so overflow is caught too) for the host, into `dir`.
fn build(root: &Path, dir: &Path, host: &str) -> Result<(), Error> {
    let mut build = Command::new("rustup");
    build.args(["run", "nightly", "cargo", "fuzz", "build", "--debug-assertions", "--fuzz-dir", "fuzz"]);
    build.args(["--target", host]).arg("--target-dir").arg(dir).current_dir(root);
    process::run(&mut build)
}

/// Runs one target for `seconds` from a scratch copy of its seeds; `Ok(Err(..))` is a crash, with what to do.
fn fuzz_target(
    root: &Path,
    dir: &Path,
    host: &str,
    target: &str,
    seconds: u64,
) -> Result<Result<String, String>, Error> {
    let corpus = dir.join("corpus").join(target);
    let artifacts = dir.join("artifacts").join(target);
    let logs = dir.join("logs");
    for created in [&corpus, &artifacts, &logs] {
        std::fs::create_dir_all(created)
            .map_err(|err| Error::new(format!("could not create {}: {err}", created.display())))?;
    }
    copy_seeds(&root.join("fuzz/seeds").join(target), &corpus)?;
    // Inputs that once found something run every time too (the directory exists only for targets that have some).
    let regressions = root.join("fuzz/regressions").join(target);
    if regressions.is_dir() {
        copy_seeds(&regressions, &corpus)?;
    }

    let binary = binary_path(dir, host, target);
    let log_path = logs.join(format!("{target}.log"));
    let log =
        File::create(&log_path).map_err(|err| Error::new(format!("could not create {}: {err}", log_path.display())))?;
    let log_for_stdout = log.try_clone().map_err(|err| Error::new(format!("could not share the log file: {err}")))?;
    let mut command = Command::new(&binary);
    command.arg(&corpus);
    command.arg(format!("-max_total_time={seconds}"));
    command.arg(format!("-timeout={INPUT_TIMEOUT_SECONDS}"));
    command.arg("-print_final_stats=1");
    // The trailing separator makes it a directory: libFuzzer prepends it to the file names it writes.
    command.arg(format!("-artifact_prefix={}/", artifacts.display()));
    // cargo-fuzz's own default for AddressSanitizer builds: Rust's symbols set off its one-definition check.
    let asan = asan_options(std::env::var("ASAN_OPTIONS").ok());
    command.env("ASAN_OPTIONS", &asan);
    command.current_dir(root).stdin(Stdio::null()).stdout(Stdio::from(log_for_stdout)).stderr(Stdio::from(log));
    // Shown with the binary's path and the sanitizer options, so the line runs as it is from the workspace root.
    let shown = process::display(&command);
    let args = shown.strip_prefix(target).unwrap_or(&shown);
    let (binary_shown, log_shown) = (workspace::relative(&binary), workspace::relative(&log_path));
    say(format!("$ ASAN_OPTIONS={asan} {}{args} > {} 2>&1", binary_shown.display(), log_shown.display()));

    let started = Instant::now();
    let status = process::with_exported(&mut command).status().map_err(|err| {
        Error::new(format!("could not start {} (did `cargo fuzz build` fail?): {err}", binary.display()))
    })?;
    let elapsed = started.elapsed().as_secs_f64();
    let output = std::fs::read_to_string(&log_path).unwrap_or_default();
    if !status.success() {
        return Ok(Err(crash_report(target, &output, dir, &log_path, status)));
    }
    let stats = Stats::read(&output)
        .ok_or_else(|| Error::new(format!("{target} printed no final stats: see {}", log_path.display())))?;
    Ok(Ok(stats.summary(target, elapsed)))
}

/// Copies the committed seeds into the scratch corpus, over any earlier copies of them.
fn copy_seeds(seeds: &Path, corpus: &Path) -> Result<(), Error> {
    let entries = std::fs::read_dir(seeds)
        .map_err(|err| Error::new(format!("no seeds in {} ({err}): see fuzz/README.md", seeds.display())))?;
    for entry in entries.flatten() {
        let from = entry.path();
        if from.is_file() {
            let to = corpus.join(entry.file_name());
            std::fs::copy(&from, &to)
                .map_err(|err| Error::new(format!("could not copy {} to {}: {err}", from.display(), to.display())))?;
        }
    }
    Ok(())
}

/// The `ASAN_OPTIONS` for the targets: the user's, then `detect_odr_violation=0`.
fn asan_options(user: Option<String>) -> String {
    match user.filter(|options| !options.is_empty()) {
        Some(options) => format!("{options}:detect_odr_violation=0"),
        None => "detect_odr_violation=0".to_owned(),
    }
}

/// The host's target triple (the fuzz binaries are built for it), from `rustc -vV`.
fn host_triple() -> Result<String, Error> {
    let version = probe("rustc", &["-vV"]).ok_or_else(|| Error::new("cannot run `rustc -vV` to learn the host"))?;
    version
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .map(|host| host.trim().to_owned())
        .ok_or_else(|| Error::new("`rustc -vV` names no host"))
}

/// What a crashed run left: where libFuzzer saved the input, the lines that say what happened, and how to run it
/// again.
fn crash_report(target: &str, output: &str, dir: &Path, log: &Path, status: std::process::ExitStatus) -> String {
    let artifact = output.lines().rev().find_map(|line| line.split_once("Test unit written to ")).map(|(_, path)| path);
    let mut report = format!("{target} failed ({status}).");
    let lines: Vec<&str> = output.lines().collect();
    let first_sign = lines.iter().position(|line| CRASH_SIGNS.iter().any(|sign| line.contains(sign)));
    if let Some(first) = first_sign {
        report.push('\n');
        report.push_str(&lines[first..lines.len().min(first + CRASH_EXCERPT_LINES)].join("\n"));
    }
    match artifact {
        Some(path) => {
            let path = workspace::relative(Path::new(path.trim()));
            let dir = workspace::relative(dir);
            report.push_str(&format!(
                "\nThe input is saved in {path}. Run it again with\n  cargo +nightly fuzz run --fuzz-dir fuzz \
                 --target-dir {dir} --debug-assertions {target} {path}\nand keep it in fuzz/regressions/{target}/ \
                 once understood.",
                path = path.display(),
                dir = dir.display(),
            ));
        }
        None => report.push_str("\nlibFuzzer saved no input (did the target fail to start?)."),
    }
    report.push_str(&format!("\nThe whole output is in {}.", workspace::relative(log).display()));
    report
}

/// What starts the interesting part of a crash's output: a Rust panic, a sanitizer's or libFuzzer's report.
const CRASH_SIGNS: [&str; 5] = ["panicked at", "ERROR: AddressSanitizer", "ERROR: libFuzzer", "ALARM:", "==ERROR"];

/// How many lines of a crash's output to show; the full output is in the log.
const CRASH_EXCERPT_LINES: usize = 12;

/// libFuzzer's final statistics (`-print_final_stats=1`) and the coverage of its last status line.
#[derive(Debug, Default, PartialEq, Eq)]
struct Stats {
    executions: u64,
    per_second: u64,
    /// Code edges covered (`cov:`).
    coverage: Option<u64>,
    /// Inputs in the corpus at the end (`corp: N/size`).
    corpus: Option<u64>,
}

impl Stats {
    /// Reads the statistics from a run's output; `None` when it has no `stat::number_of_executed_units`.
    fn read(output: &str) -> Option<Self> {
        let stat = |name: &str| {
            output.lines().find_map(|line| line.strip_prefix(name)?.trim().strip_prefix(':')?.trim().parse().ok())
        };
        // `#771497\tDONE   cov: 1021 ft: 3987 corp: 318/23Kb ...`: the status line libFuzzer ends a run with.
        let done = output.lines().rev().find(|line| line.split_whitespace().nth(1) == Some("DONE"));
        let field = |name: &str| {
            let words: Vec<&str> = done?.split_whitespace().collect();
            let at = words.iter().position(|word| *word == name)?;
            words.get(at + 1)?.split('/').next()?.parse().ok()
        };
        Some(Stats {
            executions: stat("stat::number_of_executed_units")?,
            per_second: stat("stat::average_exec_per_sec").unwrap_or(0),
            coverage: field("cov:"),
            corpus: field("corp:"),
        })
    }

    /// One line for the report: `decode_binary: 1,234,567 executions in 60 s (20,576/s), ...`.
    fn summary(&self, target: &str, seconds: f64) -> String {
        let mut line = format!(
            "{target}: {} executions in {seconds:.0} s ({}/s)",
            grouped(self.executions),
            grouped(self.per_second)
        );
        if let Some(coverage) = self.coverage {
            line.push_str(&format!(", coverage {} edges", grouped(coverage)));
        }
        if let Some(corpus) = self.corpus {
            line.push_str(&format!(", corpus {} inputs", grouped(corpus)));
        }
        line
    }
}

/// `1234567` as `1,234,567`.
fn grouped(number: u64) -> String {
    let digits = number.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Where `cargo fuzz build --target <host> --target-dir <dir>` puts a target's binary.
fn binary_path(dir: &Path, host: &str, target: &str) -> PathBuf {
    dir.join(host).join("release").join(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    const END_OF_A_RUN: &str = "\
#524288\tpulse  cov: 1017 ft: 3950 corp: 310/22Kb lim: 4096 exec/s: 17476 rss: 415Mb
#771497\tDONE   cov: 1021 ft: 3987 corp: 318/23Kb lim: 4096 exec/s: 24887 rss: 418Mb
Done 771497 runs in 31 second(s)
stat::number_of_executed_units: 771497
stat::average_exec_per_sec:     24887
stat::new_units_added:          287
stat::slowest_unit_time_sec:    0
stat::peak_rss_mb:              418
";

    #[test]
    fn reads_the_final_stats() {
        let stats = Stats::read(END_OF_A_RUN).unwrap();
        let expected = Stats { executions: 771_497, per_second: 24_887, coverage: Some(1021), corpus: Some(318) };
        assert_eq!(stats, expected);
        assert_eq!(
            stats.summary("decode_v1_json", 31.2),
            "decode_v1_json: 771,497 executions in 31 s (24,887/s), coverage 1,021 edges, corpus 318 inputs"
        );
        assert_eq!(Stats::read("INFO: Seed: 1\n"), None);
    }

    #[test]
    fn groups_digits_in_threes() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(12_345_678), "12,345,678");
    }

    #[test]
    fn a_crash_report_names_the_input_and_the_panic() {
        let output = "\
INFO: Seed: 42
thread '<unnamed>' panicked at fuzz_targets/session.rs:10:5:
the server queued a frame its V1 client cannot decode
==7==ERROR: libFuzzer: deadly signal
artifact_prefix='/w/target/fuzz/artifacts/session/'; Test unit written to /w/target/fuzz/artifacts/session/crash-ab12
";
        let status = Command::new("false").status().unwrap();
        let dir = Path::new("/w/target/fuzz");
        let report = crash_report("session", output, dir, &dir.join("logs/session.log"), status);
        assert!(report.starts_with("session failed"), "{report}");
        assert!(report.contains("panicked at fuzz_targets/session.rs:10:5"), "{report}");
        assert!(report.contains("saved in /w/target/fuzz/artifacts/session/crash-ab12"), "{report}");
        assert!(report.contains("fuzz run --fuzz-dir fuzz --target-dir /w/target/fuzz"), "{report}");
        assert!(!report.contains("INFO: Seed"), "{report}");
    }

    #[test]
    fn asan_options_keep_the_users() {
        assert_eq!(asan_options(None), "detect_odr_violation=0");
        assert_eq!(asan_options(Some(String::new())), "detect_odr_violation=0");
        assert_eq!(asan_options(Some("halt_on_error=1".into())), "halt_on_error=1:detect_odr_violation=0");
    }

    #[test]
    fn every_target_is_built_and_seeded() {
        let root = workspace::root();
        let manifest = std::fs::read_to_string(root.join("fuzz/Cargo.toml")).unwrap();
        for target in TARGETS {
            assert!(manifest.contains(&format!("name = \"{target}\"")), "{target} is not a [[bin]] of fuzz/Cargo.toml");
            let seeds = std::fs::read_dir(root.join("fuzz/seeds").join(target)).unwrap();
            assert!(seeds.count() > 0, "{target} has no seeds");
        }
        let bins = manifest.matches("[[bin]]").count();
        assert_eq!(bins, TARGETS.len(), "fuzz/Cargo.toml has targets TARGETS does not list");
        let path = binary_path(Path::new("/t/fuzz"), "x86_64-unknown-linux-gnu", "session");
        assert_eq!(path, Path::new("/t/fuzz/x86_64-unknown-linux-gnu/release/session"));
    }
}
