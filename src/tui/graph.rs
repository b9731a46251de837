//! A state machine drawn as a graph: [`layout`] places any ASL definition's states on a
//! character grid (a small layered layout: ranks by longest path from `StartAt`, order
//! within a rank by barycentres to reduce crossings, Parallel branches and Map iterators as
//! sub-graphs side by side inside their box), and [`paint`] turns the placement into lines
//! of text plus the cell of each state, so the view can colour them. Both are pure.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum GraphError {
    #[error("the definition has no States object")]
    NoStates,
    #[error("StartAt names {0:?}, which is not one of the States")]
    BadStartAt(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeKind {
    Next,
    Catch,
    Choice,
    Default,
}

/// A placed state. `x`, `y`, `w`, `h` are in character cells, relative to the graph.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub name: String,
    pub kind: String,
    /// `End: true`, or a Succeed/Fail state.
    pub terminal: bool,
    pub rank: usize,
    pub x: u16,
    pub y: u16,
    pub w: u16,
    pub h: u16,
    /// Parallel branches (or a Map's iterator), drawn inside this box.
    pub children: Vec<Graph>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub kind: EdgeKind,
    pub label: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    pub w: u16,
    pub h: u16,
}

impl Graph {
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// Every state of the graph and its sub-graphs with its absolute box, in drawing order.
    pub fn all_boxes(&self) -> Vec<(&Node, u16, u16)> {
        let mut out = Vec::new();
        collect_boxes(self, 0, 0, &mut out);
        out
    }
}

fn collect_boxes<'a>(g: &'a Graph, ox: u16, oy: u16, out: &mut Vec<(&'a Node, u16, u16)>) {
    for n in &g.nodes {
        out.push((n, ox + n.x, oy + n.y));
        let mut cx = ox + n.x + 2;
        for child in &n.children {
            collect_boxes(child, cx, oy + n.y + 3, out);
            cx += child.w + 2;
        }
    }
}

/// Rows between ranks: one for the line out, one for the crossing, one for the arrow.
const GAP_Y: u16 = 3;
const GAP_X: u16 = 3;

/// Places the states of one `{StartAt, States}` object (a definition, a branch, an iterator).
pub fn layout(definition: &Value) -> Result<Graph, GraphError> {
    let states = definition.get("States").and_then(Value::as_object).ok_or(GraphError::NoStates)?;
    let start = definition.get("StartAt").and_then(Value::as_str).unwrap_or_default().to_string();
    if !states.contains_key(&start) {
        return Err(GraphError::BadStartAt(start));
    }
    let names: Vec<String> = states.keys().cloned().collect();
    let edges = edges_of(states);

    // Back edges (loops) found by a depth-first walk from StartAt, then from any state it
    // did not reach; the rest is a DAG, ranked by its longest path.
    let succ = |n: &str| edges.iter().filter(move |e| e.from == n).map(|e| e.to.clone()).collect::<Vec<_>>();
    let mut back: HashSet<(String, String)> = HashSet::new();
    let mut visited: HashSet<String> = HashSet::new();
    let mut order = Vec::new(); // post-order
    let roots = std::iter::once(start.clone()).chain(names.iter().cloned());
    for root in roots {
        if visited.contains(&root) {
            continue;
        }
        // Iterative DFS: (node, next child index), and the set of nodes on the stack.
        let mut stack: Vec<(String, usize)> = vec![(root.clone(), 0)];
        let mut on_stack: HashSet<String> = HashSet::from([root.clone()]);
        visited.insert(root);
        while let Some((node, i)) = stack.pop() {
            let children = succ(&node);
            if let Some(child) = children.get(i) {
                stack.push((node.clone(), i + 1));
                if on_stack.contains(child) {
                    back.insert((node.clone(), child.clone()));
                } else if !visited.contains(child) && states.contains_key(child) {
                    visited.insert(child.clone());
                    on_stack.insert(child.clone());
                    stack.push((child.clone(), 0));
                }
            } else {
                on_stack.remove(&node);
                order.push(node);
            }
        }
    }
    let mut rank: HashMap<String, usize> = names.iter().map(|n| (n.clone(), 0)).collect();
    for node in order.iter().rev() {
        let r = rank[node];
        for e in edges.iter().filter(|e| &e.from == node && !back.contains(&(e.from.clone(), e.to.clone()))) {
            if let Some(t) = rank.get_mut(&e.to) {
                *t = (*t).max(r + 1);
            }
        }
    }

    // Order within a rank: definition order first, then a few barycentre sweeps.
    let max_rank = rank.values().copied().max().unwrap_or(0);
    let mut layers: Vec<Vec<String>> = vec![Vec::new(); max_rank + 1];
    for n in &names {
        layers[rank[n]].push(n.clone());
    }
    let position = |layers: &Vec<Vec<String>>| -> HashMap<String, f64> {
        layers.iter().flat_map(|l| l.iter().enumerate().map(|(i, n)| (n.clone(), i as f64))).collect()
    };
    for _ in 0..4 {
        for r in 1..layers.len() {
            let pos = position(&layers);
            let mut keyed: Vec<(f64, String)> = layers[r]
                .iter()
                .map(|n| {
                    let preds: Vec<f64> =
                        edges.iter().filter(|e| &e.to == n && rank[&e.from] < r).map(|e| pos[&e.from]).collect();
                    let key = if preds.is_empty() { pos[n] } else { preds.iter().sum::<f64>() / preds.len() as f64 };
                    (key, n.clone())
                })
                .collect();
            keyed.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
            layers[r] = keyed.into_iter().map(|(_, n)| n).collect();
        }
    }

    // Sizes: a box fits its name and type; a Parallel or Map box fits its sub-graphs.
    let mut nodes: BTreeMap<String, Node> = BTreeMap::new();
    for n in &names {
        let state = &states[n];
        let kind = state.get("Type").and_then(Value::as_str).unwrap_or("?").to_string();
        let terminal =
            state.get("End").and_then(Value::as_bool).unwrap_or(false) || kind == "Succeed" || kind == "Fail";
        let mut children = Vec::new();
        if let Some(branches) = state.get("Branches").and_then(Value::as_array) {
            children = branches.iter().filter_map(|b| layout(b).ok()).collect();
        }
        if let Some(iterator) = state.get("ItemProcessor").or_else(|| state.get("Iterator")) {
            children.extend(layout(iterator).ok());
        }
        // Room for the name and for "Type · End".
        let label_w = n.chars().count().max(kind.chars().count() + 6) as u16 + 4;
        let (w, h) = if children.is_empty() {
            (label_w, 4)
        } else {
            let inner_w: u16 = children.iter().map(|c| c.w).sum::<u16>() + 2 * children.len() as u16;
            let inner_h = children.iter().map(|c| c.h).max().unwrap_or(0);
            (label_w.max(inner_w + 2), inner_h + 4)
        };
        nodes.insert(n.clone(), Node { name: n.clone(), kind, terminal, rank: rank[n], x: 0, y: 0, w, h, children });
    }

    // The labels of the edges coming down into a state are written after its arrowhead,
    // two cells right of its middle ("▼ PhotoDoesNotMeetRequirementError"), all on one line:
    // the room they take past the box's right side is kept free, so the next box's arrow
    // (or the graph's edge) does not cut them.
    let overhang_of = |n: &str| -> u16 {
        let labels: Vec<usize> = edges
            .iter()
            .filter(|e| e.to == n && rank[&e.to] > rank[&e.from])
            .filter_map(|e| e.label.as_ref().map(|l| l.chars().count()))
            .collect();
        if labels.is_empty() {
            return 0;
        }
        let text = labels.iter().sum::<usize>() + 3 * (labels.len() - 1);
        let w = nodes[n].w;
        (w / 2 + 2 + text as u16 + 1).saturating_sub(w)
    };
    let overhang: HashMap<String, u16> = names.iter().map(|n| (n.clone(), overhang_of(n))).collect();
    // Coordinates: ranks top to bottom, each rank centred on the widest.
    let widths: Vec<u16> = layers
        .iter()
        .map(|l| l.iter().map(|n| nodes[n].w + overhang[n]).sum::<u16>() + GAP_X * l.len().saturating_sub(1) as u16)
        .collect();
    let total_w = widths.iter().copied().max().unwrap_or(0);
    let mut y = 0;
    for (r, layer) in layers.iter().enumerate() {
        let mut x = (total_w - widths[r]) / 2;
        let row_h = layer.iter().map(|n| nodes[n].h).max().unwrap_or(0);
        for n in layer {
            let extra = overhang[n];
            if let Some(node) = nodes.get_mut(n) {
                node.x = x;
                node.y = y;
                x += node.w + extra + GAP_X;
            }
        }
        y += row_h + GAP_Y;
    }
    let has_back = !back.is_empty();
    // Edges that skip ranks go down a lane on the left, not through the boxes between.
    let has_long = edges.iter().any(|e| rank[&e.to] > rank[&e.from] + 1);
    let margin = if has_long { 2 } else { 0 };
    let mut ordered: Vec<Node> = layers.iter().flatten().filter_map(|n| nodes.remove(n)).collect();
    for node in &mut ordered {
        node.x += margin;
    }
    Ok(Graph {
        nodes: ordered,
        edges,
        // Loops go back up in a lane on the right.
        w: total_w + margin + if has_back { 4 } else { 0 },
        h: y.saturating_sub(GAP_Y) + if has_back { 2 } else { 0 },
    })
}

fn edges_of(states: &serde_json::Map<String, Value>) -> Vec<Edge> {
    let mut edges = Vec::new();
    let mut push = |from: &str, to: Option<&str>, kind, label: Option<String>| {
        if let Some(to) = to
            && states.contains_key(to)
        {
            edges.push(Edge { from: from.into(), to: to.into(), kind, label });
        }
    };
    for (name, state) in states {
        push(name, state.get("Next").and_then(Value::as_str), EdgeKind::Next, None);
        push(name, state.get("Default").and_then(Value::as_str), EdgeKind::Default, Some("default".into()));
        for choice in state.get("Choices").and_then(Value::as_array).into_iter().flatten() {
            push(name, choice.get("Next").and_then(Value::as_str), EdgeKind::Choice, choice_label(choice));
        }
        for catch in state.get("Catch").and_then(Value::as_array).into_iter().flatten() {
            let errors: Vec<&str> = catch
                .get("ErrorEquals")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            push(name, catch.get("Next").and_then(Value::as_str), EdgeKind::Catch, Some(errors.join(", ")));
        }
    }
    edges
}

/// A short label for a Choice rule: `$.x == "y"`, or just the variable.
fn choice_label(choice: &Value) -> Option<String> {
    let object = choice.as_object()?;
    let variable = object.get("Variable").and_then(Value::as_str).unwrap_or("");
    let test = object.iter().find(|(k, _)| !matches!(k.as_str(), "Variable" | "Next")).map(|(k, v)| match v {
        Value::String(s) => format!("{k} {s}"),
        Value::Array(a) => format!("{k}[{}]", a.len()),
        other => format!("{k} {other}"),
    });
    let text = format!("{variable} {}", test.unwrap_or_default()).trim().to_string();
    (!text.is_empty()).then_some(text)
}

/// A painted graph: lines of text and the absolute box of each state.
#[derive(Debug, Clone, PartialEq)]
pub struct Painted {
    pub lines: Vec<Vec<char>>,
    /// (state name, x, y, w, h)
    pub boxes: Vec<(String, u16, u16, u16, u16)>,
    /// Cells of edge labels, for colouring: (x, y, len, kind)
    pub labels: Vec<(u16, u16, u16, EdgeKind)>,
}

impl Painted {
    pub fn text(&self) -> String {
        self.lines.iter().map(|l| l.iter().collect::<String>().trim_end().to_string()).collect::<Vec<_>>().join("\n")
    }
}

/// Draws the graph on a character grid: edges first, boxes over them.
pub fn paint(graph: &Graph) -> Painted {
    let mut p = Painted {
        lines: vec![vec![' '; graph.w as usize + 1]; graph.h as usize + 1],
        boxes: Vec::new(),
        labels: Vec::new(),
    };
    paint_into(graph, 0, 0, &mut p);
    p
}

fn put(p: &mut Painted, x: u16, y: u16, c: char) {
    if let Some(cell) = p.lines.get_mut(y as usize).and_then(|l| l.get_mut(x as usize)) {
        *cell = merge(*cell, c);
    }
}

/// Where strokes meet, a junction rather than the last stroke.
fn merge(old: char, new: char) -> char {
    match (old, new) {
        (' ', c) => c,
        (a, b) if a == b => a,
        ('│', '─') | ('─', '│') | ('┼', _) | (_, '┼') => '┼',
        ('└' | '┘', '─') | ('─', '└' | '┘') => '┴',
        ('┌' | '┐', '─') | ('─', '┌' | '┐') => '┬',
        ('│', '└' | '┌') | ('└' | '┌', '│') => '├',
        ('│', '┘' | '┐') | ('┘' | '┐', '│') => '┤',
        ('┌', '┐') | ('┐', '┌') => '┬',
        ('└', '┘') | ('┘', '└') => '┴',
        (_, c) => c,
    }
}

/// Writes a label into blank cells only, stopping at the first drawn one.
fn label_at(p: &mut Painted, x: u16, y: u16, text: &str, kind: EdgeKind) {
    let mut n = 0;
    for (i, c) in text.chars().enumerate() {
        match p.lines.get_mut(y as usize).and_then(|l| l.get_mut(x as usize + i)) {
            Some(cell) if *cell == ' ' => {
                *cell = c;
                n += 1;
            }
            _ => break,
        }
    }
    if n > 0 {
        p.labels.push((x, y, n, kind));
    }
}

fn text_at(p: &mut Painted, x: u16, y: u16, text: &str, max: u16) {
    for (i, c) in text.chars().take(max as usize).enumerate() {
        if let Some(cell) = p.lines.get_mut(y as usize).and_then(|l| l.get_mut(x as usize + i)) {
            *cell = c;
        }
    }
}

fn paint_into(g: &Graph, ox: u16, oy: u16, p: &mut Painted) {
    let lane = ox + g.w.saturating_sub(2);
    // Labels go in after every line, so a line never cuts one; edges into one state share one.
    let mut labels: Vec<(u16, u16, String, EdgeKind)> = Vec::new();
    for (i, e) in g.edges.iter().enumerate() {
        let (Some(a), Some(b)) = (g.node(&e.from), g.node(&e.to)) else { continue };
        let ax = ox + a.x + a.w / 2 + (i as u16 % 3).min(a.w / 4);
        let bx = ox + b.x + b.w / 2;
        let (lx, ly) = if b.rank > a.rank + 1 {
            // Skips ranks: out of the bottom, left to the lane, down, across into the top.
            let y0 = oy + a.y + a.h;
            let y_cross = oy + b.y - 2;
            let left = ox;
            put(p, ax, y0, '┘');
            for x in left + 1..ax {
                put(p, x, y0, '─');
            }
            put(p, left, y0, '┌');
            for y in y0 + 1..y_cross {
                put(p, left, y, '│');
            }
            put(p, left, y_cross, '└');
            for x in left + 1..bx {
                put(p, x, y_cross, '─');
            }
            put(p, bx, y_cross, '┐');
            put(p, bx, y_cross + 1, '▼');
            (bx + 2, y_cross + 1)
        } else if b.rank > a.rank {
            // Down: out of the bottom, across in the gap above the target, into its top.
            let y0 = oy + a.y + a.h;
            let y_cross = oy + b.y - 2;
            for y in y0..y_cross {
                put(p, ax, y, '│');
            }
            if ax == bx {
                put(p, ax, y_cross, '│');
            } else {
                for x in ax.min(bx) + 1..ax.max(bx) {
                    put(p, x, y_cross, '─');
                }
                put(p, ax, y_cross, if ax < bx { '└' } else { '┘' });
                put(p, bx, y_cross, if ax < bx { '┐' } else { '┌' });
            }
            put(p, bx, y_cross + 1, '▼');
            (bx + 2, y_cross + 1)
        } else {
            // A loop (or a jump back up): out of the bottom, up the lane on the right, into
            // the target's right side.
            let y0 = oy + a.y + a.h;
            let yb = oy + b.y + 2;
            put(p, ax, y0, '└');
            for x in ax + 1..lane {
                put(p, x, y0, '─');
            }
            put(p, lane, y0, '┘');
            for y in yb + 1..y0 {
                put(p, lane, y, '│');
            }
            put(p, lane, yb, '┐');
            for x in ox + b.x + b.w + 1..lane {
                put(p, x, yb, '─');
            }
            put(p, ox + b.x + b.w, yb, '◀');
            (ox + b.x + b.w + 1, yb.saturating_sub(1))
        };
        if let Some(label) = &e.label {
            match labels.iter_mut().find(|(x, y, _, _)| (*x, *y) == (lx, ly)) {
                Some((_, _, text, _)) => {
                    text.push_str(" | ");
                    text.push_str(label);
                }
                None => labels.push((lx, ly, label.clone(), e.kind)),
            }
        }
    }
    for (x, y, text, kind) in labels {
        label_at(p, x, y, &text, kind);
    }
    for n in &g.nodes {
        let (x, y) = (ox + n.x, oy + n.y);
        let (w, h) = (n.w, n.h);
        let double = n.terminal;
        let (tl, tr, bl, br, hz, vt) = if double {
            ('╔', '╗', '╚', '╝', '═', '║')
        } else {
            ('┌', '┐', '└', '┘', '─', '│')
        };
        for yy in y..y + h {
            for xx in x..x + w {
                let c = match (yy == y, yy == y + h - 1, xx == x, xx == x + w - 1) {
                    (true, _, true, _) => tl,
                    (true, _, _, true) => tr,
                    (_, true, true, _) => bl,
                    (_, true, _, true) => br,
                    (true, _, _, _) | (_, true, _, _) => hz,
                    (_, _, true, _) | (_, _, _, true) => vt,
                    _ => ' ',
                };
                if let Some(cell) = p.lines.get_mut(yy as usize).and_then(|l| l.get_mut(xx as usize)) {
                    *cell = c;
                }
            }
        }
        text_at(p, x + 2, y + 1, &n.name, w.saturating_sub(4));
        let kind = if n.terminal && n.kind != "Succeed" && n.kind != "Fail" {
            format!("{} · End", n.kind)
        } else {
            n.kind.clone()
        };
        text_at(p, x + 2, y + 2, &kind, w.saturating_sub(4));
        p.boxes.push((n.name.clone(), x, y, w, h));
        let mut cx = x + 2;
        for child in &n.children {
            paint_into(child, cx, y + 3, p);
            cx += child.w + 2;
        }
    }
}

pub use crate::ops::history::StateRun;

/// One history event as the graph needs it: its type and the state it names, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct RunEvent {
    pub kind: String,
    pub state: Option<String>,
}

/// Folds an execution's events into each state's outcome, by the operations layer's rule
/// ([`crate::ops::history::states_at`] at the last event); an event that names no state
/// belongs to the state entered last.
pub fn state_runs(events: &[RunEvent]) -> HashMap<String, StateRun> {
    let mut rows: Vec<crate::ops::HistoryRow> = events
        .iter()
        .enumerate()
        .map(|(i, e)| crate::ops::HistoryRow {
            id: i as i64 + 1,
            previous: 0,
            kind: e.kind.clone(),
            state: String::new(),
            time: String::new(),
            elapsed_ms: 0,
            json: e.state.as_ref().map_or(Value::Null, |name| serde_json::json!({ "name": name })),
            function: None,
        })
        .collect();
    crate::ops::history::attribute_states(&mut rows);
    crate::ops::history::states_at(&rows, usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn machine(step: u8) -> Value {
        let path = format!("{}/statemachine/RiderPhotoProcessing-{step}.asl.json", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap()
    }

    fn no_boxes_overlap(g: &Graph) {
        for (i, a) in g.nodes.iter().enumerate() {
            for b in &g.nodes[i + 1..] {
                let apart = a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y;
                assert!(apart, "{} and {} overlap", a.name, b.name);
            }
        }
    }

    #[test]
    fn every_workshop_state_machine_lays_out_with_each_state_once_and_no_overlaps() {
        for step in 1..=4 {
            let def = machine(step);
            let g = layout(&def).unwrap();
            let states = def["States"].as_object().unwrap();
            assert_eq!(g.nodes.len(), states.len(), "step {step}");
            no_boxes_overlap(&g);
            let text = paint(&g).text();
            for name in states.keys() {
                assert!(text.contains(name.as_str()), "step {step}: {name} not drawn in\n{text}");
            }
        }
    }

    #[test]
    fn every_label_of_an_edge_coming_down_is_drawn_in_full() {
        for step in 1..=4 {
            let g = layout(&machine(step)).unwrap();
            let text = paint(&g).text();
            let forward = |e: &&Edge| g.node(&e.to).unwrap().rank > g.node(&e.from).unwrap().rank;
            for edge in g.edges.iter().filter(forward) {
                if let Some(label) = &edge.label {
                    assert!(text.contains(label.as_str()), "step {step}: {label} cut in\n{text}");
                }
            }
        }
    }

    #[test]
    fn the_full_workflow_ranks_follow_the_longest_path_and_parallel_branches_sit_side_by_side() {
        let g = layout(&machine(4)).unwrap();
        let rank = |n: &str| g.node(n).unwrap().rank;
        assert_eq!(rank("FaceDetection"), 0);
        assert_eq!(rank("CheckFaceDuplicate"), 1);
        assert_eq!(rank("ParallelProcessing"), 2);
        assert_eq!(rank("PersistMetadata"), 3);
        // Reached from FaceDetection and CheckFaceDuplicate: ranked below the later one.
        assert_eq!(rank("PhotoDoesNotMeetRequirement"), 2);
        let parallel = g.node("ParallelProcessing").unwrap();
        assert_eq!(parallel.children.len(), 2);
        let boxes = g.all_boxes();
        let (_, ix, iy) = boxes.iter().find(|(n, _, _)| n.name == "AddFaceToIndex").unwrap();
        let (_, tx, ty) = boxes.iter().find(|(n, _, _)| n.name == "Thumbnail").unwrap();
        assert_eq!(iy, ty, "branches start on one row");
        assert!(tx > ix, "the second branch is to the right of the first");
        assert!(*ix > parallel.x && *iy > parallel.y, "branches are inside the Parallel box");
        let catch = g.edges.iter().filter(|e| e.kind == EdgeKind::Catch).count();
        assert_eq!(catch, 2);
        let text = paint(&g).text();
        assert!(
            text.contains("▼ PhotoDoesNotMeetRequirementError | FaceAlreadyExistsError"),
            "catch labels drawn in full:\n{text}"
        );
        assert!(text.contains("Task · End"), "end states marked:\n{text}");
    }

    #[test]
    fn an_edge_that_skips_ranks_goes_round_the_boxes_between() {
        let g = layout(&machine(4)).unwrap();
        let painted = paint(&g);
        let check = g.node("CheckFaceDuplicate").unwrap();
        // Nothing is drawn between CheckFaceDuplicate's box and the lane on the left, on
        // its rows: the catch from FaceDetection goes down the lane.
        for y in check.y..check.y + check.h {
            assert_eq!(painted.lines[y as usize][0], '│', "the lane at row {y}:\n{}", painted.text());
        }
    }

    #[test]
    fn choice_loops_and_map_are_laid_out() {
        let def = json!({
            "StartAt": "Init",
            "States": {
                "Init": {"Type": "Pass", "Next": "Check"},
                "Check": {"Type": "Choice", "Choices": [
                    {"Variable": "$.n", "NumericLessThan": 3, "Next": "Work"},
                    {"Variable": "$.n", "NumericEquals": 99, "Next": "Boom"}
                ], "Default": "Each"},
                "Work": {"Type": "Task", "Resource": "arn:x", "Next": "Check"},
                "Each": {"Type": "Map", "ItemProcessor": {"StartAt": "One", "States": {"One": {"Type": "Pass", "End": true}}}, "Next": "Done"},
                "Boom": {"Type": "Fail", "Error": "E"},
                "Done": {"Type": "Succeed"}
            }
        });
        let g = layout(&def).unwrap();
        no_boxes_overlap(&g);
        assert!(g.node("Work").unwrap().rank > g.node("Check").unwrap().rank, "the loop back does not lift Work");
        assert_eq!(g.node("Each").unwrap().children.len(), 1);
        assert!(g.node("Boom").unwrap().terminal && g.node("Done").unwrap().terminal);
        let text = paint(&g).text();
        assert!(text.contains("◀"), "the loop is drawn back into Check:\n{text}");
        assert!(text.contains("default"), "{text}");
        assert!(text.contains("$.n"), "choice rules label their edges:\n{text}");
        assert!(text.contains("One"), "the Map's iterator is drawn inside it:\n{text}");
    }

    #[test]
    fn a_definition_without_states_or_with_a_bad_start_is_an_error() {
        assert_eq!(layout(&json!({"StartAt": "A"})), Err(GraphError::NoStates));
        assert_eq!(
            layout(&json!({"StartAt": "B", "States": {"A": {"Type": "Pass", "End": true}}})),
            Err(GraphError::BadStartAt("B".into()))
        );
    }

    fn ev(kind: &str, state: Option<&str>) -> RunEvent {
        RunEvent { kind: kind.into(), state: state.map(str::to_string) }
    }

    #[test]
    fn state_runs_tell_succeeded_failed_caught_and_running_apart() {
        let events = vec![
            ev("ExecutionStarted", None),
            ev("TaskStateEntered", Some("FaceDetection")),
            ev("LambdaFunctionScheduled", None),
            ev("LambdaFunctionFailed", None),
            ev("TaskStateEntered", Some("PhotoDoesNotMeetRequirement")),
            ev("LambdaFunctionScheduled", None),
        ];
        let runs = state_runs(&events);
        assert_eq!(runs["FaceDetection"], StateRun::Caught);
        assert_eq!(runs["PhotoDoesNotMeetRequirement"], StateRun::Running);
        assert!(!runs.contains_key("PersistMetadata"), "not reached");

        let mut done = events.clone();
        done.push(ev("LambdaFunctionSucceeded", None));
        done.push(ev("TaskStateExited", Some("PhotoDoesNotMeetRequirement")));
        done.push(ev("ExecutionSucceeded", None));
        assert_eq!(state_runs(&done)["PhotoDoesNotMeetRequirement"], StateRun::Succeeded);

        let failed = vec![
            ev("ExecutionStarted", None),
            ev("TaskStateEntered", Some("A")),
            ev("LambdaFunctionFailed", None),
            ev("ExecutionFailed", None),
        ];
        assert_eq!(state_runs(&failed)["A"], StateRun::Failed);

        let retried = vec![
            ev("TaskStateEntered", Some("A")),
            ev("LambdaFunctionFailed", None),
            ev("LambdaFunctionScheduled", None),
            ev("LambdaFunctionSucceeded", None),
            ev("TaskStateExited", Some("A")),
        ];
        assert_eq!(state_runs(&retried)["A"], StateRun::Succeeded);
    }
}
