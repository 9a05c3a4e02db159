//! The release wasm's last step: wasm-opt's passes over what wasm-bindgen wrote, then one-letter names for what the
//! wasm exports and imports, with wasm-bindgen's glue rewritten to match.
//!
//! An entry's wasm names its exports as the crate does (`machineDeadline`), its one import by wasm-bindgen's hashed
//! name (`__wbg_delay_…`), and that import's module after the glue's file (`./ferrocast_client_bg.js`): strings a
//! page downloads twice, in the wasm and in the glue, which neither gzip nor a minifier can shorten. wasm-opt's
//! `--minify-imports-and-exports` renames them and prints what it renamed; the glue is rewritten by that. Every
//! entry point keeps its name in the JavaScript layer, which imports the glue's functions, not the wasm's exports.
//! Together about 0.1 KB gzip off each web entry.
//!
//! The import's module is renamed too (`a`) where the glue hands the wasm its imports as an object (`web`,
//! `nodejs`); for bundlers the module is the glue's second file, which the bundler resolves by that name, so there
//! only the exports are renamed (wasm-opt then leaves the import's name too).

use std::path::Path;
use std::process::Command;

use crate::process::{self, say};
use crate::{Error, workspace};

/// wasm-opt's passes, in order, before the renaming. The features are those rustc enables for wasm32.
/// - wasm-bindgen 0.2.130 leaves two statics of its runtime exported, `__abort_handler` and `__instance_terminated`,
///   which its glue only reads when run with `--force-enable-abort-handler`; unexported, they and what they keep (a
///   function in the table, data) go: about 60 bytes gzipped off each entry.
/// - Rust's wasm32 linker puts the 1 MiB stack first, growing down, and the data above it, so the lowest 1 KiB is
///   never used (`--low-memory-unused` lets constant address offsets fold into loads and stores); the memory is the
///   module's own, zeroed when it is made (`--zero-filled-memory`). Both: core 13.74 -> 13.63 KB of wasm gzipped,
///   full 26.39 -> 26.17.
/// - Flattening and re-looping the control flow before two rounds of -Oz takes 1.6% more off the gzipped core than
///   -Oz alone (26.4 -> 26.0 KB; README, Size, lists the passes tried).
/// - A last `--optimize-instructions` puts the operands of comparisons and other binary operations back in its
///   canonical order, which the passes after it in -Oz leave mixed: hardly a byte less, but the same code reads the
///   same way more often, which gzip takes advantage of (gzipped: core -23 bytes, full -65, presence -44, event
///   streams -32).
/// - The `producers` and `target_features` sections name the compilers and features for tools; no browser reads
///   them (0.2 KB).
const PASSES: &[&str] = &[
    "--remove-exports",
    "--pass-arg=remove-exports@__abort_handler,__instance_terminated",
    "--low-memory-unused",
    "--zero-filled-memory",
    "--flatten",
    "--rereloop",
    "-Oz",
    "-Oz",
    "--optimize-instructions",
    "--strip-producers",
    "--strip-target-features",
    "--enable-bulk-memory",
    "--enable-sign-ext",
    "--enable-nontrapping-float-to-int",
    "--enable-mutable-globals",
    "--enable-reference-types",
    "--enable-multivalue",
];

/// The module name wasm-opt gives every import when it renames modules.
const MINIFIED_MODULE: &str = "a";

/// Optimizes the wasm wasm-bindgen wrote for `target` in `scratch` (`{name}_bg.wasm`) in place, renaming its imports
/// and exports, and rewrites the glue there (`{name}.js`, and `{name}_bg.js` for bundlers) to the new names.
/// `path` is where wasm-opt is found (`client/tools`).
pub(crate) fn optimize(scratch: &Path, name: &str, target: &str, path: &std::ffi::OsStr) -> Result<(), Error> {
    let wasm = scratch.join(format!("{name}_bg.wasm"));
    let rename_module = target != "bundler";
    let mut wasm_opt = Command::new("wasm-opt");
    wasm_opt.env("PATH", path).current_dir(workspace::root());
    wasm_opt.arg(&wasm).arg("-o").arg(&wasm).args(PASSES);
    wasm_opt.arg(if rename_module {
        "--minify-imports-and-exports-and-modules"
    } else {
        "--minify-imports-and-exports"
    });
    let shown = process::display(&wasm_opt);
    say(format!("$ {shown}"));
    let output = wasm_opt.output().map_err(|err| Error::new(format!("could not start `{shown}`: {err}")))?;
    if !output.status.success() {
        return Err(Error::new(format!(
            "`{shown}` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    let renames = Renames::read(&String::from_utf8_lossy(&output.stdout))?;
    let module = rename_module.then(|| format!("./{name}_bg.js"));
    for glue in [format!("{name}.js"), format!("{name}_bg.js")] {
        let glue = scratch.join(glue);
        if !glue.is_file() {
            continue;
        }
        let text =
            std::fs::read_to_string(&glue).map_err(|err| Error::new(format!("reading {}: {err}", glue.display())))?;
        let renamed = renames.apply(&text, module.as_deref()).map_err(|err| {
            Error::new(format!("{}: {err} (the glue no longer reads as wasm_opt.rs expects)", glue.display()))
        })?;
        std::fs::write(&glue, renamed).map_err(|err| Error::new(format!("writing {}: {err}", glue.display())))?;
    }
    Ok(())
}

/// What wasm-opt renamed: each import's and export's old name and new one.
#[derive(Debug, Default, PartialEq)]
struct Renames {
    imports: Vec<(String, String)>,
    exports: Vec<(String, String)>,
}

impl Renames {
    /// Reads the mapping wasm-opt prints: `"imports"` then `[module, old, new]` lines, `"exports"` then `[old, new]`
    /// lines.
    fn read(printed: &str) -> Result<Renames, Error> {
        let mut renames = Renames::default();
        let mut in_exports = None;
        for line in printed.lines() {
            let strings = quoted(line);
            match (strings.as_slice(), in_exports) {
                ([section], _) if section == "imports" || section == "exports" => {
                    in_exports = Some(section == "exports");
                }
                ([_, old, new], Some(false)) => renames.imports.push((old.clone(), new.clone())),
                ([old, new], Some(true)) => renames.exports.push((old.clone(), new.clone())),
                ([], _) => {}
                _ => return Err(Error::new(format!("wasm-opt printed a mapping line not understood: {line}"))),
            }
        }
        if renames.exports.is_empty() {
            return Err(Error::new(format!("wasm-opt printed no renamed exports: {printed}")));
        }
        // Renamed one after another, an old name that is another's new one would be renamed twice.
        let all = || renames.imports.iter().chain(&renames.exports);
        if all().any(|(old, _)| all().any(|(_, new)| new == old)) {
            return Err(Error::new(format!("wasm-opt gave a name that was another's: {printed}")));
        }
        Ok(renames)
    }

    /// The glue `text` with the new names: each export where the glue reads it (`wasm.name`), each import where the
    /// glue defines it, and, given the import module's old name, the module the glue's imports object names. Fails
    /// when the glue still reads an export by a name the wasm no longer has.
    fn apply(&self, text: &str, module: Option<&str>) -> Result<String, String> {
        let mut text = text.to_owned();
        for (old, new) in &self.exports {
            text = replace_word(&text, &format!("wasm.{old}"), &format!("wasm.{new}"));
        }
        for (old, new) in &self.imports {
            text = replace_word(&text, old, new);
        }
        if let Some(module) = module {
            // The imports object has one key per module, each with its own object; wasm-opt merged the modules
            // into one, which only one object can stand for.
            let key = format!("\"{module}\": import0,");
            if text.matches(&key).count() != 1 || text.contains("import1") {
                return Err(format!("no single imports object named `{module}`"));
            }
            text = text.replacen(&key, &format!("\"{MINIFIED_MODULE}\": import0,"), 1);
        }
        let mut rest = text.as_str();
        while let Some(at) = rest.find("wasm.") {
            rest = &rest[at + "wasm.".len()..];
            let read: String = rest.chars().take_while(|c| is_word(*c)).collect();
            if !read.is_empty() && !self.exports.iter().any(|(_, new)| *new == read) {
                return Err(format!("the glue reads `wasm.{read}`, which the wasm does not export"));
            }
        }
        Ok(text)
    }
}

/// The double-quoted strings of `line`, in order.
fn quoted(line: &str) -> Vec<String> {
    line.split('"').skip(1).step_by(2).map(str::to_owned).collect()
}

/// Whether `c` can be part of a JavaScript name.
fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '$'
}

/// `text` with every `old` that stands as a whole name (no name character just before or after it) made `new`.
fn replace_word(text: &str, old: &str, new: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(old) {
        let (before, after) = (&rest[..at], &rest[at + old.len()..]);
        let whole = !before.ends_with(is_word) && !after.starts_with(is_word);
        out.push_str(before);
        out.push_str(if whole { new } else { old });
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What wasm-opt 132 prints for the full API's web entry.
    const PRINTED: &str = r#"{
 "imports": [
  ["./ferrocast_client_bg.js", "__wbg_delay_bab90c6b1f6c6fe4", "a"]
 ],
"exports": [
  ["memory", "b"],
  ["held", "c"],
  ["machine", "d"],
  ["machineDeadline", "e"]
 ]
}
"#;

    #[test]
    fn the_mapping_reads_as_imports_and_exports() {
        let renames = Renames::read(PRINTED).unwrap();
        let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
        };
        assert_eq!(renames.imports, pairs(&[("__wbg_delay_bab90c6b1f6c6fe4", "a")]));
        assert_eq!(
            renames.exports,
            pairs(&[("memory", "b"), ("held", "c"), ("machine", "d"), ("machineDeadline", "e")])
        );
        assert!(Renames::read("{\n \"imports\": [\n ],\n\"exports\": [\n ]\n}\n").is_err(), "nothing renamed");
    }

    #[test]
    fn the_glue_reads_and_defines_the_new_names() {
        let renames = Renames::read(PRINTED).unwrap();
        let glue = "const ret = wasm.machineDeadline(handle);\nwasm.machine(1); wasm.held(2);\n\
                    const import0 = { __wbg_delay_bab90c6b1f6c6fe4: function(a, b) {} };\n\
                    return { \"./ferrocast_client_bg.js\": import0, };\nreturn wasm.memory }";
        let renamed = renames.apply(glue, Some("./ferrocast_client_bg.js")).unwrap();
        assert_eq!(
            renamed,
            "const ret = wasm.e(handle);\nwasm.d(1); wasm.c(2);\nconst import0 = { a: function(a, b) {} };\n\
             return { \"a\": import0, };\nreturn wasm.b }"
        );
        // For bundlers: the import is defined as the second file's export, and its module stays.
        let bundler = "export function __wbg_delay_bab90c6b1f6c6fe4(arg0) {}\nwasm.held(0)";
        assert_eq!(renames.apply(bundler, None).unwrap(), "export function a(arg0) {}\nwasm.c(0)");
    }

    #[test]
    fn a_glue_that_reads_an_export_not_renamed_fails() {
        let renames = Renames::read(PRINTED).unwrap();
        assert!(renames.apply("wasm.resultsAt()", None).is_err());
        assert!(renames.apply("wasm.held(0)", Some("./other.js")).is_err(), "no imports object of that module");
        let two_modules = "{ \"./ferrocast_client_bg.js\": import0, \"./snippet.js\": import1, }";
        assert!(renames.apply(two_modules, Some("./ferrocast_client_bg.js")).is_err());
    }
}
