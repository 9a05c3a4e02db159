//! The client's type declarations document everything they declare, so that an editor shows it in a plain
//! JavaScript project (a Nuxt page without TypeScript reads the `.d.ts` for its hints): every class, interface, type,
//! function, method and property has a `/** … */` right above it, a method or function one `@param` per parameter
//! and `@returns` for what it returns unless that is `void`. And every public method and getter of the JavaScript
//! classes (`client/js/`) and every function of the Vue entry is declared, so nothing exported goes without.

#![cfg(not(target_arch = "wasm32"))]

use std::path::{Path, PathBuf};

/// The hand-written declarations, as the packages ship them.
const DECLARATIONS: [&str; 5] =
    ["js/types/socket.d.ts", "js/types/presence.d.ts", "js/types/streams.d.ts", "js/types/init.d.ts", "npm/vue.d.ts"];

/// The public JavaScript classes, and the declarations of each.
const CLASSES: [(&str, &str, &str); 6] = [
    ("js/socket.js", "Socket", "js/types/socket.d.ts"),
    ("js/channel.js", "Channel", "js/types/socket.d.ts"),
    ("js/push.js", "Push", "js/types/socket.d.ts"),
    ("js/presence.js", "Presence", "js/types/presence.d.ts"),
    ("js/event-stream.js", "EventStream", "js/types/streams.d.ts"),
    ("js/sse-socket.js", "SseSocket", "js/types/streams.d.ts"),
];

fn client_file(path: &str) -> String {
    let full: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|error| panic!("{}: {error}", full.display()))
}

/// One declaration: the class or interface it is in, its text (joined when it spans lines), and the doc comment
/// right above it.
#[derive(Debug)]
struct Declared {
    within: Option<String>,
    text: String,
    doc: Option<String>,
}

/// The declarations of a `.d.ts`, at the top level and in its classes' and interfaces' bodies (not inside the
/// object types of parameters and results).
fn declarations(source: &str) -> Vec<Declared> {
    let mut found = Vec::new();
    let mut within: Option<String> = None;
    let mut doc: Option<String> = None;
    let mut comment: Option<String> = None;
    let mut statement = String::new();
    for line in source.lines() {
        let trimmed = line.trim();
        if let Some(open) = comment.as_mut() {
            open.push_str(trimmed);
            open.push('\n');
            if trimmed.ends_with("*/") {
                doc = comment.take();
            }
            continue;
        }
        if statement.is_empty() {
            if trimmed.starts_with("/**") {
                let mut open = format!("{trimmed}\n");
                if trimmed.ends_with("*/") {
                    doc = Some(std::mem::take(&mut open));
                } else {
                    comment = Some(open);
                }
                continue;
            }
            if trimmed.is_empty() || trimmed.starts_with("//") || trimmed.starts_with("import ") {
                doc = None;
                continue;
            }
            if trimmed == "}" || trimmed == "};" {
                within = None;
                doc = None;
                continue;
            }
        }
        statement.push_str(trimmed);
        statement.push(' ');
        let opens = |text: &str, open: char, close: char| {
            text.chars().filter(|c| *c == open).count() as i64 - text.chars().filter(|c| *c == close).count() as i64
        };
        let (parens, braces) = (opens(&statement, '(', ')'), opens(&statement, '{', '}'));
        let text = statement.trim().to_owned();
        let is_block = text.starts_with("export class ") || text.starts_with("export interface ");
        let ended =
            parens == 0 && (braces == 0 && text.ends_with(';') || is_block && braces == 1 && text.ends_with('{'));
        if !ended {
            continue;
        }
        statement.clear();
        let block_name = is_block.then(|| text.split_whitespace().nth(2).unwrap_or_default().to_owned());
        found.push(Declared { within: within.clone(), text, doc: doc.take() });
        if block_name.is_some() {
            within = block_name;
        }
    }
    found
}

/// The name a declaration declares: `connect` of `static connect(…)`, `state` of `readonly state: string;`.
fn name_of(text: &str) -> String {
    let mut rest = text;
    for prefix in
        ["export ", "default ", "declare ", "function ", "class ", "interface ", "type ", "static ", "readonly "]
    {
        rest = rest.strip_prefix(prefix).unwrap_or(rest);
    }
    let end = rest.find(|c: char| "(<:?= {;".contains(c)).unwrap_or(rest.len());
    rest[..end].to_owned()
}

/// For a method or function: its parameters' names and what it returns (`None` for a constructor); `None` for a
/// property, a class, an interface or a type.
fn signature(text: &str) -> Option<(Vec<String>, Option<String>)> {
    let name = name_of(text);
    let after_name = text.find(&name).map(|at| &text[at + name.len()..])?;
    let after_name = after_name.trim_start_matches('?');
    if !(after_name.starts_with('(') || after_name.starts_with('<')) {
        return None;
    }
    let open = text.find(&name)? + name.len() + text[text.find(&name)? + name.len()..].find('(')?;
    let (mut depth, mut close, mut parameters, mut current) = (0i32, open, Vec::new(), String::new());
    let mut previous = ' ';
    for (at, c) in text[open..].char_indices() {
        match c {
            '(' | '{' | '[' | '<' => depth += 1,
            // The `>` of an arrow (`=>`) closes nothing.
            '>' if previous == '=' => {}
            ')' | '}' | ']' | '>' => depth -= 1,
            _ => {}
        }
        previous = c;
        if depth == 0 {
            close = open + at;
            break;
        }
        if depth == 1 && c == ',' {
            parameters.push(std::mem::take(&mut current));
        } else if !(depth == 1 && c == '(') {
            current.push(c);
        }
    }
    parameters.push(current);
    let names = parameters
        .iter()
        .map(|parameter| {
            let parameter = parameter.trim();
            let end = parameter.find(['?', ':']).unwrap_or(parameter.len());
            parameter[..end].trim().trim_start_matches("...").to_owned()
        })
        .filter(|name| !name.is_empty())
        .collect();
    let returns = text[close + 1..].trim().strip_prefix(':').map(|returns| returns.trim().trim_end_matches(';').trim());
    Some((names, returns.map(str::to_owned)))
}

/// What is missing from `declared`'s documentation; empty when nothing is.
fn undocumented(declared: &Declared) -> Vec<String> {
    let name = name_of(&declared.text);
    let place = match &declared.within {
        Some(within) => format!("{within}.{name}"),
        None => name.clone(),
    };
    if declared.text.starts_with("private ") || declared.text.starts_with("export type {") {
        return Vec::new();
    }
    let Some(doc) = &declared.doc else { return vec![format!("{place}: no /** … */ above it")] };
    let mut missing = Vec::new();
    if let Some((parameters, returns)) = signature(&declared.text) {
        for parameter in parameters {
            if !doc.contains(&format!("@param {parameter} ")) {
                missing.push(format!("{place}: no @param {parameter}"));
            }
        }
        if returns.is_some_and(|returns| returns != "void") && !doc.contains("@returns ") {
            missing.push(format!("{place}: no @returns"));
        }
    }
    missing
}

#[test]
fn every_declaration_is_documented_with_its_parameters_and_result() {
    let mut missing = Vec::new();
    let mut counted = 0;
    for file in DECLARATIONS {
        for declared in declarations(&client_file(file)) {
            counted += 1;
            missing.extend(undocumented(&declared).into_iter().map(|what| format!("{file}: {what}")));
        }
    }
    assert!(counted > 100, "only {counted} declarations read: the reader lost its way");
    assert!(missing.is_empty(), "undocumented:\n{}", missing.join("\n"));
}

/// The public methods and getters of the class `class` in a JavaScript file: members at the class body's indent
/// whose names start with neither `_` nor `#`.
fn public_members(source: &str, class: &str) -> Vec<String> {
    let start = format!("export class {class} ");
    let body = source.split_once(&start).map(|(_, body)| body).unwrap_or_else(|| panic!("no class {class}"));
    let mut members = Vec::new();
    for line in body.lines().skip(1) {
        if line.starts_with('}') {
            break;
        }
        let Some(member) = line.strip_prefix("  ") else { continue };
        if member.starts_with(' ') || !member.trim_end().ends_with(") {") {
            continue;
        }
        let member = ["static ", "get ", "async "].iter().fold(member, |m, prefix| m.strip_prefix(prefix).unwrap_or(m));
        let name = &member[..member.find('(').unwrap_or(0)];
        if !name.is_empty() && !name.starts_with(['_', '#']) && name != "constructor" {
            members.push(name.to_owned());
        }
    }
    members
}

#[test]
fn every_public_method_of_the_classes_and_the_vue_functions_is_declared() {
    let mut undeclared = Vec::new();
    for (js, class, types) in CLASSES {
        let declared: Vec<String> = declarations(&client_file(types))
            .iter()
            .filter(|declared| declared.within.as_deref() == Some(class))
            .map(|declared| name_of(&declared.text))
            .collect();
        let members = public_members(&client_file(js), class);
        assert!(!members.is_empty(), "{js}: no public member of {class} found: the reader lost its way");
        undeclared
            .extend(members.into_iter().filter(|member| !declared.contains(member)).map(|m| format!("{class}.{m}")));
    }
    let vue_declared: Vec<String> =
        declarations(&client_file("npm/vue.d.ts")).iter().map(|declared| name_of(&declared.text)).collect();
    for line in client_file("npm/vue.js").lines() {
        if let Some(function) = line.strip_prefix("export function ") {
            let name = &function[..function.find('(').unwrap_or(0)];
            if !vue_declared.iter().any(|declared| declared == name) {
                undeclared.push(format!("vue.{name}"));
            }
        }
    }
    assert!(undeclared.is_empty(), "not in the .d.ts: {undeclared:?}");
}

#[test]
fn the_reader_finds_what_is_missing() {
    let source = "export class A {\n  /** Does. */\n  go(fast: boolean, where?: string): number;\n  stop(): void;\n}\n";
    let missing: Vec<String> = declarations(source).iter().flat_map(undocumented).collect();
    assert_eq!(
        missing,
        [
            "A: no /** … */ above it",
            "A.go: no @param fast",
            "A.go: no @param where",
            "A.go: no @returns",
            "A.stop: no /** … */ above it"
        ]
    );
}
