//! The shape of `src/`, checked like any other behaviour:
//! - no import cycle between modules (a module is a file; the layers run
//!   storage → domain → services → GraphQL → app, and a cycle means two
//!   files can no longer be understood or changed one at a time);
//! - a file over [`FILE_MAX`] lines, or a function over [`FN_MAX`] lines,
//!   says why in a comment containing [`REASON`] (at the top of the file, or
//!   on the lines just above the function).
//!
//! The module graph reads `use crate::…`, inline `crate::…` and `super::…`
//! paths, resolved to the longest module prefix that is a file; a module's
//! unit tests (`#[cfg(test)] mod tests`) are left aside, and a child naming
//! its parent module itself (not an item in it) is no edge.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const FILE_MAX: usize = 500;
const FN_MAX: usize = 120;
/// What a comment says to allow a long file or function.
const REASON: &str = "Longer than usual:";

type Module = Vec<String>;

fn sources() -> Vec<(Module, PathBuf)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("src is readable") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&root, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let rel = path.strip_prefix(&root).expect("under src");
            let mut module: Module = rel
                .with_extension("")
                .iter()
                .map(|part| part.to_string_lossy().into_owned())
                .collect();
            if module.last().is_some_and(|last| last == "mod") {
                module.pop();
            }
            if module == ["lib"] || module == ["main"] {
                module.clear();
            }
            (module, path)
        })
        .collect()
}

/// The code of a file without its unit tests and line comments.
fn code_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("source is readable");
    let text = match text.find("#[cfg(test)]\nmod tests {") {
        Some(at) => &text[..at],
        None => &text[..],
    };
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Byte offsets where `word` starts as a whole word in `code`.
fn starts_of<'a>(code: &'a str, word: &'a str) -> impl Iterator<Item = usize> + 'a {
    code.match_indices(word).filter_map(move |(at, _)| {
        let before = code[..at].chars().next_back();
        (!before.is_some_and(is_word)).then_some(at)
    })
}

/// `a::b::c` at the start of `text` (words joined by `::`).
fn path_at(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut rest = text;
    loop {
        let end = rest.find(|c: char| !is_word(c)).unwrap_or(rest.len());
        if end == 0 {
            break;
        }
        parts.push(rest[..end].to_owned());
        match rest[end..].strip_prefix("::") {
            Some(next) if next.starts_with(is_word) => rest = next,
            _ => break,
        }
    }
    parts
}

/// The paths a use tree names: `a::{b, c::{d, e as f}}` → a::b, a::c::d, a::c::e.
fn expand(prefix: &[String], tree: &str, out: &mut Vec<Module>) {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let mut base = prefix.to_vec();
        base.extend(
            tree[..open]
                .split("::")
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned),
        );
        let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        let (mut depth, mut start) = (0, 0);
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(&base, &inner[start..i], out);
                    start = i + 1;
                }
                _ => {}
            }
        }
        expand(&base, &inner[start..], out);
    } else if !tree.is_empty() {
        let name = tree.split(" as ").next().unwrap_or(tree);
        let mut path = prefix.to_vec();
        path.extend(
            name.split("::")
                .map(str::trim)
                .filter(|p| !p.is_empty() && *p != "self")
                .map(str::to_owned),
        );
        out.push(path);
    }
}

fn module_graph() -> BTreeMap<Module, BTreeSet<Module>> {
    let files = sources();
    let known: BTreeSet<Module> = files.iter().map(|(m, _)| m.clone()).collect();
    let resolve = |path: &[String]| {
        (1..=path.len())
            .rev()
            .map(|n| path[..n].to_vec())
            .find(|prefix| known.contains(prefix))
    };
    let mut graph = BTreeMap::new();
    for (module, path) in &files {
        let code = code_of(path);
        let mut targets = Vec::new();
        for at in starts_of(&code, "use crate::") {
            let rest = &code[at + "use crate::".len()..];
            let end = rest.find(';').unwrap_or(rest.len());
            expand(&[], &rest[..end], &mut targets);
        }
        for at in starts_of(&code, "crate::") {
            targets.push(path_at(&code[at + "crate::".len()..]));
        }
        for at in starts_of(&code, "super::") {
            let mut target = module[..module.len().saturating_sub(1)].to_vec();
            target.extend(path_at(&code[at + "super::".len()..]));
            targets.push(target);
        }
        let mut edges = BTreeSet::new();
        for target in targets {
            let Some(found) = resolve(&target) else {
                continue;
            };
            let names_an_ancestor_itself = found.len() < module.len()
                && module.starts_with(&found)
                && target.len() == found.len();
            if &found != module && !names_an_ancestor_itself {
                edges.insert(found);
            }
        }
        graph.insert(module.clone(), edges);
    }
    graph
}

/// The groups of modules that reach each other (Kosaraju), larger than one.
fn cycles(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<String>> {
    fn visit<'a>(
        node: &'a Module,
        graph: &'a BTreeMap<Module, BTreeSet<Module>>,
        seen: &mut BTreeSet<&'a Module>,
        order: &mut Vec<&'a Module>,
    ) {
        if !seen.insert(node) {
            return;
        }
        for next in &graph[node] {
            visit(next, graph, seen, order);
        }
        order.push(node);
    }
    let mut reverse: BTreeMap<Module, BTreeSet<Module>> =
        graph.keys().map(|k| (k.clone(), BTreeSet::new())).collect();
    for (from, tos) in graph {
        for to in tos {
            reverse
                .get_mut(to)
                .expect("known module")
                .insert(from.clone());
        }
    }
    let (mut seen, mut order) = (BTreeSet::new(), Vec::new());
    for node in graph.keys() {
        visit(node, graph, &mut seen, &mut order);
    }
    let mut assigned = BTreeSet::new();
    let mut groups = Vec::new();
    for node in order.into_iter().rev() {
        let mut group = Vec::new();
        visit(node, &reverse, &mut assigned, &mut group);
        if group.len() > 1 {
            let mut names: Vec<String> = group.iter().map(|m| name(m)).collect();
            names.sort();
            groups.push(names);
        }
    }
    groups
}

fn name(module: &Module) -> String {
    if module.is_empty() {
        "crate".to_owned()
    } else {
        module.join("::")
    }
}

#[test]
fn no_import_cycle_between_modules() {
    let graph = module_graph();
    assert!(graph.len() > 50, "the walk found src: {}", graph.len());
    let found = cycles(&graph);
    assert!(
        found.is_empty(),
        "modules that import each other (make the dependency point one way): {}",
        found
            .iter()
            .map(|group| group.join(" <-> "))
            .collect::<Vec<_>>()
            .join("; ")
    );
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    let module = |name: &str| -> Module { name.split("::").map(str::to_owned).collect() };
    let mut graph = BTreeMap::new();
    graph.insert(module("a"), BTreeSet::from([module("b")]));
    graph.insert(module("b"), BTreeSet::from([module("c")]));
    graph.insert(module("c"), BTreeSet::from([module("a")]));
    graph.insert(module("d"), BTreeSet::from([module("a")]));
    assert_eq!(cycles(&graph), vec![vec!["a", "b", "c"]]);
    let mut paths = Vec::new();
    expand(&[], "x::{y, z::{w as v, self}}", &mut paths);
    assert_eq!(
        paths,
        vec![module("x::y"), module("x::z::w"), module("x::z")]
    );
}

/// Functions of `text` longer than [`FN_MAX`] lines without a reason: (line, name, length).
fn long_functions(text: &str) -> Vec<(usize, String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let Some(after) = ["pub(crate) ", "pub(super) ", "pub "]
            .iter()
            .find_map(|v| trimmed.strip_prefix(v))
            .or(Some(trimmed))
            .map(|t| t.trim_start_matches("const ").trim_start_matches("async "))
            .map(|t| t.trim_start_matches("unsafe "))
            .and_then(|t| t.strip_prefix("fn "))
        else {
            continue;
        };
        let name = path_at(after).join("::");
        // The signature ends at the first line ending in `{` (a body) or `;`.
        let Some(open) = (i..lines.len()).find(|&j| {
            let l = lines[j].trim_end();
            l.ends_with('{') || l.ends_with(';') || l.ends_with('}')
        }) else {
            continue;
        };
        if !lines[open].trim_end().ends_with('{') {
            continue;
        }
        let close = (open + 1..lines.len()).find(|&j| {
            let l = lines[j];
            l.len() - l.trim_start().len() == indent && l.trim_start().starts_with('}')
        });
        let Some(close) = close else { continue };
        let length = close - i + 1;
        let reasoned = lines[i.saturating_sub(3)..i]
            .iter()
            .any(|l| l.contains(REASON));
        if length > FN_MAX && !reasoned {
            found.push((i + 1, name, length));
        }
    }
    found
}

#[test]
fn long_files_and_functions_say_why() {
    let mut problems = Vec::new();
    for (_, path) in sources() {
        let text = std::fs::read_to_string(&path).expect("source is readable");
        let shown = path
            .strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .unwrap_or(&path)
            .display()
            .to_string();
        let lines = text.lines().count();
        let top: String = text.lines().take(12).collect::<Vec<_>>().join("\n");
        if lines > FILE_MAX && !top.contains(REASON) {
            problems.push(format!(
                "{shown}: {lines} lines (over {FILE_MAX}) and no `{REASON}` at its top"
            ));
        }
        for (line, name, length) in long_functions(&text) {
            problems.push(format!(
                "{shown}:{line}: fn {name} is {length} lines (over {FN_MAX}) and no `{REASON}` above it"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_length_check_measures_functions() {
    let long = format!(
        "fn short() {{ 1 }}\n\npub async fn long(\n    a: u8,\n) -> u8 {{\n{}    a\n}}\n",
        "    let _ = 1;\n".repeat(FN_MAX)
    );
    let found = long_functions(&long);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].1, "long");
    assert_eq!(found[0].2, FN_MAX + 5);
    let excused = format!("// {REASON} a table of cases.\n{long}");
    assert!(long_functions(&excused).is_empty());
}
