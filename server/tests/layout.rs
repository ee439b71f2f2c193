//! The relay's top-level modules (`server/src/X.rs` or `server/src/X/`) import one another
//! without cycles: every `crate::X` in `server/src/**/*.rs` is an edge from the module the
//! file belongs to, and no module reaches itself again. A cycle means two modules can
//! only be understood (and changed) together; the failure prints it.
#![allow(clippy::unwrap_used, clippy::panic, reason = "test helpers fail the test by panicking")]

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

#[test]
fn top_level_modules_import_one_another_without_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = imports(&src);
    assert!(graph.len() > 10, "too few modules found under {}: {graph:?}", src.display());
    let cycles: BTreeSet<Vec<String>> =
        graph.iter().flat_map(|(from, tos)| tos.iter().filter_map(|to| cycle_through(&graph, from, to))).collect();
    let shown: Vec<String> = cycles.iter().map(|cycle| cycle.join(" -> ")).collect();
    assert!(
        shown.is_empty(),
        "import cycles between the relay's top-level modules (each `crate::X` in a file of module Y is Y -> X):\n  {}\n\
         Move what both sides need into a module of its own that neither cycle member imports back.",
        shown.join("\n  ")
    );
}

/// The top-level modules `lib.rs` declares, and for each the others it names.
fn imports(src: &Path) -> Graph {
    let lib = read(&src.join("lib.rs"));
    let modules: BTreeSet<String> = lib
        .lines()
        .filter_map(|line| line.trim().strip_prefix("pub mod ").or_else(|| line.trim().strip_prefix("mod ")))
        .map(|rest| rest.trim_end_matches(';').trim().to_owned())
        .collect();
    let mut graph = Graph::new();
    for module in &modules {
        let mut used = BTreeSet::new();
        for file in files_of(src, module) {
            used.extend(crate_paths(&read(&file)).into_iter().filter(|name| modules.contains(name) && name != module));
        }
        graph.insert(module.clone(), used);
    }
    graph
}

/// `src/<module>.rs` and every `.rs` file under `src/<module>/`.
fn files_of(src: &Path, module: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = Some(src.join(format!("{module}.rs"))).filter(|f| f.is_file()).into_iter().collect();
    let mut dirs = vec![src.join(module)];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for path in entries.map(|entry| entry.unwrap().path()) {
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                files.push(path);
            }
        }
    }
    files
}

/// The first names after `crate::` in code (comment lines skipped): `crate::relay::Relay`
/// gives `relay`; `crate::{auth, store::{A, B}}` gives `auth` and `store`.
fn crate_paths(text: &str) -> BTreeSet<String> {
    let code: String = text.lines().filter(|line| !line.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
    let ident = |s: &str| s.trim_start().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
    let mut names = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        let Some(group) = rest.strip_prefix('{') else {
            names.insert(ident(rest));
            continue;
        };
        // Each item of the group at its own depth: after the `{` and after every `,`.
        names.insert(ident(group));
        let mut depth = 1;
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 1 => break,
                '}' => depth -= 1,
                ',' if depth == 1 => {
                    names.insert(ident(&group[i + 1..]));
                }
                _ => {}
            }
        }
    }
    names.remove("");
    names
}

/// The shortest cycle that takes the edge `from -> to`, if `to` leads back to `from`.
fn cycle_through(graph: &Graph, from: &str, to: &str) -> Option<Vec<String>> {
    let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = VecDeque::from([to]);
    while let Some(at) = queue.pop_front() {
        if at == from {
            let mut path = vec![from.to_owned()];
            let mut step = from;
            while step != to {
                step = came_from[step];
                path.push(step.to_owned());
            }
            path.push(from.to_owned());
            path.reverse();
            return Some(rotate_to_smallest(path));
        }
        for next in graph.get(at).into_iter().flatten() {
            if next != to && !came_from.contains_key(next.as_str()) {
                came_from.insert(next, at);
                queue.push_back(next);
            }
        }
    }
    None
}

/// The same cycle always printed alike: starting at its alphabetically first module.
fn rotate_to_smallest(mut cycle: Vec<String>) -> Vec<String> {
    cycle.pop();
    let first = cycle.iter().enumerate().min_by_key(|(_, name)| name.as_str()).map_or(0, |(i, _)| i);
    cycle.rotate_left(first);
    cycle.push(cycle[0].clone());
    cycle
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

#[test]
fn the_check_finds_a_cycle_and_names_its_modules() {
    let graph: Graph = [("app", vec!["sync"]), ("sync", vec!["http", "app"]), ("http", vec![])]
        .into_iter()
        .map(|(from, tos)| (from.to_owned(), tos.into_iter().map(str::to_owned).collect()))
        .collect();
    assert_eq!(cycle_through(&graph, "sync", "app"), Some(vec!["app".to_owned(), "sync".to_owned(), "app".to_owned()]));
    assert_eq!(cycle_through(&graph, "sync", "http"), None);
    assert_eq!(
        crate_paths(
            "use crate::{\n    auth,\n    store::{A, B},\n    sync::X,\n};\n// crate::gone\nlet x = crate::relay::Relay::new();"
        ),
        BTreeSet::from(["auth".to_owned(), "relay".to_owned(), "store".to_owned(), "sync".to_owned()])
    );
}
