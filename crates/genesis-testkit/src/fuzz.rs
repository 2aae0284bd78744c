//! Structure-aware changes for the property tests of parsers of untrusted input: start from a
//! real document, then change one node (replace it with another value, or remove it) or
//! damage its bytes, and check that the parser still answers cleanly.

use base64::Engine as _;
use proptest::prelude::*;
use serde_json::Value;

/// A JSON value of any kind, as a hostile document may hold where another was expected:
/// every scalar type, base64 text, and small arrays and objects of them.
pub fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        r"\PC{0,24}".prop_map(Value::from),
        prop::collection::vec(any::<u8>(), 0..96)
            .prop_map(|bytes| Value::from(base64::engine::general_purpose::STANDARD.encode(bytes))),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,8}", inner, 0..4)
                .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

/// One change to a document: the node at a position (in document order, modulo the number
/// of nodes) replaced by another value, or removed from its parent.
#[derive(Debug, Clone)]
pub enum Edit {
    /// Put this value there.
    Replace(prop::sample::Index, Value),
    /// Remove the node (a field, or an item of an array).
    Remove(prop::sample::Index),
}

/// Any [`Edit`], replacements three times as often as removals.
pub fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        3 => (any::<prop::sample::Index>(), json_value()).prop_map(|(at, value)| Edit::Replace(at, value)),
        1 => any::<prop::sample::Index>().prop_map(Edit::Remove),
    ]
}

impl Edit {
    /// Applies the edit to `doc` and returns the JSON pointer of the node it changed (empty
    /// when the document has no node below its root).
    pub fn apply(&self, doc: &mut Value) -> String {
        let nodes = pointers(doc);
        let at = match self {
            Edit::Replace(at, _) | Edit::Remove(at) => at,
        };
        let Some(pointer) = (!nodes.is_empty()).then(|| nodes[at.index(nodes.len())].clone()) else {
            return String::new();
        };
        match self {
            Edit::Replace(_, value) => *doc.pointer_mut(&pointer).expect("a node of the document") = value.clone(),
            Edit::Remove(_) => remove(doc, &pointer),
        }
        pointer
    }
}

/// The JSON pointer of every node below the root, in document order.
fn pointers(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![(String::new(), doc)];
    while let Some((here, node)) = stack.pop() {
        match node {
            Value::Array(items) => {
                stack.extend(items.iter().enumerate().rev().map(|(i, item)| (format!("{here}/{i}"), item)));
            }
            Value::Object(fields) => stack.extend(
                fields
                    .iter()
                    .rev()
                    .map(|(k, item)| (format!("{here}/{}", k.replace('~', "~0").replace('/', "~1")), item)),
            ),
            _ => {}
        }
        if !here.is_empty() {
            out.push(here);
        }
    }
    out
}

fn remove(doc: &mut Value, pointer: &str) {
    let (parent, last) = pointer.rsplit_once('/').expect("a pointer below the root");
    let key = last.replace("~1", "/").replace("~0", "~");
    match doc.pointer_mut(parent) {
        Some(Value::Object(fields)) => {
            fields.remove(&key);
        }
        Some(Value::Array(items)) => {
            if let Some(i) = key.parse::<usize>().ok().filter(|i| *i < items.len()) {
                items.remove(i);
            }
        }
        _ => {}
    }
}

/// `bytes` with one to four bytes overwritten or inserted, then maybe cut short: what a
/// transfer, a disk or an attacker does to a file.
pub fn damaged(bytes: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let edits = prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), any::<bool>()), 1..5);
    (edits, proptest::option::of(any::<prop::sample::Index>())).prop_map(move |(edits, cut)| {
        let mut out = bytes.clone();
        for (at, byte, insert) in edits {
            let i = at.index(out.len() + 1);
            if insert || i == out.len() {
                out.insert(i, byte);
            } else {
                out[i] = byte;
            }
        }
        if let Some(at) = cut {
            out.truncate(at.index(out.len() + 1));
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_reach_every_node_and_remove_fields_and_items() {
        let doc = serde_json::json!({"a": [1, {"b/c": 2}], "d": "e"});
        assert_eq!(pointers(&doc), ["/a", "/a/0", "/a/1", "/a/1/b~1c", "/d"]);
        let mut removed = doc.clone();
        remove(&mut removed, "/a/1/b~1c");
        remove(&mut removed, "/a/0");
        assert_eq!(removed, serde_json::json!({"a": [{}], "d": "e"}));
    }
}
